//! Personal data at rest: phone and ID numbers are encrypted (XChaCha20-Poly1305, a random nonce
//! per value) with a key from settings, and kept beside a keyed hash (HMAC-SHA256) for exact
//! lookup. A database dump shows neither in clear; only this service, holding the key, reads them.
//! Both keys derive from one configured master key.

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
    #[error("a stored value does not decrypt with the configured key")]
    Undecryptable,
}

#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
    hash_key: [u8; 32],
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
        let master = hex::decode(master_hex.trim()).map_err(|_| PersonalDataError::BadKey)?;
        if master.len() != 32 {
            return Err(PersonalDataError::BadKey);
        }
        let enc = derive(&master, b"redsupply/personal-data/encryption");
        Ok(Self {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&enc)),
            hash_key: derive(&master, b"redsupply/personal-data/lookup"),
        })
    }

    /// nonce (24 bytes) || ciphertext.
    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        self.seal_bytes(plaintext.as_bytes())
    }

    /// [`Vault::seal`] for bytes that are not text (an encoded record).
    pub fn seal_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .expect("encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, PersonalDataError> {
        String::from_utf8(self.open_bytes(sealed)?).map_err(|_| PersonalDataError::Undecryptable)
    }

    /// What [`Vault::seal_bytes`] sealed.
    pub fn open_bytes(&self, sealed: &[u8]) -> Result<Vec<u8>, PersonalDataError> {
        if sealed.len() < 24 {
            return Err(PersonalDataError::Undecryptable);
        }
        let (nonce, ct) = sealed.split_at(24);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| PersonalDataError::Undecryptable)
    }

    /// The lookup hash of a normalized value (exact match only).
    pub fn lookup_hash(&self, value: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key).expect("any key length");
        mac.update(value.trim().as_bytes());
        mac.finalize().into_bytes().to_vec()
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
}
