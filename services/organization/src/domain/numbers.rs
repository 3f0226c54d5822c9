//! What a worker's personal numbers must look like, and how they are shown to callers who need
//! not see them, without I/O.

/// "13812345678" → "138****5678"; short numbers keep only their last two digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 7 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = chars.len().min(2);
        let tail: String = chars[chars.len() - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(chars.len() - keep))
    }
}

/// A resident ID number: 18 characters, digits with a final digit or X (or 15 digits, old style).
pub fn valid_id_number(id: &str) -> bool {
    let b = id.as_bytes();
    (b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x'))
        || (b.len() == 15 && b.iter().all(u8::is_ascii_digit))
}

/// "510181199001011234" → "5101**********1234".
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// A phone number: digits with an optional leading '+', 5 to 20 of them.
pub fn valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (5..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_are_checked_and_masked() {
        assert!(valid_id_number("51018119900101123X"));
        assert!(!valid_id_number("5101811990010112"));
        assert_eq!(mask_id_number("510181199001011234"), "5101**********1234");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12345"), "***45");
        assert!(valid_phone("+8613812345678"));
        assert!(!valid_phone("138-1234"));
    }
}
