//! Content-addressed, encrypted file storage shared by every capability that keeps documents
//! (recruitment files, rectification evidence): a file is stored once per SM3 digest of its
//! clear bytes, SM4-encrypted like every other personal datum, and rechecked against its
//! digest on every read. Types are recognised by content, never by name or declared type.

use crate::db::{DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use serde::Serialize;

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

/// What reading a stored file found.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Intact(Vec<u8>),
    /// No stored content under the digest.
    Missing,
    /// The ciphertext fails its authentication (changed in the database): the SM3 of what is
    /// stored is all that can be named.
    Unreadable {
        stored_sm3: String,
    },
    /// Decrypted, but the content's digest is another (replaced under the key).
    Altered {
        found: String,
    },
}

impl Stored {
    /// What was found, in words (for a page, the API and `audit verify`).
    pub fn found(&self) -> String {
        match self {
            Stored::Intact(_) => "内容完整".into(),
            Stored::Missing => "存储中已无此内容".into(),
            Stored::Unreadable { stored_sm3 } => {
                format!("密文未通过完整性校验（被改动），现存密文SM3为{stored_sm3}")
            }
            Stored::Altered { found } => format!("现存内容的SM3为{found}"),
        }
    }
}

/// Reads a stored file and checks it against its digest, whatever it finds.
pub async fn read_checked(ctx: &Ctx, digest: &str) -> AppResult<Stored> {
    let enc = on_db!(&ctx.db, p => {
        match sqlx::query("SELECT data FROM blobs WHERE digest = $1").bind(digest).fetch_optional(p).await? {
            Some(r) => r.bytes("data")?,
            None => return Ok(Stored::Missing),
        }
    });
    Ok(check_stored(ctx, digest, &enc))
}

fn check_stored(ctx: &Ctx, digest: &str, enc: &[u8]) -> Stored {
    match ctx
        .vault
        .decrypt_bytes(&crate::crypto::aad("blobs", "data", digest), enc)
    {
        Err(_) => Stored::Unreadable {
            stored_sm3: crate::crypto::sm3_hex(enc),
        },
        Ok(plain) => {
            let found = crate::crypto::sm3_hex(&plain);
            if found == digest {
                Stored::Intact(plain)
            } else {
                Stored::Altered { found }
            }
        }
    }
}

/// The clear bytes of a stored file, checked against their digest; `what` names the file in
/// the refusal when it does not match (e.g. “第9步“确定入党介绍人”的材料《入党志愿书.pdf》”).
pub async fn content_named(ctx: &Ctx, digest: &str, what: &str) -> AppResult<Vec<u8>> {
    match read_checked(ctx, digest).await? {
        Stored::Intact(bytes) => Ok(bytes),
        other => Err(AppError::Integrity(format!(
            "{what}已损坏或被改动，无法提供：登记的SM3摘要为{digest}，{}。请联系系统管理员从备份恢复，并报告安全管理部门。",
            other.found()
        ))),
    }
}

/// The clear bytes of a stored file, checked against their digest.
pub async fn content(ctx: &Ctx, digest: &str) -> AppResult<Vec<u8>> {
    content_named(ctx, digest, "该材料").await
}

/// A stored file that failed its check, with every record that names it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BadFile {
    pub digest: String,
    /// What was found instead.
    pub found: String,
    /// The records that name the file (e.g. “发展党员档案12 第9步 入党志愿书《志愿书.pdf》”).
    pub used_by: Vec<String>,
}

/// Every stored file checked against its digest, and every digest a record names checked to
/// be stored: what `dangjian audit verify` and the auditor's verification report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct FilesReport {
    pub checked: i64,
    pub bad: Vec<BadFile>,
}

/// Reads every stored file (in digest order, a few at a time) and every reference to one.
pub async fn verify_all(ctx: &Ctx) -> AppResult<FilesReport> {
    let mut report = FilesReport::default();
    let mut bad: Vec<(String, String)> = Vec::new();
    let mut after = String::new();
    loop {
        let rows: Vec<(String, Vec<u8>)> = on_db!(&ctx.db, p => {
            let rows = sqlx::query("SELECT digest, data FROM blobs WHERE digest > $1 ORDER BY digest LIMIT 32")
                .bind(&after).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.string("digest")?, r.bytes("data")?))).collect::<DbResult<Vec<_>>>()?
        });
        let Some(last) = rows.last().map(|r| r.0.clone()) else {
            break;
        };
        for (digest, enc) in &rows {
            report.checked += 1;
            let s = check_stored(ctx, digest, enc);
            if !matches!(s, Stored::Intact(_)) {
                bad.push((digest.clone(), s.found()));
            }
        }
        after = last;
    }
    // references to content that is not stored at all
    for (sql, col) in REFERENCES {
        let missing: Vec<String> = on_db!(&ctx.db, p => {
            let q = format!("SELECT DISTINCT x.{col} AS d FROM ({sql}) x WHERE x.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = x.{col})");
            let rows = sqlx::query(&q).fetch_all(p).await?;
            rows.iter().map(|r| r.string("d")).collect::<DbResult<Vec<_>>>()?
        });
        for d in missing {
            if !bad.iter().any(|b| b.0 == d) {
                bad.push((d, Stored::Missing.found()));
            }
        }
    }
    for (digest, found) in bad {
        let used_by = used_by(ctx, &digest).await?;
        report.bad.push(BadFile {
            digest,
            found,
            used_by,
        });
    }
    Ok(report)
}

/// The tables whose rows name stored files, as (query, digest column).
const REFERENCES: [(&str, &str); 6] = [
    ("SELECT photo AS digest FROM fs_checkins", "digest"),
    ("SELECT digest FROM recruit_docs", "digest"),
    ("SELECT digest FROM circular_files", "digest"),
    ("SELECT digest FROM rect_docs", "digest"),
    ("SELECT evidence AS digest FROM point_entries", "digest"),
    ("SELECT evidence AS digest FROM point_claims", "digest"),
];

/// Deletes the stored files among `digests` that no record names any more (inside `tx`, after
/// the records dropped them); returns how many went.
pub async fn delete_unreferenced(tx: &mut Tx, digests: &[String]) -> DbResult<u64> {
    let mut n = 0;
    for d in digests {
        let mut named = false;
        for (sql, col) in REFERENCES {
            let q = format!("SELECT 1 AS one FROM ({sql}) x WHERE x.{col} = $1 LIMIT 1");
            let found =
                on_tx!(tx, c => sqlx::query(&q).bind(d).fetch_optional(&mut *c).await?.is_some());
            if found {
                named = true;
                break;
            }
        }
        if !named {
            n += on_tx!(tx, c => sqlx::query("DELETE FROM blobs WHERE digest = $1").bind(d).execute(&mut *c).await?.rows_affected());
        }
    }
    Ok(n)
}

/// The records naming `digest`, in words.
pub async fn used_by(ctx: &Ctx, digest: &str) -> AppResult<Vec<String>> {
    Ok(on_db!(&ctx.db, p => {
        let mut out = Vec::new();
        for r in sqlx::query("SELECT recruit_id, step, kind, filename FROM recruit_docs WHERE digest = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            let step = r.i64("step")?;
            out.push(format!("发展党员档案{} 第{}步“{}” {}《{}》", r.i64("recruit_id")?, step,
                crate::recruit::step(step).map(|s| s.name).unwrap_or(""), r.string("kind")?, r.string("filename")?));
        }
        for r in sqlx::query("SELECT item_id, filename FROM rect_docs WHERE digest = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            out.push(format!("整改事项{} 佐证材料《{}》", r.i64("item_id")?, r.string("filename")?));
        }
        for r in sqlx::query("SELECT circular_id, filename FROM circular_files WHERE digest = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            out.push(format!("通知{} 附件《{}》", r.i64("circular_id")?, r.string("filename")?));
        }
        for r in sqlx::query("SELECT id, evidence_name FROM point_entries WHERE evidence = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            out.push(format!("积分记录{} 佐证材料《{}》", r.i64("id")?, r.opt_string("evidence_name")?.unwrap_or_default()));
        }
        for r in sqlx::query("SELECT id, assignment_id FROM fs_checkins WHERE photo = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            out.push(format!("第一书记选派{} 打卡{} 现场照片", r.i64("assignment_id")?, r.i64("id")?));
        }
        for r in sqlx::query("SELECT id, evidence_name FROM point_claims WHERE evidence = $1 ORDER BY id").bind(digest).fetch_all(p).await? {
            out.push(format!("积分申报{} 佐证材料《{}》", r.i64("id")?, r.opt_string("evidence_name")?.unwrap_or_default()));
        }
        out
    }))
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
