//! Commercial cryptography (商用密码): SM3 hashing, HMAC-SM3 blind indexes and
//! SM4-GCM encryption of personal data at rest, plus on-screen masking.
//!
//! Ciphertext layout: `version (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)`.
//! The key version selects the key, so keys can be rotated while old rows stay readable.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{AesGcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sm3::{Digest, Sm3};
use std::collections::BTreeMap;

type Sm4Gcm = AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;
type HmacSm3 = Hmac<Sm3>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("ciphertext too short")]
    Short,
    #[error("no key for version {0}")]
    UnknownKey(u8),
    #[error("ciphertext failed authentication (tampered or wrong key)")]
    Tampered,
    #[error("decrypted value is not UTF-8")]
    Utf8,
}

pub fn parse_key(hex_key: &str) -> Result<[u8; 16], String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| "key must be hex".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "key must be 16 bytes (32 hex digits)".to_string())
}

pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(Sm3::digest(data))
}

pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
    let mut mac = match <HmacSm3 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    panic!("HMAC accepts keys of every length")
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// The keys of this installation.
#[derive(Clone)]
pub struct Vault {
    current: u8,
    keys: BTreeMap<u8, [u8; 16]>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(current_version: u8, current: [u8; 16], old: BTreeMap<u8, [u8; 16]>) -> Self {
        let mut keys = old;
        keys.insert(current_version, current);
        // The blind-index key is derived from the first key ever used (lowest version) so that
        // rotation does not change index values.
        let base = keys.values().next().copied().unwrap_or(current);
        let index_key = hmac_sm3(&base, b"dangjian blind index v1");
        Self {
            current: current_version,
            keys,
            index_key,
        }
    }

    /// The audit chain's HMAC key, derived like the blind-index key from the first key ever
    /// used, so rotation keeps the chain verifiable.
    pub fn chain_key(&self) -> [u8; 32] {
        let base = self.keys.values().next().copied().unwrap_or([0; 16]);
        hmac_sm3(&base, b"dangjian audit chain v1")
    }

    pub fn key_version(&self) -> u8 {
        self.current
    }

    pub fn encrypt(&self, plain: &str) -> Vec<u8> {
        self.encrypt_bytes(plain.as_bytes())
    }

    /// SM4-GCM over any bytes (documents); same layout as [`Vault::encrypt`].
    pub fn encrypt_bytes(&self, plain: &[u8]) -> Vec<u8> {
        let key = self.keys.get(&self.current).copied().unwrap_or([0; 16]);
        let cipher = Sm4Gcm::new(&key.into());
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ct = match cipher.encrypt(nonce, plain) {
            Ok(ct) => ct,
            Err(_) => panic!("SM4-GCM encryption of an in-memory buffer cannot fail"),
        };
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(self.current);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    pub fn decrypt(&self, data: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt_bytes(data)?).map_err(|_| CryptoError::Utf8)
    }

    pub fn decrypt_bytes(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < 1 + 12 + 16 {
            return Err(CryptoError::Short);
        }
        let version = data[0];
        let key = self
            .keys
            .get(&version)
            .ok_or(CryptoError::UnknownKey(version))?;
        let cipher = Sm4Gcm::new(&(*key).into());
        let plain = cipher
            .decrypt(Nonce::from_slice(&data[1..13]), &data[13..])
            .map_err(|_| CryptoError::Tampered)?;
        Ok(plain)
    }

    /// Keyed blind index for exact search: HMAC-SM3 over the normalised value.
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let norm = value.trim().to_ascii_uppercase();
        let mut data = Vec::with_capacity(kind.len() + 1 + norm.len());
        data.extend_from_slice(kind.as_bytes());
        data.push(0);
        data.extend_from_slice(norm.as_bytes());
        hex::encode(&hmac_sm3(&self.index_key, &data)[..16])
    }
}

/// `370102199001011234` → `3701**********1234`.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let mut s: String = chars[..4].iter().collect();
    s.push_str(&"*".repeat(chars.len() - 8));
    s.extend(&chars[chars.len() - 4..]);
    s
}

/// `13812345678` → `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let mut s: String = chars[..3].iter().collect();
    s.push_str(&"*".repeat(chars.len() - 7));
    s.extend(&chars[chars.len() - 4..]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(1, [7u8; 16], BTreeMap::new())
    }

    #[test]
    fn sm3_known_answer() {
        // GB/T 32905-2016 example 1: "abc".
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn sm4_known_answer() {
        // GB/T 32907-2016 example: key = plaintext = 0123456789abcdeffedcba9876543210.
        use sm4::cipher::{BlockEncrypt, KeyInit as _};
        let k = hex::decode("0123456789abcdeffedcba9876543210").expect("hex");
        let c = sm4::Sm4::new_from_slice(&k).expect("key");
        let mut block = sm4::cipher::generic_array::GenericArray::clone_from_slice(&k);
        c.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    }

    #[test]
    fn roundtrip_and_tamper() {
        let v = vault();
        let ct = v.encrypt("370102199001011234");
        assert_eq!(v.decrypt(&ct).as_deref(), Ok("370102199001011234"));
        assert!(!ct.windows(6).any(|w| w == b"370102"));
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert!(v.decrypt(&bad).is_err(), "flip at {i} must fail");
        }
        assert_eq!(v.decrypt(&ct[..10]), Err(CryptoError::Short));
    }

    #[test]
    fn rotation_keeps_old_rows_readable_and_index_stable() {
        let old = vault();
        let ct = old.encrypt("13812345678");
        let mut olds = BTreeMap::new();
        olds.insert(1, [7u8; 16]);
        let new = Vault::new(2, [9u8; 16], olds);
        assert_eq!(new.decrypt(&ct).as_deref(), Ok("13812345678"));
        assert_eq!(new.encrypt("x")[0], 2);
        assert_eq!(old.blind_index("phone", "1"), new.blind_index("phone", "1"));
        let other = Vault::new(1, [8u8; 16], BTreeMap::new());
        assert_eq!(other.decrypt(&ct), Err(CryptoError::Tampered));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_id_number("370102199001011234"), "3701**********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_id_number("1234567"), "*******");
    }

    #[test]
    fn blind_index_is_normalised() {
        let v = vault();
        assert_eq!(
            v.blind_index("id", "11010519491231002x"),
            v.blind_index("id", " 11010519491231002X ")
        );
        assert_ne!(v.blind_index("id", "1"), v.blind_index("phone", "1"));
    }
}
