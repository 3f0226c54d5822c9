//! The subject common name of an X.509 certificate (DER), enough to bind a grid platform's token
//! to the client certificate it connected with. The TLS layer has already verified the chain
//! against the configured CA; this only reads `tbsCertificate.subject`'s CN (OID 2.5.4.3).

/// One DER element: (tag, content, rest).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The subject CN of a DER certificate, when it has one.
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, validity, then subject.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, subject, _) = element(rest)? else {
        return None;
    };
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (tag, rdn, next) = element(rdns)?;
        rdns = next;
        if tag != SET {
            return None;
        }
        let (SEQUENCE, attribute, _) = element(rdn)? else {
            continue;
        };
        let (OID, oid, value) = element(attribute)? else {
            continue;
        };
        if oid == COMMON_NAME {
            let (_, text, _) = element(value)?;
            return String::from_utf8(text.to_vec()).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of a length-prefixed element.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn name(pairs: &[(&[u8], &str)]) -> Vec<u8> {
        let rdns: Vec<u8> = pairs
            .iter()
            .flat_map(|(oid, v)| {
                tlv(
                    SET,
                    &tlv(SEQUENCE, &[tlv(OID, oid), tlv(0x0c, v.as_bytes())].concat()),
                )
            })
            .collect();
        tlv(SEQUENCE, &rdns)
    }

    fn certificate(subject: &[u8]) -> Vec<u8> {
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1; 20]),
            tlv(SEQUENCE, &tlv(OID, &[0x2a, 0x86, 0x48])),
            name(&[(COMMON_NAME, "Red Supply test CA")]),
            tlv(SEQUENCE, &[0u8; 200]),
            subject.to_vec(),
        ]
        .concat();
        tlv(
            SEQUENCE,
            &[tlv(SEQUENCE, &tbs), tlv(SEQUENCE, &[]), tlv(0x03, &[0])].concat(),
        )
    }

    #[test]
    fn the_subject_cn_is_read_past_the_issuer_and_other_attributes() {
        let subject = name(&[
            (&[0x55, 0x04, 0x0a], "Leshan City"),
            (COMMON_NAME, "leshan-grid"),
        ]);
        assert_eq!(
            subject_common_name(&certificate(&subject)).as_deref(),
            Some("leshan-grid")
        );
        let no_cn = name(&[(&[0x55, 0x04, 0x0a], "Leshan City")]);
        assert_eq!(subject_common_name(&certificate(&no_cn)), None);
        assert_eq!(subject_common_name(&[0x30, 0x05, 0x01]), None, "truncated");
    }
}
