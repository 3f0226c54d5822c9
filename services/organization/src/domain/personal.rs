//! Personal data at rest: phone and ID numbers are encrypted (XChaCha20-Poly1305, a random nonce
//! per value) with a key from settings, and kept beside a keyed hash (HMAC-SHA256) for exact
//! lookup. A database dump shows neither in clear; only this service, holding the key, reads them.
//! Both keys derive from one configured master key. Sealed values carry the id of the key that
//! sealed them, so the master key can rotate: the new key seals, the previous ones still open,
//! and `redsupply personal-data reseal` moves every stored value (and lookup hash) to the new key.

use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error("organization.personal_data_key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error(
        "organization.previous_personal_data_keys: each must be 64 hex characters (32 bytes) and differ from the current key"
    )]
    BadPreviousKey,
    #[error("a stored value does not decrypt with the configured keys")]
    Undecryptable,
}

/// What a sealed value starts with since keys rotate: `RS`, format 1, then the sealing key's id.
const MAGIC: [u8; 3] = [b'R', b'S', 1];
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;

/// One master key's two derived keys and the id sealed values carry.
#[derive(Clone)]
struct Keys {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
    hash_key: [u8; 32],
}

impl Keys {
    fn from_hex(master_hex: &str) -> Option<Self> {
        let master = hex::decode(master_hex.trim()).ok()?;
        if master.len() != 32 {
            return None;
        }
        let enc = derive(&master, b"redsupply/personal-data/encryption");
        let id = derive(&master, b"redsupply/personal-data/key-id");
        Some(Self {
            id: id[..KEY_ID_LEN].try_into().expect("4 of 32 bytes"),
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&enc)),
            hash_key: derive(&master, b"redsupply/personal-data/lookup"),
        })
    }

    fn decrypt(&self, nonce_and_ct: &[u8]) -> Option<Vec<u8>> {
        if nonce_and_ct.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = nonce_and_ct.split_at(NONCE_LEN);
        self.cipher.decrypt(XNonce::from_slice(nonce), ct).ok()
    }

    fn lookup_hash(&self, value: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key).expect("any key length");
        mac.update(value.trim().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The current key seals and hashes; previous keys (during a rotation) only open what they
/// sealed and match what they hashed, until `redsupply personal-data reseal` has moved every
/// value to the current key.
#[derive(Clone)]
pub struct Vault {
    current: Keys,
    previous: Vec<Keys>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(***)")
    }
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Vault {
    pub fn from_hex(master_hex: &str) -> Result<Self, PersonalDataError> {
        Self::with_previous(master_hex, &[])
    }

    /// The current master key and the ones it replaces (newest first).
    pub fn with_previous(
        master_hex: &str,
        previous_hex: &[&str],
    ) -> Result<Self, PersonalDataError> {
        let current = Keys::from_hex(master_hex).ok_or(PersonalDataError::BadKey)?;
        let previous = previous_hex
            .iter()
            .map(|k| {
                Keys::from_hex(k)
                    .filter(|p| p.id != current.id)
                    .ok_or(PersonalDataError::BadPreviousKey)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { current, previous })
    }

    /// Every configured key, the current one first.
    fn keys(&self) -> impl Iterator<Item = &Keys> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// MAGIC || key id (4 bytes) || nonce (24 bytes) || ciphertext.
    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        self.seal_bytes(plaintext.as_bytes())
    }

    /// [`Vault::seal`] for bytes that are not text (an encoded record).
    pub fn seal_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let ct = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .expect("encryption of a short value cannot fail");
        let mut out = Vec::with_capacity(MAGIC.len() + KEY_ID_LEN + NONCE_LEN + ct.len());
        out.extend(MAGIC);
        out.extend(self.current.id);
        out.extend(nonce);
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, PersonalDataError> {
        String::from_utf8(self.open_bytes(sealed)?).map_err(|_| PersonalDataError::Undecryptable)
    }

    /// What [`Vault::seal_bytes`] sealed, with whichever configured key sealed it; values sealed
    /// before keys carried an id (nonce || ciphertext) are tried with each key.
    pub fn open_bytes(&self, sealed: &[u8]) -> Result<Vec<u8>, PersonalDataError> {
        if let Some(rest) = sealed.strip_prefix(&MAGIC)
            && rest.len() >= KEY_ID_LEN
        {
            let (id, body) = rest.split_at(KEY_ID_LEN);
            // Two keys may share an id (4 bytes): try each that has it.
            if let Some(plain) = self
                .keys()
                .filter(|k| k.id == id)
                .find_map(|k| k.decrypt(body))
            {
                return Ok(plain);
            }
        }
        self.keys()
            .find_map(|k| k.decrypt(sealed))
            .ok_or(PersonalDataError::Undecryptable)
    }

    /// Whether `sealed` is already sealed with the current key (a re-seal leaves it).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed
            .strip_prefix(&MAGIC)
            .is_some_and(|rest| rest.starts_with(&self.current.id))
    }

    /// The lookup hash of a normalized value (exact match only), with the current key: what is
    /// stored.
    pub fn lookup_hash(&self, value: &str) -> Vec<u8> {
        self.current.lookup_hash(value)
    }

    /// The value's lookup hash under every configured key (current first): what a stored hash
    /// may be while a rotation is under way.
    pub fn lookup_hashes(&self, value: &str) -> Vec<Vec<u8>> {
        self.keys().map(|k| k.lookup_hash(value)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_and_never_show_the_plaintext() {
        let v = Vault::from_hex(KEY).unwrap();
        let a = v.seal("13812345678");
        let b = v.seal("13812345678");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.windows(11).any(|w| w == b"13812345678"));
        assert_eq!(v.open(&a).unwrap(), "13812345678");
        let other = Vault::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&a).is_err(), "another key cannot read it");
    }

    #[test]
    fn lookup_hashes_match_exactly_and_depend_on_the_key() {
        let v = Vault::from_hex(KEY).unwrap();
        assert_eq!(v.lookup_hash("13812345678"), v.lookup_hash(" 13812345678 "));
        assert_ne!(v.lookup_hash("13812345678"), v.lookup_hash("13812345679"));
        let other = Vault::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert_ne!(
            v.lookup_hash("13812345678"),
            other.lookup_hash("13812345678")
        );
        assert!(Vault::from_hex("abc").is_err());
    }

    const NEW: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    /// A value sealed before keys carried an id: nonce || ciphertext under the old key.
    fn legacy_seal(master: &str, plaintext: &str) -> Vec<u8> {
        let keys = Keys::from_hex(master).unwrap();
        let nonce = [7u8; NONCE_LEN];
        let mut out = nonce.to_vec();
        out.extend(
            keys.cipher
                .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
                .unwrap(),
        );
        out
    }

    #[test]
    fn after_a_rotation_the_new_key_seals_and_the_previous_one_still_opens() {
        let old = Vault::from_hex(KEY).unwrap();
        let sealed_before = old.seal("13812345678");
        let legacy = legacy_seal(KEY, "13900000000");
        assert!(old.is_current(&sealed_before));
        assert!(
            !old.is_current(&legacy),
            "a value without a key id is not current"
        );
        assert_eq!(old.open(&legacy).unwrap(), "13900000000");

        let rotated = Vault::with_previous(NEW, &[KEY]).unwrap();
        assert!(!rotated.is_current(&sealed_before));
        assert_eq!(rotated.open(&sealed_before).unwrap(), "13812345678");
        assert_eq!(rotated.open(&legacy).unwrap(), "13900000000");
        let sealed_after = rotated.seal("13812345678");
        assert!(rotated.is_current(&sealed_after));
        assert_eq!(
            rotated.lookup_hashes("13812345678"),
            [
                rotated.lookup_hash("13812345678"),
                old.lookup_hash("13812345678")
            ],
            "lookups match hashes of either key while the rotation runs"
        );

        let new_only = Vault::from_hex(NEW).unwrap();
        assert_eq!(new_only.open(&sealed_after).unwrap(), "13812345678");
        assert!(
            new_only.open(&sealed_before).is_err(),
            "once the previous key is gone, what it sealed is unreadable: reseal first"
        );
        assert!(
            Vault::with_previous(NEW, &[NEW]).is_err(),
            "the same key twice"
        );
        assert!(Vault::with_previous(NEW, &["abc"]).is_err());
    }
}
