//! Commercial cryptography (商用密码): SM3 hashing, HMAC-SM3 blind indexes and
//! SM4-GCM encryption of personal data at rest, plus on-screen masking.
//!
//! Ciphertext layout: `format|version (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)`.
//! The key version (1–127) selects the key, so keys can be rotated while old rows stay
//! readable. The high bit of the first byte marks a ciphertext *bound* to where it is stored:
//! its table, column and row are the AEAD's associated data ([`aad`]), so a ciphertext copied
//! into another row, column or table fails authentication instead of reading as that row's
//! value. Unbound ciphertexts (written before binding) are read only by the one-time rebinding
//! at start ([`Vault::decrypt_legacy`]).

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
    #[error("ciphertext is not bound to its row (written before binding)")]
    Unbound,
}

/// The first byte's flag of a ciphertext bound to its place.
pub const BOUND: u8 = 0x80;

/// The associated data that binds a ciphertext to its place: `table.column#row`.
pub fn aad(table: &str, column: &str, row: impl std::fmt::Display) -> String {
    format!("{table}.{column}#{row}")
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

    /// The key versions this vault holds.
    pub fn versions(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.keys().copied()
    }

    /// A check value of one key (HMAC-SM3 of a fixed text, 16 hex digits): stored in the
    /// database, it tells a wrong or missing key at start without revealing the key.
    pub fn key_check(&self, version: u8) -> Option<String> {
        self.keys
            .get(&version)
            .map(|k| hex::encode(&hmac_sm3(k, b"dangjian key check v1")[..8]))
    }

    /// SM4-GCM of `plain`, bound to `aad` (see [`aad`]).
    pub fn encrypt(&self, aad: &str, plain: &str) -> Vec<u8> {
        self.encrypt_bytes(aad, plain.as_bytes())
    }

    /// SM4-GCM over any bytes (documents), bound to `aad`.
    pub fn encrypt_bytes(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        self.seal(self.current | BOUND, aad.as_bytes(), plain)
    }

    fn seal(&self, first: u8, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let key = self.keys.get(&self.current).copied().unwrap_or([0; 16]);
        let cipher = Sm4Gcm::new(&key.into());
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ct = match cipher.encrypt(nonce, aes_gcm::aead::Payload { msg: plain, aad }) {
            Ok(ct) => ct,
            Err(_) => panic!("SM4-GCM encryption of an in-memory buffer cannot fail"),
        };
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(first);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    pub fn decrypt(&self, aad: &str, data: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt_bytes(aad, data)?).map_err(|_| CryptoError::Utf8)
    }

    /// Opens a bound ciphertext; an unbound one is refused.
    pub fn decrypt_bytes(&self, aad: &str, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match data.first() {
            Some(b) if b & BOUND == 0 => Err(CryptoError::Unbound),
            _ => self.open(data, aad.as_bytes()),
        }
    }

    /// Opens a ciphertext written before binding (no associated data); for the rebinding at
    /// start only.
    pub fn decrypt_legacy(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match data.first() {
            Some(b) if b & BOUND != 0 => Err(CryptoError::Tampered),
            _ => self.open(data, b""),
        }
    }

    /// Whether a stored ciphertext is still unbound.
    pub fn is_legacy(data: &[u8]) -> bool {
        data.first().is_some_and(|b| b & BOUND == 0)
    }

    fn open(&self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < 1 + 12 + 16 {
            return Err(CryptoError::Short);
        }
        let version = data[0] & !BOUND;
        let key = self
            .keys
            .get(&version)
            .ok_or(CryptoError::UnknownKey(version))?;
        let cipher = Sm4Gcm::new(&(*key).into());
        cipher
            .decrypt(
                Nonce::from_slice(&data[1..13]),
                aes_gcm::aead::Payload {
                    msg: &data[13..],
                    aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }

    /// A ciphertext in the format written before binding (for tests of the rebinding).
    #[doc(hidden)]
    pub fn encrypt_legacy(&self, plain: &[u8]) -> Vec<u8> {
        self.seal(self.current, b"", plain)
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

/// `370102199001011234` → `3****************4`: the first and the last character only
/// (GB/T 35273 de-identification for display). The region (digits 1–6) and the birth month
/// are kept elsewhere in clear for statistics, so the mask must not add what completes the
/// number: with it, the day of birth and the three sequence digits stay unknown (about 1,400
/// candidates per person, and no oracle confirms one; see ARCHITECTURE.md "Personal data").
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let mut s = String::with_capacity(chars.len());
    s.push(chars[0]);
    s.push_str(&"*".repeat(chars.len() - 2));
    s.push(chars[chars.len() - 1]);
    s
}

/// The present mask of an ID number from an earlier, wider mask (`3708**********4197`, the
/// first four and last four shown): what a stored or logged mask is rewritten to.
pub fn remask_id(masked: &str) -> String {
    mask_id_number(masked)
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
        let at = aad("members", "id_enc", 117);
        let ct = v.encrypt(&at, "370102199001011234");
        assert_eq!(v.decrypt(&at, &ct).as_deref(), Ok("370102199001011234"));
        assert!(!ct.windows(6).any(|w| w == b"370102"));
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert!(v.decrypt(&at, &bad).is_err(), "flip at {i} must fail");
        }
        assert_eq!(v.decrypt(&at, &ct[..10]), Err(CryptoError::Short));
    }

    #[test]
    fn a_ciphertext_opens_only_where_it_was_written() {
        let v = vault();
        let ct = v.encrypt(&aad("members", "id_enc", 118), "370102199001011234");
        // copied into another row, column or table: refused, never read as that row's value
        for elsewhere in [
            aad("members", "id_enc", 117),
            aad("members", "phone_enc", 118),
            aad("recruits", "id_enc", 118),
        ] {
            assert_eq!(
                v.decrypt(&elsewhere, &ct),
                Err(CryptoError::Tampered),
                "{elsewhere}"
            );
        }
        // an unbound ciphertext is refused by the normal path and opened only by the rebinding
        let old = v.encrypt_legacy(b"13812345678");
        assert!(Vault::is_legacy(&old) && !Vault::is_legacy(&ct));
        assert_eq!(
            v.decrypt(&aad("members", "phone_enc", 1), &old),
            Err(CryptoError::Unbound)
        );
        assert_eq!(v.decrypt_legacy(&old).as_deref(), Ok(&b"13812345678"[..]));
        assert_eq!(v.decrypt_legacy(&ct), Err(CryptoError::Tampered));
    }

    #[test]
    fn rotation_keeps_old_rows_readable_and_index_stable() {
        let old = vault();
        let at = aad("members", "phone_enc", 5);
        let ct = old.encrypt(&at, "13812345678");
        let mut olds = BTreeMap::new();
        olds.insert(1, [7u8; 16]);
        let new = Vault::new(2, [9u8; 16], olds);
        assert_eq!(new.decrypt(&at, &ct).as_deref(), Ok("13812345678"));
        assert_eq!(new.encrypt(&at, "x")[0], 2 | BOUND);
        assert_eq!(old.blind_index("phone", "1"), new.blind_index("phone", "1"));
        assert_eq!(old.chain_key(), new.chain_key());
        let other = Vault::new(1, [8u8; 16], BTreeMap::new());
        assert_eq!(other.decrypt(&at, &ct), Err(CryptoError::Tampered));
        // the check values tell the keys apart
        assert_eq!(old.key_check(1), new.key_check(1));
        assert_ne!(old.key_check(1), other.key_check(1));
        assert_eq!(new.key_check(3), None);
    }

    #[test]
    fn masks() {
        assert_eq!(mask_id_number("370102199001011234"), "3****************4");
        assert_eq!(mask_id_number("11010519491231002X"), "1****************X");
        assert_eq!(remask_id("3708**********4197"), "3****************7");
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
