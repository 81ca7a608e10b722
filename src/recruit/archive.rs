//! Documents of the recruitment file and the 一人一档 archive.
//!
//! A document is stored once per content (keyed by its SM3 digest), encrypted with SM4 like
//! every other piece of personal data; its digest goes into the audit chain with the upload.
//! The archive of one person is a zip: `manifest.json` (the file, every entry, signature,
//! evaluation, publicity and document, and the audit entries of the recruit in full),
//! `index.html` (the same for people) and `documents/<digest>.<ext>`. [`verify`] checks an
//! archive against the live audit chain: each audit entry recomputes to its hash and matches
//! the chain at its seq, each document's bytes hash to a digest that an audit entry holds.

use super::store::{self, Entry};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// Document kinds a step may carry.
pub const DOC_KINDS: [&str; 10] = [
    "入党申请书",
    "谈话记录",
    "思想汇报",
    "培养考察材料",
    "政审材料",
    "培训证明",
    "入党志愿书",
    "会议记录",
    "照片视频",
    "其他",
];

pub use crate::blob::sniff;

impl Document {
    /// The document in words, for a refusal: step, kind and file name.
    pub fn described(&self) -> String {
        format!(
            "第{}步“{}”的材料《{}》（{}）",
            self.step,
            super::step(self.step).map(|s| s.name).unwrap_or(""),
            self.filename,
            self.kind
        )
    }
}

/// The clear bytes of a document, or a refusal naming it with the expected and found digests.
pub async fn content(ctx: &Ctx, d: &Document) -> AppResult<Vec<u8>> {
    crate::blob::content_named(ctx, &d.digest, &d.described()).await
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = RecruitDocument)]
pub struct Document {
    pub id: i64,
    pub recruit_id: i64,
    pub step: i64,
    pub kind: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    /// SM3 of the content, hex.
    pub digest: String,
    pub uploaded_at: chrono::DateTime<Utc>,
}

fn doc_row(r: &impl DbRow) -> DbResult<Document> {
    Ok(Document {
        id: r.i64("id")?,
        recruit_id: r.i64("recruit_id")?,
        step: r.i64("step")?,
        kind: r.string("kind")?,
        filename: r.string("filename")?,
        mime: r.string("mime")?,
        size: r.i64("size")?,
        digest: r.string("digest")?,
        uploaded_at: r.ts("uploaded_at")?,
    })
}

pub async fn documents(ctx: &Ctx, recruit_id: i64) -> AppResult<Vec<Document>> {
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, recruit_id, step, kind, filename, mime, size, digest, uploaded_at FROM recruit_docs WHERE recruit_id = $1 ORDER BY step, id")
            .bind(recruit_id).fetch_all(p).await?;
        rows.iter().map(doc_row).collect::<DbResult<Vec<_>>>()?
    }))
}

pub async fn document(ctx: &Ctx, id: i64) -> AppResult<Document> {
    on_db!(&ctx.db, p => {
        match sqlx::query("SELECT id, recruit_id, step, kind, filename, mime, size, digest, uploaded_at FROM recruit_docs WHERE id = $1").bind(id).fetch_optional(p).await? {
            Some(r) => Ok(doc_row(&r)?),
            None => Err(AppError::NotFound("材料")),
        }
    })
}

/// The clear bytes of a stored document, checked against its digest.
/// Attaches a document to a step of a recruit's file.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    ctx: &Ctx,
    p: &Principal,
    recruit_id: i64,
    step: i64,
    kind: &str,
    filename: &str,
    bytes: &[u8],
) -> AppResult<Document> {
    let (rc, path) = store::get(ctx, recruit_id).await?;
    p.authorize(Perm::RecruitWrite, Some(&path))?;
    let r = crate::rules::effective::<super::rules::RecruitRules>(&ctx.db, &path)
        .await?
        .0;
    if !(1..=25).contains(&step) || step > rc.step + 1 {
        return Err(AppError::field("step", "材料只能归入已完成的步骤或下一步"));
    }
    if !DOC_KINDS.contains(&kind) {
        return Err(AppError::field("kind", "请选择材料类别"));
    }
    let mime = crate::blob::check(bytes, r.max_document_mb)?;
    let filename = crate::blob::clean_filename(filename, "材料");
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let digest = crate::blob::put(ctx, &mut tx, bytes).await?;
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_docs (recruit_id, step, kind, filename, mime, size, digest, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(rc.id).bind(step).bind(kind).bind(&filename).bind(mime).bind(bytes.len() as i64).bind(&digest).bind(p.account_id).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.document",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"document_id": id, "step": step, "kind": kind, "filename": filename,
                "mime": mime, "size": bytes.len(), "digest": digest}),
        },
    )
    .await?;
    tx.commit().await?;
    document(ctx, id).await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub exported_at: chrono::DateTime<Utc>,
    pub recruit: serde_json::Value,
    pub entries: serde_json::Value,
    pub evaluations: serde_json::Value,
    pub publicity: serde_json::Value,
    pub documents: Vec<Document>,
    pub audit: Vec<audit::Entry>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How a record stands in the file: awaiting signatures, corrected, or a correction.
fn entry_state(e: &Entry) -> String {
    let mut out = String::new();
    if let Some(by) = e.corrected_by {
        out.push_str(&format!("（已由记录{by}更正）"));
    }
    if let Some(of) = e.corrects_id {
        let reason = e
            .data
            .get("correction_reason")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        out.push_str(&format!("（更正记录{of}：{}）", esc(reason)));
    }
    if !e.complete {
        out.push_str("（待签名）");
    }
    out
}

fn index_html(
    rc: &store::Recruit,
    entries: &[Entry],
    docs: &[Document],
    audit: &[audit::Entry],
) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>发展党员档案</title>\
        <style>body{font-family:sans-serif;margin:2em;line-height:1.5}table{border-collapse:collapse;width:100%;margin:1em 0}\
        td,th{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top}code{font-size:12px;word-break:break-all}</style></head><body>");
    h.push_str(&format!(
        "<h1>发展党员全程纪实档案</h1><p>姓名：{}　性别：{}　身份证号码：{}　所在党支部：{}</p><p>递交申请书：{}　状态：{}　当前完成第{}步</p>",
        esc(&rc.name),
        crate::member::gender_label(&rc.gender),
        esc(&rc.id_number),
        esc(&rc.org_name),
        rc.applied_on,
        rc.status_label(),
        rc.step
    ));
    if let Some(src) = &rc.backfill_ref {
        h.push_str(&format!(
            "<p><strong>补录档案</strong>：据纸质档案（{}）补录，各项记录由经办人代原签名人签名。</p>",
            esc(src)
        ));
    }
    h.push_str("<h2>步骤与签名</h2><table><tr><th>步骤</th><th>日期</th><th>说明</th><th>签名</th><th>内容摘要（SM3）</th></tr>");
    for e in entries {
        let sigs = e
            .signatures
            .iter()
            .map(|s| {
                format!(
                    "{}（{}，{}，{}）",
                    esc(&s.signer_name),
                    super::Signer::parse(&s.signer_role)
                        .map(|x| x.label())
                        .unwrap_or(""),
                    signature_method_label(&s.method),
                    crate::clock::fmt_local(s.signed_at, "%Y-%m-%d %H:%M")
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        h.push_str(&format!(
            "<tr><td>{}. {}{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e.step,
            e.step_name(),
            entry_state(e),
            e.done_on,
            esc(&e.note),
            sigs,
            e.digest
        ));
    }
    h.push_str("</table><h2>材料</h2><table><tr><th>步骤</th><th>类别</th><th>文件</th><th>大小</th><th>SM3</th></tr>");
    for d in docs {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            d.step,
            esc(&d.kind),
            esc(&d.filename),
            d.size,
            d.digest
        ));
    }
    h.push_str("</table><h2>审计记录</h2><table><tr><th>序号</th><th>时间</th><th>操作人</th><th>操作</th><th>哈希</th></tr>");
    for a in audit {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            a.seq,
            esc(&crate::clock::fmt_local_text(&a.ts, "%Y-%m-%d %H:%M:%S")),
            esc(&a.actor_name),
            esc(&a.action),
            a.hash
        ));
    }
    h.push_str("</table><p>核验：在平台“发展党员 → 档案核验”上传本压缩包，逐项比对审计链。</p></body></html>");
    h
}

/// Builds the 一人一档 zip of a recruit. The export itself is audited.
pub async fn export(ctx: &Ctx, p: &Principal, recruit_id: i64) -> AppResult<Vec<u8>> {
    let (rc, path) = store::get(ctx, recruit_id).await?;
    p.authorize(Perm::RecruitRead, Some(&path))?;
    audit::record(
        &ctx.db,
        &p.actor(),
        NewEntry {
            action: "recruit.export",
            object_type: "recruit_export",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
        },
    )
    .await?;
    let entries = store::entries(ctx, rc.id).await?;
    let evals = store::evaluations(ctx, rc.id).await?;
    let publicity = store::publicities(ctx, rc.id).await?;
    let docs = documents(ctx, rc.id).await?;
    let trail = audit::history(&ctx.db, "recruit", &rc.id.to_string()).await?;
    let manifest = Manifest {
        format: "dangjian-recruit-archive/1".into(),
        exported_at: ctx.clock.now(),
        recruit: serde_json::to_value(&rc).unwrap_or_default(),
        entries: serde_json::to_value(&entries).unwrap_or_default(),
        evaluations: serde_json::to_value(&evals).unwrap_or_default(),
        publicity: serde_json::to_value(&publicity).unwrap_or_default(),
        documents: docs.clone(),
        audit: trail.clone(),
    };
    let io = |e: std::io::Error| AppError::Internal(format!("zip: {e}"));
    let zerr = |e: zip::result::ZipError| AppError::Internal(format!("zip: {e}"));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("manifest.json", opts).map_err(zerr)?;
    w.write_all(
        serde_json::to_string_pretty(&manifest)
            .map_err(|e| AppError::Internal(e.to_string()))?
            .as_bytes(),
    )
    .map_err(io)?;
    w.start_file("index.html", opts).map_err(zerr)?;
    w.write_all(index_html(&rc, &entries, &docs, &trail).as_bytes())
        .map_err(io)?;
    let mut seen = std::collections::BTreeSet::new();
    for d in &docs {
        if !seen.insert(d.digest.clone()) {
            continue;
        }
        let bytes = content(ctx, d).await?;
        let ext = sniff(&bytes).map(|x| x.1).unwrap_or("bin");
        // images, PDFs and videos are compressed already
        w.start_file(format!("documents/{}.{ext}", d.digest), stored)
            .map_err(zerr)?;
        w.write_all(&bytes).map_err(io)?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    pub recruit_id: Option<i64>,
    pub audit_entries: usize,
    pub documents: usize,
    pub steps: usize,
    pub problems: Vec<String>,
}

/// Checks an exported archive against the live audit chain.
pub async fn verify(ctx: &Ctx, p: &Principal, zip_bytes: &[u8]) -> AppResult<VerifyReport> {
    const MAX_FILE: u64 = crate::zipguard::ARCHIVE.max_entry_bytes;
    let bad = |m: &str| AppError::field("file", m.to_string());
    crate::zipguard::check(zip_bytes, crate::zipguard::ARCHIVE).map_err(|m| bad(&m))?;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|_| bad("不是有效的档案压缩包"))?;
    if z.len() > 10_000 {
        return Err(bad("压缩包内文件过多"));
    }
    let mut manifest: Option<Manifest> = None;
    let mut files: Vec<(String, String)> = Vec::new(); // (name digest, actual digest)
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|_| bad("压缩包已损坏"))?;
        let name = f.name().to_string();
        let mut buf = Vec::new();
        (&mut f)
            .take(MAX_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|_| bad("压缩包已损坏"))?;
        if buf.len() as u64 > MAX_FILE {
            return Err(bad("压缩包内文件过大"));
        }
        if name == "manifest.json" {
            manifest =
                Some(serde_json::from_slice(&buf).map_err(|_| bad("manifest.json 无法读取"))?);
        } else if let Some(rest) = name.strip_prefix("documents/") {
            let named = rest.split('.').next().unwrap_or("").to_string();
            files.push((named, crate::crypto::sm3_hex(&buf)));
        }
    }
    let m = manifest.ok_or_else(|| bad("缺少 manifest.json"))?;
    let mut rep = VerifyReport {
        recruit_id: m.recruit.get("id").and_then(|v| v.as_i64()),
        audit_entries: m.audit.len(),
        documents: m.documents.len(),
        ..Default::default()
    };
    let rid = rep.recruit_id.ok_or_else(|| bad("档案缺少发展对象编号"))?;
    let (_, path) = store::get(ctx, rid).await?;
    p.authorize(Perm::RecruitRead, Some(&path))?;
    // 1. every audit entry recomputes to its hash and is the chain's entry at that seq
    for a in &m.audit {
        if audit::expected_hash(ctx, a).await?.as_deref() != Ok(a.hash.as_str()) {
            rep.problems.push(format!(
                "审计记录 {} 的内容与其哈希不符（档案被改动）",
                a.seq
            ));
            continue;
        }
        if a.object_type != "recruit" || a.object_id != rid.to_string() {
            rep.problems
                .push(format!("审计记录 {} 不属于该发展对象", a.seq));
        }
        let live = on_db!(&ctx.db, pool => {
            sqlx::query("SELECT hash FROM audit_log WHERE seq = $1").bind(a.seq).fetch_optional(pool).await?
                .map(|r| r.string("hash")).transpose()?
        });
        if live.as_deref() != Some(a.hash.as_str()) {
            rep.problems
                .push(format!("审计记录 {} 与平台审计链不一致", a.seq));
        }
    }
    // 2. every step entry's digest is in the chain
    let entries: Vec<Entry> = serde_json::from_value(m.entries.clone()).unwrap_or_default();
    rep.steps = entries.len();
    let in_chain = |needle: &str| m.audit.iter().any(|a| a.after_json.contains(needle));
    for e in &entries {
        let again = store::entry_digest(rid, e.step, e.done_on, &e.data, &e.note, e.recorded_by);
        if again != e.digest {
            rep.problems.push(format!(
                "第{}步记录（{}）的内容与其摘要不符（档案被改动）",
                e.step, e.done_on
            ));
        }
        if !in_chain(&e.digest) {
            rep.problems
                .push(format!("第{}步记录（{}）不在审计链中", e.step, e.done_on));
        }
    }
    // 3. every document's bytes hash to its digest, which the chain holds
    for d in &m.documents {
        match files.iter().find(|(n, _)| n == &d.digest) {
            None => rep.problems.push(format!("缺少材料文件 {}", d.filename)),
            Some((_, actual)) if actual != &d.digest => rep.problems.push(format!(
                "材料“{}”的内容与摘要不符（文件被改动）",
                d.filename
            )),
            _ => {}
        }
        if !in_chain(&d.digest) {
            rep.problems
                .push(format!("材料“{}”的摘要不在审计链中", d.filename));
        }
    }
    for (named, actual) in &files {
        if named != actual {
            rep.problems
                .push(format!("文件 documents/{named} 的内容与文件名摘要不符"));
        }
    }
    // 4. the chain itself is intact
    if let audit::VerifyOutcome::Broken { seq, reason } = audit::verify(ctx).await? {
        rep.problems
            .push(format!("平台审计链在序号 {seq} 处断裂：{reason}"));
    }
    rep.ok = rep.problems.is_empty();
    Ok(rep)
}

/// How a signature proved its signer's presence, in the archive's words.
pub fn signature_method_label(method: &str) -> &'static str {
    SIGNATURE_METHODS
        .iter()
        .find(|m| m.0 == method)
        .map(|m| m.1)
        .unwrap_or("其他方式")
}

/// How a record was signed: (method, label).
pub const SIGNATURE_METHODS: [(&str, &str); 4] = [
    ("password", "密码签名"),
    ("totp", "动态口令签名"),
    ("paper", "纸质签名转录"),
    ("backfill", "补录（经办人签名）"),
];
