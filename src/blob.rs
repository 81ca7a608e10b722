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

/// Checks an upload's size (at most `max_mb`) and type; returns its MIME type. The type is
/// recognised by its first bytes and then its structure is walked, so a file that only starts
/// like an image (a renamed executable behind `FF D8 FF`, say) is refused.
pub fn check(bytes: &[u8], max_mb: i64) -> AppResult<&'static str> {
    if bytes.is_empty() || bytes.len() as i64 > max_mb * 1024 * 1024 {
        return Err(AppError::field(
            "file",
            format!("请选择文件（不超过{max_mb}MB）"),
        ));
    }
    let (mime, ext) = sniff(bytes)
        .ok_or_else(|| AppError::field("file", "只接受 PDF、JPG、PNG 图片和 MP4 视频"))?;
    let whole = match ext {
        "pdf" => pdf_ok(bytes),
        "jpg" => jpeg_ok(bytes),
        "png" => png_ok(bytes),
        _ => mp4_ok(bytes),
    };
    if !whole {
        return Err(AppError::field(
            "file",
            format!("文件已损坏或不是真正的{}文件", ext.to_uppercase()),
        ));
    }
    Ok(mime)
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize)
}

/// A version line `%PDF-d.d` and an end-of-file marker in the last kilobyte.
fn pdf_ok(b: &[u8]) -> bool {
    let version = b.len() > 8 && b[5].is_ascii_digit() && b[6] == b'.' && b[7].is_ascii_digit();
    let tail = &b[b.len().saturating_sub(1024)..];
    version && tail.windows(5).any(|w| w == b"%%EOF")
}

/// Chunks from the signature to `IEND`, each inside the file with a correct CRC; `IHDR` first.
fn png_ok(b: &[u8]) -> bool {
    let mut at = 8;
    let mut first = true;
    while let Some(len) = be32(b, at) {
        let Some(kind) = b.get(at + 4..at + 8) else {
            return false;
        };
        let Some(data_end) = (at + 8).checked_add(len) else {
            return false;
        };
        let (Some(body), Some(crc)) = (b.get(at + 4..data_end), be32(b, data_end)) else {
            return false;
        };
        if crc32fast::hash(body) as usize != crc || (first && (kind != b"IHDR" || len != 13)) {
            return false;
        }
        first = false;
        at = data_end + 4;
        if kind == b"IEND" {
            return at == b.len();
        }
    }
    false
}

/// Marker segments from SOI to the start of scan, with a frame header among them, and the
/// end-of-image marker closing the file.
fn jpeg_ok(b: &[u8]) -> bool {
    let mut at = 2;
    let mut frame = false;
    loop {
        let (Some(&0xFF), Some(&marker)) = (b.get(at), b.get(at + 1)) else {
            return false;
        };
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let Some(len) = b
            .get(at + 2..at + 4)
            .map(|x| u16::from_be_bytes([x[0], x[1]]) as usize)
        else {
            return false;
        };
        if len < 2 || at + 2 + len > b.len() {
            return false;
        }
        frame |= matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if marker == 0xDA {
            return frame && b.ends_with(&[0xFF, 0xD9]) && b.len() >= at + 2 + len + 2;
        }
        at += 2 + len;
    }
}

/// Boxes that tile the whole file (sizes in bounds, 64-bit sizes honoured), `ftyp` first and
/// a `moov` among them.
fn mp4_ok(b: &[u8]) -> bool {
    let mut at = 0;
    let mut moov = false;
    while at < b.len() {
        let Some(size) = be32(b, at) else {
            return false;
        };
        let Some(kind) = b.get(at + 4..at + 8) else {
            return false;
        };
        if !kind.iter().all(|c| c.is_ascii_graphic() || *c == b' ') || (at == 0 && kind != b"ftyp")
        {
            return false;
        }
        let size = match size {
            0 => b.len() - at,
            1 => match (be32(b, at + 8), be32(b, at + 12)) {
                (Some(hi), Some(lo)) => (hi << 32) | lo,
                _ => return false,
            },
            n => n,
        };
        if size < 8 || size > b.len() - at {
            return false;
        }
        moov |= kind == b"moov";
        at += size;
    }
    moov
}

/// Stores the bytes (once per content) inside `tx`; returns their SM3 digest.
pub async fn put(ctx: &Ctx, tx: &mut Tx, bytes: &[u8]) -> AppResult<String> {
    let digest = crate::crypto::sm3_hex(bytes);
    let enc = ctx
        .vault
        .encrypt_bytes(&crate::crypto::aad("blobs", "data", &digest), bytes);
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
        .decrypt_bytes(&crate::crypto::aad("blobs", "data", digest), &enc)
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

    const FILES: [(&[u8], &str); 4] = [
        (
            include_bytes!("../tests/fixtures/tiny.pdf"),
            "application/pdf",
        ),
        (include_bytes!("../tests/fixtures/tiny.jpg"), "image/jpeg"),
        (include_bytes!("../tests/fixtures/tiny.png"), "image/png"),
        (include_bytes!("../tests/fixtures/tiny.mp4"), "video/mp4"),
    ];

    #[test]
    fn well_formed_files_pass_and_fake_headers_do_not() {
        for (bytes, mime) in FILES {
            assert_eq!(check(bytes, 1).ok(), Some(mime), "{mime}");
            // the header alone, then 1 MB of anything: refused
            let mut fake = bytes[..bytes.len().min(12)].to_vec();
            fake.extend(std::iter::repeat_n(0x41u8, 1 << 20));
            assert!(check(&fake, 20).is_err(), "fake {mime}");
            // cut short: refused; one byte changed: refused where the format has checksums
            assert!(
                check(&bytes[..bytes.len() - 3], 1).is_err(),
                "truncated {mime}"
            );
            if mime == "image/png" {
                let mut flipped = bytes.to_vec();
                let i = flipped.len() / 2;
                flipped[i] ^= 0x5A;
                assert!(check(&flipped, 1).is_err(), "flipped {mime}");
            }
        }
        // size at, above the limit
        let (png, _) = FILES[2];
        assert!(check(png, 0).is_err());
        let mut padded = b"%PDF-1.4\n".to_vec();
        padded.resize(1024 * 1024 - 6, b' ');
        padded.extend_from_slice(b"%%EOF\n");
        assert_eq!(padded.len(), 1024 * 1024);
        assert!(check(&padded, 1).is_ok());
        padded.insert(10, b' ');
        assert!(check(&padded, 1).is_err());
        // trailing bytes after PNG's IEND, boxes that overrun: refused
        let mut trailing = png.to_vec();
        trailing.push(0);
        assert!(check(&trailing, 1).is_err());
        let mut overrun = FILES[3].0.to_vec();
        overrun[3] = 0xFF;
        assert!(check(&overrun, 1).is_err());
    }
}
