//! Content-addressed, encrypted file storage shared by every capability that keeps documents
//! (recruitment files, rectification evidence): a file is stored once per SM3 digest of its
//! clear bytes, SM4-encrypted like every other personal datum, and rechecked against its
//! digest on every read. Types are recognised by content, never by name or declared type.

use crate::db::{DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};

/// Types accepted, recognised by their first bytes: (MIME type, extension).
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("image/png", "png"))
    } else if bytes.len() > 12 && &bytes[4..8] == b"ftyp" {
        Some(("video/mp4", "mp4"))
    } else {
        None
    }
}

/// A file name safe to store and show: no control characters or path separators, at most
/// 120 characters, `fallback` when nothing is left.
pub fn clean_filename(name: &str, fallback: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(120)
        .collect();
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean
    }
}

/// Checks an upload's size (at most `max_mb`) and type; returns its MIME type.
pub fn check(bytes: &[u8], max_mb: i64) -> AppResult<&'static str> {
    if bytes.is_empty() || bytes.len() as i64 > max_mb * 1024 * 1024 {
        return Err(AppError::field(
            "file",
            format!("请选择文件（不超过{max_mb}MB）"),
        ));
    }
    sniff(bytes)
        .map(|x| x.0)
        .ok_or_else(|| AppError::field("file", "只接受 PDF、JPG、PNG 图片和 MP4 视频"))
}

/// Stores the bytes (once per content) inside `tx`; returns their SM3 digest.
pub async fn put(ctx: &Ctx, tx: &mut Tx, bytes: &[u8]) -> AppResult<String> {
    let digest = crate::crypto::sm3_hex(bytes);
    let enc = ctx.vault.encrypt_bytes(bytes);
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO blobs (digest, size, data) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
            .bind(&digest).bind(bytes.len() as i64).bind(&enc).execute(&mut *c).await?;
    });
    Ok(digest)
}

/// The clear bytes of a stored file, checked against their digest.
pub async fn content(ctx: &Ctx, digest: &str) -> AppResult<Vec<u8>> {
    let enc = on_db!(&ctx.db, p => {
        match sqlx::query("SELECT data FROM blobs WHERE digest = $1").bind(digest).fetch_optional(p).await? {
            Some(r) => r.bytes("data")?,
            None => return Err(AppError::NotFound("材料")),
        }
    });
    let plain = ctx
        .vault
        .decrypt_bytes(&enc)
        .map_err(|e| AppError::Internal(format!("blob {digest}: {e}")))?;
    if crate::crypto::sm3_hex(&plain) != digest {
        return Err(AppError::Internal(format!(
            "blob {digest} does not match its digest"
        )));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_recognised_by_content() {
        assert_eq!(sniff(b"%PDF-1.7 ...").map(|x| x.1), Some("pdf"));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).map(|x| x.1),
            Some("jpg")
        );
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]).map(|x| x.1),
            Some("png")
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmp42\0\0\0\0").map(|x| x.1),
            Some("mp4")
        );
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(clean_filename("../a/b\u{0}.pdf", "x"), "..ab.pdf");
        assert_eq!(clean_filename("  ", "材料"), "材料");
    }
}
