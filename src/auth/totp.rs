//! TOTP second factor (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), usable once per step.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub fn new_secret() -> Vec<u8> {
    crate::crypto::random_bytes::<20>().to_vec()
}

pub fn secret_base32(secret: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret)
}

pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&digits=6&period=30",
        utf8_percent_encode(issuer, NON_ALPHANUMERIC),
        utf8_percent_encode(account, NON_ALPHANUMERIC),
        secret_base32(secret),
        utf8_percent_encode(issuer, NON_ALPHANUMERIC)
    )
}

pub fn code_at(secret: &[u8], step: u64) -> u32 {
    let mut mac = match <Hmac<Sha1> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return u32::MAX,
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = ((h[off] as u32 & 0x7f) << 24)
        | ((h[off + 1] as u32) << 16)
        | ((h[off + 2] as u32) << 8)
        | (h[off + 3] as u32);
    bin % 1_000_000
}

/// Checks `code` at `unix_secs` allowing one step of clock drift; returns the matched step
/// if it is newer than `last_step` (a code is usable once).
pub fn verify(secret: &[u8], code: &str, unix_secs: u64, last_step: u64) -> Option<u64> {
    let code: u32 = code.trim().parse().ok()?;
    if code >= 1_000_000 {
        return None;
    }
    let now = unix_secs / 30;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|s| *s > last_step && code_at(secret, *s) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        // RFC 6238 Appendix B (SHA1), last 6 digits.
        for (t, code) in [
            (59u64, 287082u32),
            (1111111109, 81804),
            (1234567890, 5924),
            (2000000000, 279037),
        ] {
            assert_eq!(code_at(secret, t / 30), code, "t={t}");
        }
    }

    #[test]
    fn once_only_and_drift() {
        let s = b"12345678901234567890";
        let t = 1111111109u64;
        let c = format!("{:06}", code_at(s, t / 30));
        let step = verify(s, &c, t, 0).expect("valid");
        assert_eq!(verify(s, &c, t, step), None, "replay refused");
        assert!(verify(s, &c, t + 30, 0).is_some(), "one step drift");
        assert!(verify(s, &c, t + 90, 0).is_none(), "three steps late");
        assert!(verify(s, "abc", t, 0).is_none());
    }
}
