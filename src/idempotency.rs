//! Idempotency keys: a client retrying a write (a lost answer, a double tap) sends the same
//! key, and the write applies once. The key travels in the `Idempotency-Key` header or the
//! body's `idempotency_key`; each capability stores it on the row the write creates, under a
//! unique index, so a racing twin fails on the index and answers with the first one's row.

use crate::error::{AppError, AppResult};
use axum::http::HeaderMap;

/// The key of a request: the header wins over the body.
pub fn from_request(headers: &HeaderMap, body: Option<String>) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(body)
}

/// A usable key: trimmed, at most 100 ASCII characters; none when empty.
pub fn clean(key: Option<&str>) -> AppResult<Option<String>> {
    match key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) if k.len() > 100 || !k.is_ascii() => Err(AppError::field(
            "idempotency_key",
            "幂等键为不超过100个ASCII字符",
        )),
        Some(k) => Ok(Some(k.to_string())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_trimmed_and_bounded() {
        assert_eq!(super::clean(Some("  k-1 ")).ok(), Some(Some("k-1".into())));
        assert_eq!(super::clean(Some(" ")).ok(), Some(None));
        assert!(super::clean(Some(&"x".repeat(100))).is_ok());
        assert!(super::clean(Some(&"x".repeat(101))).is_err());
        assert!(super::clean(Some("键")).is_err());
    }
}
