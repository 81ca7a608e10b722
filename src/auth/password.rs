//! Passwords: argon2id hashes and the configurable policy (等保 level-3 defaults).

use crate::config::PasswordPolicy;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub fn hash(password: &str) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::crypto::random_bytes::<16>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist, so that an
/// unknown user costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::crypto::random_token()).unwrap_or_default())
}

/// The reasons a new password is refused, in Chinese; empty when it is acceptable.
pub fn policy_violations(p: &PasswordPolicy, password: &str, username: &str) -> Vec<String> {
    let mut out = Vec::new();
    if password.chars().count() < p.min_length {
        out.push(format!("密码至少{}位", p.min_length));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if classes < p.min_classes {
        out.push(format!(
            "密码须包含大写字母、小写字母、数字、特殊字符中的至少{}类",
            p.min_classes
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        out.push("密码不能包含用户名".into());
    }
    if password.chars().count() > 128 {
        out.push("密码不能超过128位".into());
    }
    out
}

/// A random password that satisfies the default policy (first-start administrator).
pub fn generate() -> String {
    let raw = crate::crypto::random_bytes::<12>();
    let alphabet = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut s: String = raw
        .iter()
        .map(|b| alphabet[(*b as usize) % alphabet.len()] as char)
        .collect();
    s.push_str("a7K#");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Abcdef1!").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Abcdef1!", &h));
        assert!(!verify("Abcdef1?", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn policy_edges() {
        let p = PasswordPolicy::default();
        assert!(policy_violations(&p, "Abcdef1!", "u").is_empty());
        assert!(!policy_violations(&p, "Abcde1!", "u").is_empty(), "7 chars");
        assert!(
            policy_violations(&p, "Abcdefg1", "u").is_empty(),
            "3 classes"
        );
        assert!(
            !policy_violations(&p, "abcdefg1", "u").is_empty(),
            "2 classes"
        );
        assert!(!policy_violations(&p, "Zhangsan1!", "zhangsan").is_empty());
        assert!(policy_violations(&p, &generate(), "admin").is_empty());
    }
}
