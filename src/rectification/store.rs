//! Persistence and use cases of the rectification ledger and the interview ledger. Every
//! change runs in one transaction with its audit entry and bumps the item's `version`, so two
//! verifiers deciding the same close-out at once get one success and one conflict.

use super::{label, RectifyRules, SOURCES, STATUSES, UPDATE_KINDS};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Tx, Val};
use crate::error::{AppError, AppResult};
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub async fn rules_for(ctx: &Ctx, path: &str) -> AppResult<RectifyRules> {
    Ok(crate::rules::effective::<RectifyRules>(&ctx.db, path)
        .await?
        .0)
}

// ---- items ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    pub id: i64,
    /// The organisation responsible.
    pub org_id: i64,
    pub org_name: String,
    /// The organisation whose verifiers close the item out.
    pub supervisor_id: i64,
    pub supervisor_name: String,
    /// review, inspection, self_check, visit, spot_check, interview, other
    pub source: String,
    /// A link to what found the problem, e.g. `interview:12`.
    pub source_ref: Option<String>,
    pub source_note: String,
    /// The person responsible (责任人).
    pub owner: String,
    pub problem: String,
    /// 任务书: what will be done.
    pub measures: String,
    /// 路线图: how and in which stages.
    pub plan: String,
    pub opened_on: NaiveDate,
    /// 时间表: the deadline.
    pub deadline: NaiveDate,
    pub extensions: i64,
    /// open, pending, closed
    pub status: String,
    pub closed_on: Option<NaiveDate>,
    pub requested_by: Option<i64>,
    pub version: i64,
}

impl Item {
    pub fn source_label(&self) -> &'static str {
        label(&SOURCES, &self.source)
    }
    pub fn status_label(&self) -> &'static str {
        label(&STATUSES, &self.status)
    }
    pub fn overdue(&self, today: NaiveDate) -> bool {
        super::overdue(self.deadline, self.closed_on, today)
    }
}

const COLUMNS: &str = "i.id, i.org_id, o.name AS org_name, o.path, i.supervisor_id, s.name AS supervisor_name, s.path AS supervisor_path, i.source, i.source_ref, i.source_note, i.owner, i.problem, i.measures, i.plan, i.opened_on, i.deadline, i.extensions, i.status, i.closed_on, i.requested_by, i.version";
const FROM: &str =
    " FROM rect_items i JOIN orgs o ON o.id = i.org_id JOIN orgs s ON s.id = i.supervisor_id";

/// An item with the paths of its organisation and of its supervisor.
pub struct Located {
    pub item: Item,
    pub path: String,
    pub supervisor_path: String,
}

fn row(r: &impl DbRow) -> DbResult<Located> {
    Ok(Located {
        item: Item {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            supervisor_id: r.i64("supervisor_id")?,
            supervisor_name: r.string("supervisor_name")?,
            source: r.string("source")?,
            source_ref: r.opt_string("source_ref")?,
            source_note: r.string("source_note")?,
            owner: r.string("owner")?,
            problem: r.string("problem")?,
            measures: r.string("measures")?,
            plan: r.string("plan")?,
            opened_on: r.date("opened_on")?,
            deadline: r.date("deadline")?,
            extensions: r.i64("extensions")?,
            status: r.string("status")?,
            closed_on: r.opt_date("closed_on")?,
            requested_by: r.opt_i64("requested_by")?,
            version: r.i64("version")?,
        },
        path: r.string("path")?,
        supervisor_path: r.string("supervisor_path")?,
    })
}

pub async fn get(ctx: &Ctx, id: i64) -> AppResult<Located> {
    let sql = format!("SELECT {COLUMNS}{FROM} WHERE i.id = $1");
    on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("整改事项")),
        }
    })
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<Item> {
    let sql = format!("SELECT {COLUMNS}{FROM} WHERE i.id = $1");
    on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(row(&r)?.item),
            None => Err(AppError::NotFound("整改事项")),
        }
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewItem {
    pub org_id: i64,
    /// Defaults to the parent organisation.
    pub supervisor_id: Option<i64>,
    pub source: String,
    pub source_ref: Option<String>,
    /// e.g. the inspection round or the visit it came from.
    pub source_note: String,
    pub owner: String,
    pub problem: String,
    pub measures: String,
    pub plan: String,
    pub opened_on: Option<NaiveDate>,
    pub deadline: Option<NaiveDate>,
}

fn text_check(
    c: &mut crate::error::Checks,
    v: &str,
    field: &str,
    what: &str,
    max: usize,
    required: bool,
) {
    let n = v.trim().chars().count();
    if (required && n == 0) || n > max {
        c.add(field, format!("请填写{what}（{max}字以内）"));
    }
}

/// Opens an item for an organisation in the caller's subtree, supervised by one of its
/// ancestors (the parent by default).
pub async fn create(ctx: &Ctx, p: &Principal, input: &NewItem) -> AppResult<Item> {
    let mut tx = ctx.db.begin().await?;
    let id = open_in(ctx, &mut tx, p, input).await?;
    let item = get_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(item)
}

/// Opens an item inside the caller's transaction (used by the review campaign's close and by
/// interviews); checks and audits like [`create`].
pub async fn open_in(ctx: &Ctx, tx: &mut Tx, p: &Principal, input: &NewItem) -> AppResult<i64> {
    let mut c = crate::error::Checks::default();
    c.check(
        SOURCES.iter().any(|(k, _)| *k == input.source),
        "source",
        "请选择问题来源",
    );
    text_check(&mut c, &input.owner, "owner", "整改责任人", 50, true);
    text_check(&mut c, &input.problem, "problem", "问题", 2000, true);
    text_check(
        &mut c,
        &input.measures,
        "measures",
        "整改措施（任务书）",
        2000,
        true,
    );
    text_check(&mut c, &input.plan, "plan", "整改路线图", 2000, false);
    text_check(
        &mut c,
        &input.source_note,
        "source_note",
        "来源说明",
        200,
        false,
    );
    c.check(input.opened_on.is_some(), "opened_on", "请填写发现日期");
    c.check(input.deadline.is_some(), "deadline", "请填写整改时限");
    c.finish()?;
    let (Some(opened_on), Some(deadline)) = (input.opened_on, input.deadline) else {
        return Err(AppError::field("deadline", "请填写整改时限"));
    };
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择责任组织"))?;
    p.authorize(Perm::RectifyWrite, Some(&org.path))?;
    let supervisor_id = match input.supervisor_id.or(org.parent_id) {
        Some(s) => s,
        None => {
            return Err(AppError::field(
                "supervisor_id",
                "最上级组织没有上级，无法指定核验销号的组织",
            ))
        }
    };
    let sup = crate::org::store::get(&ctx.db, supervisor_id)
        .await
        .map_err(|_| AppError::field("supervisor_id", "请选择核验组织"))?;
    if sup.id == org.id || !crate::org::in_subtree(&sup.path, &org.path) {
        return Err(AppError::field(
            "supervisor_id",
            "核验销号的组织须是责任组织的上级组织",
        ));
    }
    let r = rules_for(ctx, &org.path).await?;
    super::check_dates(opened_on, deadline, ctx.clock.today(), &r)?;
    let source_ref = input
        .source_ref
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(100).collect::<String>());
    let now = ctx.clock.now();
    let id = on_tx!(tx, c => {
        sqlx::query("INSERT INTO rect_items (org_id, supervisor_id, source, source_ref, source_note, owner, problem, measures, plan, opened_on, deadline, status, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13, $13) RETURNING id")
            .bind(org.id).bind(sup.id).bind(&input.source).bind(&source_ref).bind(input.source_note.trim())
            .bind(input.owner.trim()).bind(input.problem.trim()).bind(input.measures.trim()).bind(input.plan.trim())
            .bind(opened_on).bind(deadline).bind(p.account_id).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    let item = get_tx(tx, id).await?;
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: "rectify.open",
            object_type: "rect_item",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::to_value(&item).unwrap_or_default(),
        },
    )
    .await?;
    Ok(id)
}

// ---- updates ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Update {
    pub id: i64,
    pub item_id: i64,
    /// progress, request, pass, reject, extend
    pub kind: String,
    pub kind_label: String,
    pub done_on: NaiveDate,
    pub note: String,
    pub author: String,
    pub at: chrono::DateTime<Utc>,
    pub documents: Vec<Document>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RectifyDocument)]
pub struct Document {
    pub id: i64,
    pub item_id: i64,
    pub update_id: i64,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    /// SM3 of the content.
    pub digest: String,
}

pub async fn updates(ctx: &Ctx, item_id: i64) -> AppResult<Vec<Update>> {
    let (mut list, docs) = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, item_id, kind, done_on, note, author, at FROM rect_updates WHERE item_id = $1 ORDER BY id")
            .bind(item_id).fetch_all(p).await?;
        let list = rows.iter().map(|r| Ok(Update {
            id: r.i64("id")?,
            item_id: r.i64("item_id")?,
            kind_label: label(&UPDATE_KINDS, &r.string("kind")?).to_string(),
            kind: r.string("kind")?,
            done_on: r.date("done_on")?,
            note: r.string("note")?,
            author: r.string("author")?,
            at: r.ts("at")?,
            documents: Vec::new(),
        })).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT id, item_id, update_id, filename, mime, size, digest FROM rect_docs WHERE item_id = $1 ORDER BY id")
            .bind(item_id).fetch_all(p).await?;
        (list, rows.iter().map(doc_row).collect::<DbResult<Vec<_>>>()?)
    });
    for u in &mut list {
        u.documents = docs
            .iter()
            .filter(|d| d.update_id == u.id)
            .cloned()
            .collect();
    }
    Ok(list)
}

fn doc_row(r: &impl DbRow) -> DbResult<Document> {
    Ok(Document {
        id: r.i64("id")?,
        item_id: r.i64("item_id")?,
        update_id: r.i64("update_id")?,
        filename: r.string("filename")?,
        mime: r.string("mime")?,
        size: r.i64("size")?,
        digest: r.string("digest")?,
    })
}

pub async fn document(ctx: &Ctx, id: i64) -> AppResult<Document> {
    on_db!(&ctx.db, p => {
        match sqlx::query("SELECT id, item_id, update_id, filename, mime, size, digest FROM rect_docs WHERE id = $1").bind(id).fetch_optional(p).await? {
            Some(r) => Ok(doc_row(&r)?),
            None => Err(AppError::NotFound("佐证材料")),
        }
    })
}

/// An attachment to an update: the file name and its bytes.
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// What an update asks for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct UpdateInput {
    /// progress, request (the owner's side); pass, reject, extend (the verifier's side)
    pub kind: String,
    pub note: String,
    /// The date of the progress (today when absent).
    pub done_on: Option<NaiveDate>,
    /// `extend`: the new deadline.
    pub deadline: Option<NaiveDate>,
    /// The item version the caller saw; a decision on a changed item is refused (409).
    pub version: Option<i64>,
}

/// Records an update on an item: progress or a close-out request by the responsible side, or
/// the supervisor's decision (pass, reject) or extension.
pub async fn update(
    ctx: &Ctx,
    p: &Principal,
    item_id: i64,
    input: &UpdateInput,
    file: Option<Upload>,
) -> AppResult<Item> {
    let loc = get(ctx, item_id).await?;
    let item = &loc.item;
    // a decision taken on what the caller saw: if the item changed since, say so first
    if input.version.is_some_and(|v| v != item.version) {
        return Err(AppError::Conflict(
            "该事项刚被他人处理，请刷新后重试".into(),
        ));
    }
    let r = rules_for(ctx, &loc.path).await?;
    let today = ctx.clock.today();
    let note = input.note.trim();
    if note.chars().count() > 2000 {
        return Err(AppError::field("note", "说明不超过2000字"));
    }
    let done_on = input.done_on.unwrap_or(today);
    if done_on > today || done_on < item.opened_on {
        return Err(AppError::field("done_on", "日期应在发现日期与今天之间"));
    }
    if let Some(f) = &file {
        crate::blob::check(&f.bytes, r.max_document_mb)?;
    }
    let verifier_side = matches!(input.kind.as_str(), "pass" | "reject" | "extend");
    if verifier_side {
        // only the supervising organisation's verifiers decide, never the owner's side
        p.authorize(Perm::RectifyVerify, Some(&loc.supervisor_path))?;
    } else {
        p.authorize(Perm::RectifyWrite, Some(&loc.path))?;
    }
    let (status, closed_on, deadline, extensions, requested_by) = match input.kind.as_str() {
        "progress" => {
            if item.status == "closed" {
                return Err(AppError::refused("rectify.closed", "该事项已销号"));
            }
            if note.is_empty() {
                return Err(AppError::field("note", "请填写整改进展"));
            }
            (
                item.status.clone(),
                None,
                item.deadline,
                item.extensions,
                item.requested_by,
            )
        }
        "request" => {
            if item.status != "open" {
                return Err(AppError::refused(
                    "rectify.not_open",
                    format!("该事项{}，不能申请销号", item.status_label()),
                ));
            }
            super::check_request(note, file.is_some(), &r)?;
            (
                "pending".to_string(),
                None,
                item.deadline,
                item.extensions,
                Some(p.account_id),
            )
        }
        "pass" | "reject" => {
            if item.status != "pending" {
                return Err(AppError::refused(
                    "rectify.not_pending",
                    format!("该事项{}，没有待核验的销号申请", item.status_label()),
                ));
            }
            if item.requested_by == Some(p.account_id) {
                return Err(AppError::refused(
                    "rectify.self_verify",
                    "申请销号的人不能核验自己的申请",
                ));
            }
            if input.kind == "reject" && note.is_empty() {
                return Err(AppError::field("note", "退回整改须写明理由"));
            }
            if input.kind == "pass" {
                (
                    "closed".to_string(),
                    Some(done_on),
                    item.deadline,
                    item.extensions,
                    item.requested_by,
                )
            } else {
                (
                    "open".to_string(),
                    None,
                    item.deadline,
                    item.extensions,
                    None,
                )
            }
        }
        "extend" => {
            if item.status == "closed" {
                return Err(AppError::refused("rectify.closed", "该事项已销号"));
            }
            let new = input
                .deadline
                .ok_or_else(|| AppError::field("deadline", "请填写新的整改时限"))?;
            super::check_extension(item.deadline, new, item.extensions, note, &r)?;
            (
                item.status.clone(),
                None,
                new,
                item.extensions + 1,
                item.requested_by,
            )
        }
        _ => return Err(AppError::field("kind", "未知的操作")),
    };
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    // the state the decision was made on must still hold (two verifiers at once: one wins)
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE rect_items SET status = $1, closed_on = $2, deadline = $3, extensions = $4, requested_by = $5, version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8")
            .bind(&status).bind(closed_on).bind(deadline).bind(extensions).bind(requested_by).bind(now).bind(item.id).bind(item.version)
            .execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该事项刚被他人处理，请刷新后重试".into(),
        ));
    }
    let uid = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO rect_updates (item_id, kind, done_on, note, account_id, author, at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(item.id).bind(&input.kind).bind(done_on).bind(note).bind(p.account_id).bind(&p.display_name).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    let mut doc = serde_json::Value::Null;
    if let Some(f) = file {
        let mime = crate::blob::check(&f.bytes, r.max_document_mb)?;
        let name = crate::blob::clean_filename(&f.filename, "佐证材料");
        let digest = crate::blob::put(ctx, &mut tx, &f.bytes).await?;
        on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO rect_docs (item_id, update_id, filename, mime, size, digest, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(item.id).bind(uid).bind(&name).bind(mime).bind(f.bytes.len() as i64).bind(&digest).bind(now)
                .execute(&mut *c).await?;
        });
        doc = serde_json::json!({"filename": name, "mime": mime, "size": f.bytes.len(), "digest": digest});
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: match input.kind.as_str() {
                "progress" => "rectify.progress",
                "request" => "rectify.request",
                "pass" => "rectify.close",
                "reject" => "rectify.reject",
                _ => "rectify.extend",
            },
            object_type: "rect_item",
            object_id: item.id.to_string(),
            before: serde_json::json!({"status": item.status, "deadline": item.deadline, "version": item.version}),
            after: serde_json::json!({"update_id": uid, "status": status, "deadline": deadline, "closed_on": closed_on,
                "done_on": done_on, "note": note, "document": doc}),
        },
    )
    .await?;
    let out = get_tx(&mut tx, item.id).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- the ledger ----

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ItemFilter {
    pub org_id: Option<i64>,
    /// open, pending, closed, unclosed (open or pending), all; default unclosed
    pub status: Option<String>,
    pub source: Option<String>,
    /// overdue, soon (due within the rule's window)
    pub due: Option<String>,
    /// Searches the problem and the owner.
    pub q: Option<String>,
    /// Opened at least this many days ago.
    pub min_age: Option<i64>,
    /// Items this account's organisation must verify.
    pub to_verify: Option<bool>,
    pub page: Option<i64>,
}

pub const PER_PAGE: i64 = 50;

/// The items whose owner (责任人) reads as the pinyin search `f.q`.
async fn owners_reading_as(ctx: &Ctx, scope_path: &str, f: &ItemFilter) -> AppResult<Vec<i64>> {
    crate::member::pinyin::matching(
        &ctx.db,
        "SELECT i.id, i.owner AS name FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE o.path >= $1 AND o.path < $2",
        scope_path,
        f.q.as_deref().unwrap_or(""),
    )
    .await
}

/// `pinyin`: the ids of the items whose owner a pinyin search of `f.q` found
/// ([`crate::member::pinyin::matching`]).
fn list_where(
    scope_path: &str,
    f: &ItemFilter,
    today: NaiveDate,
    soon_days: i64,
    pinyin: &[i64],
) -> SqlBuilder {
    let mut b = SqlBuilder::subtree("o.path", scope_path);
    match f.status.as_deref() {
        Some("all") => {}
        Some(s) if STATUSES.iter().any(|(k, _)| *k == s) => {
            b.and(" AND i.status = ?", Val::Str(s.to_string()))
        }
        _ => b.and(" AND i.status <> ?", Val::Str("closed".into())),
    }
    if let Some(s) = f
        .source
        .as_deref()
        .filter(|v| SOURCES.iter().any(|(k, _)| k == v))
    {
        b.and(" AND i.source = ?", Val::Str(s.to_string()));
    }
    match f.due.as_deref() {
        Some("overdue") => {
            b.and(" AND i.status <> ?", Val::Str("closed".into()));
            b.and(" AND i.deadline < ?", Val::Date(today));
        }
        Some("soon") => {
            b.and(" AND i.status <> ?", Val::Str("closed".into()));
            b.and(" AND i.deadline >= ?", Val::Date(today));
            b.and(
                " AND i.deadline <= ?",
                Val::Date(today + Duration::days(soon_days)),
            );
        }
        _ => {}
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", crate::member::store::like_escape(q));
        crate::member::pinyin::name_or_ids(
            &mut b,
            "i.problem LIKE ? ESCAPE '\\' OR i.owner LIKE ? ESCAPE '\\'",
            like,
            "i.id",
            pinyin,
        );
    }
    if let Some(days) = f.min_age.filter(|d| *d > 0) {
        b.and(
            " AND i.opened_on <= ?",
            Val::Date(today - Duration::days(days.min(36_500))),
        );
    }
    b
}

fn scope_for_verify(b: &mut SqlBuilder, p: &Principal) {
    let a = b.arg(Val::Str(p.org_path.clone()));
    b.push(&format!(" AND s.path >= {a} AND s.path < "));
    let a = b.arg(Val::Str(path_upper(&p.org_path)));
    b.push(&a);
    let a = b.arg(Val::Str("pending".into()));
    b.push(&format!(" AND i.status = {a}"));
}

/// Items under `scope_path`, the most urgent deadline first.
pub async fn list(
    ctx: &Ctx,
    p: &Principal,
    scope_path: &str,
    f: &ItemFilter,
) -> AppResult<(Vec<Item>, i64)> {
    let r = rules_for(ctx, scope_path).await?;
    let pinyin = owners_reading_as(ctx, scope_path, f).await?;
    let mut b = list_where(scope_path, f, ctx.clock.today(), r.due_soon_days, &pinyin);
    if f.to_verify == Some(true) {
        scope_for_verify(&mut b, p);
    }
    let page = f.page.unwrap_or(1).clamp(1, 100_000);
    let sql = format!(
        "SELECT {COLUMNS}{FROM}{} ORDER BY CASE WHEN i.status = 'closed' THEN 1 ELSE 0 END, i.deadline, i.id LIMIT {PER_PAGE} OFFSET {}",
        b.sql,
        (page - 1) * PER_PAGE
    );
    let count_sql = format!("SELECT COUNT(*) AS n{FROM}{}", b.sql);
    Ok(on_db!(&ctx.db, c => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(c).await?;
        let total = bind_vals!(sqlx::query(&count_sql), &b.vals).fetch_one(c).await?.i64("n")?;
        (rows.iter().map(|r| row(r).map(|x| x.item)).collect::<DbResult<Vec<_>>>()?, total)
    }))
}

/// Every item of the filter (for the export), in ledger order.
pub async fn all(
    ctx: &Ctx,
    p: &Principal,
    scope_path: &str,
    f: &ItemFilter,
) -> AppResult<Vec<Item>> {
    let r = rules_for(ctx, scope_path).await?;
    let pinyin = owners_reading_as(ctx, scope_path, f).await?;
    let mut b = list_where(scope_path, f, ctx.clock.today(), r.due_soon_days, &pinyin);
    if f.to_verify == Some(true) {
        scope_for_verify(&mut b, p);
    }
    let sql = format!(
        "SELECT {COLUMNS}{FROM}{} ORDER BY o.path, i.deadline, i.id LIMIT 100000",
        b.sql
    );
    Ok(on_db!(&ctx.db, c => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(c).await?;
        rows.iter().map(|r| row(r).map(|x| x.item)).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The ledger's headline numbers for a subtree.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = RectifyBoard)]
pub struct Board {
    pub open: i64,
    pub pending: i64,
    pub overdue: i64,
    pub due_soon: i64,
    pub closed_this_year: i64,
    /// Close-out requests this account's organisation must verify.
    pub to_verify: i64,
}

pub async fn board(ctx: &Ctx, p: &Principal, scope_path: &str) -> AppResult<Board> {
    let mut b = board_counts(ctx, scope_path).await?;
    if p.can(Perm::RectifyVerify) {
        b.to_verify = on_db!(&ctx.db, c => {
            sqlx::query("SELECT COUNT(*) AS n FROM rect_items i JOIN orgs s ON s.id = i.supervisor_id WHERE s.path >= $1 AND s.path < $2 AND i.status = 'pending'")
                .bind(&p.org_path).bind(path_upper(&p.org_path)).fetch_one(c).await?.i64("n")?
        });
    }
    Ok(b)
}

/// The subtree's numbers alone (`to_verify` 0: it depends on who asks).
pub async fn board_counts(ctx: &Ctx, scope_path: &str) -> AppResult<Board> {
    let upper = path_upper(scope_path);
    let today = ctx.clock.today();
    let r = rules_for(ctx, scope_path).await?;
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let soon = today + Duration::days(r.due_soon_days);
    on_db!(&ctx.db, c => {
        let row = sqlx::query("SELECT \
                SUM(CASE WHEN i.status = 'open' THEN 1 ELSE 0 END) AS open, \
                SUM(CASE WHEN i.status = 'pending' THEN 1 ELSE 0 END) AS pending, \
                SUM(CASE WHEN i.status <> 'closed' AND i.deadline < $3 THEN 1 ELSE 0 END) AS overdue, \
                SUM(CASE WHEN i.status <> 'closed' AND i.deadline >= $3 AND i.deadline <= $4 THEN 1 ELSE 0 END) AS soon, \
                SUM(CASE WHEN i.status = 'closed' AND i.closed_on >= $5 THEN 1 ELSE 0 END) AS closed \
             FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE o.path >= $1 AND o.path < $2")
            .bind(scope_path).bind(&upper).bind(today).bind(soon).bind(year_start)
            .fetch_one(c).await?;
        Ok(Board {
            open: row.opt_i64("open")?.unwrap_or(0),
            pending: row.opt_i64("pending")?.unwrap_or(0),
            overdue: row.opt_i64("overdue")?.unwrap_or(0),
            due_soon: row.opt_i64("soon")?.unwrap_or(0),
            closed_this_year: row.opt_i64("closed")?.unwrap_or(0),
            to_verify: 0,
        })
    })
}

// ---- the monthly bulletin (每月通报) ----

/// One line of the bulletin: a child organisation of the scope and its items at month end.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BulletinRow {
    pub org_id: i64,
    pub org_name: String,
    /// Not closed at the end of the month.
    pub open: i64,
    pub opened_in_month: i64,
    pub closed_in_month: i64,
    /// Not closed and past the deadline at the end of the month.
    pub overdue: i64,
    /// Items overdue at some point this year (closed late or still late).
    pub overdue_this_year: i64,
    /// Points the organisation loses in the next campaign (`overdue_this_year` × rule value).
    pub penalty: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bulletin {
    pub org_id: i64,
    pub org_name: String,
    /// YYYY-MM
    pub month: String,
    pub month_end: NaiveDate,
    pub rows: Vec<BulletinRow>,
    pub total: BulletinRow,
    /// The items overdue at the end of the month, oldest deadline first.
    pub overdue_items: Vec<Item>,
}

/// The first and last day of `YYYY-MM`.
pub fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = month.split_once('-')?;
    let start = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
    let next = start.checked_add_months(chrono::Months::new(1))?;
    Some((start, next - Duration::days(1)))
}

/// [`bulletin_uncached`] as a heavy read (`crate::heavy`): bounded, shared by identical
/// concurrent requests, refused quickly when the server is full of them.
pub async fn bulletin(ctx: &Ctx, org: &crate::org::Org, month: &str) -> AppResult<Bulletin> {
    let key = format!("rectify.bulletin|{}|{month}", org.id);
    ctx.heavy
        .run_cloned(&key, || bulletin_uncached(ctx, org, month))
        .await
}

async fn bulletin_uncached(ctx: &Ctx, org: &crate::org::Org, month: &str) -> AppResult<Bulletin> {
    let (start, month_end) =
        month_bounds(month).ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    // the current month is counted as of today: an item due later this month is not overdue
    // yet (and costs no deduction), as on the ledger and in the review's deduction
    let end = month_end.min(ctx.clock.today());
    let r = rules_for(ctx, &org.path).await?;
    let upper = path_upper(&org.path);
    let year_start = NaiveDate::from_ymd_opt(end.year(), 1, 1).unwrap_or(start);
    // the scope's items, folded per child organisation in memory (one indexed range scan)
    let (children, items) = on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT id, name, path FROM orgs WHERE parent_id = $1 AND dissolved_at IS NULL ORDER BY sort, id")
            .bind(org.id).fetch_all(c).await?;
        let children = rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.string("path")?))).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT o.path, i.opened_on, i.deadline, i.closed_on FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE o.path >= $1 AND o.path < $2 AND i.opened_on <= $3")
            .bind(&org.path).bind(&upper).bind(end).fetch_all(c).await?;
        let items = rows.iter().map(|r| Ok((r.string("path")?, r.date("opened_on")?, r.date("deadline")?, r.opt_date("closed_on")?))).collect::<DbResult<Vec<_>>>()?;
        (children, items)
    });
    let fold = |row: &mut BulletinRow,
                opened: NaiveDate,
                deadline: NaiveDate,
                closed: Option<NaiveDate>| {
        let closed_by_end = closed.filter(|c| *c <= end);
        if closed_by_end.is_none() {
            row.open += 1;
            if deadline < end {
                row.overdue += 1;
            }
        }
        if opened >= start {
            row.opened_in_month += 1;
        }
        if closed_by_end.is_some_and(|c| c >= start) {
            row.closed_in_month += 1;
        }
        if deadline >= year_start && super::overdue(deadline, closed_by_end, end) {
            row.overdue_this_year += 1;
        }
    };
    let mut rows: Vec<BulletinRow> = children
        .iter()
        .map(|(id, name, _)| BulletinRow {
            org_id: *id,
            org_name: name.clone(),
            ..Default::default()
        })
        .collect();
    let mut total = BulletinRow {
        org_id: org.id,
        org_name: org.name.clone(),
        ..Default::default()
    };
    let mut own = BulletinRow {
        org_id: org.id,
        org_name: format!("{}（本级）", org.name),
        ..Default::default()
    };
    for (path, opened, deadline, closed) in &items {
        fold(&mut total, *opened, *deadline, *closed);
        match children
            .iter()
            .position(|(_, _, cp)| crate::org::in_subtree(cp, path))
        {
            Some(i) => fold(&mut rows[i], *opened, *deadline, *closed),
            None => fold(&mut own, *opened, *deadline, *closed),
        }
    }
    if own.open + own.closed_in_month + own.opened_in_month + own.overdue_this_year > 0 {
        rows.insert(0, own);
    }
    for row in rows.iter_mut().chain(std::iter::once(&mut total)) {
        row.penalty = super::penalty(row.overdue_this_year, &r);
    }
    // the worst first: most overdue, then most open
    rows.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.open.cmp(&a.open)));
    let sql = format!(
        "SELECT {COLUMNS}{FROM} WHERE o.path >= $1 AND o.path < $2 AND i.opened_on <= $3 AND i.deadline < $3 AND (i.closed_on IS NULL OR i.closed_on > $3) ORDER BY i.deadline, i.id LIMIT 500"
    );
    let overdue_items = on_db!(&ctx.db, c => {
        let rows = sqlx::query(&sql).bind(&org.path).bind(&upper).bind(end).fetch_all(c).await?;
        rows.iter().map(|r| row(r).map(|x| x.item)).collect::<DbResult<Vec<_>>>()?
    });
    Ok(Bulletin {
        org_id: org.id,
        org_name: org.name.clone(),
        month: format!("{:04}-{:02}", start.year(), start.month()),
        month_end: end,
        rows,
        total,
        overdue_items,
    })
}

/// Items of an organisation's subtree overdue in `year` (closed late or still late): what
/// the next review campaign deducts for.
pub async fn overdue_in_year(ctx: &Ctx, org_path: &str, year: i32) -> AppResult<i64> {
    let today = ctx.clock.today();
    let (from, to) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today),
    );
    let cut = to.min(today);
    on_db!(&ctx.db, c => {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE o.path >= $1 AND o.path < $2 AND i.deadline >= $3 AND i.deadline <= $4 AND ((i.closed_on IS NULL AND i.deadline < $5) OR i.closed_on > i.deadline)")
            .bind(org_path).bind(path_upper(org_path)).bind(from).bind(to).bind(cut)
            .fetch_one(c).await?.i64("n")?)
    })
}

// ---- export ----

pub const EXPORT_HEADERS: [&str; 15] = [
    "序号",
    "责任组织",
    "整改责任人",
    "问题来源",
    "来源说明",
    "发现日期",
    "问题",
    "整改措施（任务书）",
    "整改路线图",
    "整改时限（时间表）",
    "延期次数",
    "状态",
    "销号日期",
    "是否逾期",
    "核验组织",
];

/// The ledger as printed by organisation departments: one row per item, every column.
pub fn export_xlsx(items: &[Item], title: &str, today: NaiveDate) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, FormatAlign, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("整改台账").map_err(err)?;
    let head = Format::new()
        .set_bold()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let cell = Format::new()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let titlef = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    ws.merge_range(0, 0, 0, (EXPORT_HEADERS.len() - 1) as u16, title, &titlef)
        .map_err(err)?;
    for (c, h) in EXPORT_HEADERS.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &head)
            .map_err(err)?;
    }
    for (i, it) in items.iter().enumerate() {
        let r = (i + 2) as u32;
        let cols = [
            (i + 1).to_string(),
            it.org_name.clone(),
            it.owner.clone(),
            it.source_label().to_string(),
            it.source_note.clone(),
            it.opened_on.to_string(),
            it.problem.clone(),
            it.measures.clone(),
            it.plan.clone(),
            it.deadline.to_string(),
            it.extensions.to_string(),
            it.status_label().to_string(),
            it.closed_on.map(|d| d.to_string()).unwrap_or_default(),
            if it.overdue(today) { "是" } else { "否" }.to_string(),
            it.supervisor_name.clone(),
        ];
        for (c, v) in cols.iter().enumerate() {
            ws.write_string_with_format(r, c as u16, v, &cell)
                .map_err(err)?;
        }
    }
    for (c, w) in [
        (0u16, 6.0),
        (1, 22.0),
        (2, 10.0),
        (3, 10.0),
        (4, 14.0),
        (5, 11.0),
        (6, 36.0),
        (7, 36.0),
        (8, 28.0),
        (9, 11.0),
        (10, 6.0),
        (11, 10.0),
        (12, 11.0),
        (13, 6.0),
        (14, 18.0),
    ] {
        ws.set_column_width(c, w).map_err(err)?;
    }
    ws.set_landscape();
    ws.set_repeat_rows(1, 1).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

// ---- interviews (约谈) ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Interview {
    pub id: i64,
    /// The organisation of the person interviewed.
    pub org_id: i64,
    pub org_name: String,
    pub interviewee: String,
    pub interviewer: String,
    pub reason: String,
    /// review (from a campaign's results), inspection, other ...
    pub source: String,
    pub source_ref: Option<String>,
    pub planned_on: NaiveDate,
    /// planned, held
    pub status: String,
    pub held_on: Option<NaiveDate>,
    pub minutes: Option<String>,
    pub version: i64,
}

const INTERVIEW_COLUMNS: &str = "v.id, v.org_id, o.name AS org_name, o.path, v.interviewee, v.interviewer, v.reason, v.source, v.source_ref, v.planned_on, v.status, v.held_on, v.minutes, v.version";

fn interview_row(r: &impl DbRow) -> DbResult<(Interview, String)> {
    Ok((
        Interview {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            interviewee: r.string("interviewee")?,
            interviewer: r.string("interviewer")?,
            reason: r.string("reason")?,
            source: r.string("source")?,
            source_ref: r.opt_string("source_ref")?,
            planned_on: r.date("planned_on")?,
            status: r.string("status")?,
            held_on: r.opt_date("held_on")?,
            minutes: r.opt_string("minutes")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

pub async fn interview(ctx: &Ctx, id: i64) -> AppResult<(Interview, String)> {
    let sql = format!("SELECT {INTERVIEW_COLUMNS} FROM interviews v JOIN orgs o ON o.id = v.org_id WHERE v.id = $1");
    on_db!(&ctx.db, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(c).await? {
            Some(r) => Ok(interview_row(&r)?),
            None => Err(AppError::NotFound("约谈记录")),
        }
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewInterview {
    pub org_id: i64,
    pub interviewee: String,
    pub interviewer: String,
    pub reason: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub planned_on: Option<NaiveDate>,
}

/// Records a planned interview inside the caller's transaction, audited.
pub async fn plan_interview_in(
    tx: &mut Tx,
    actor: &crate::audit::Actor,
    org_id: i64,
    input: &NewInterview,
) -> AppResult<i64> {
    let now = tx.now;
    let id = on_tx!(tx, c => {
        sqlx::query("INSERT INTO interviews (org_id, interviewee, interviewer, reason, source, source_ref, planned_on, status, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'planned', $8, $9, $9) RETURNING id")
            .bind(org_id).bind(input.interviewee.trim()).bind(input.interviewer.trim()).bind(input.reason.trim())
            .bind(&input.source).bind(input.source_ref.as_deref().map(str::trim).filter(|s| !s.is_empty()))
            .bind(input.planned_on).bind(actor.id).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        tx,
        actor,
        NewEntry {
            action: "interview.plan",
            object_type: "interview",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org_id, "interviewee": input.interviewee.trim(), "interviewer": input.interviewer.trim(),
                "reason": input.reason.trim(), "source": input.source, "source_ref": input.source_ref, "planned_on": input.planned_on}),
        },
    )
    .await?;
    Ok(id)
}

/// Plans an interview (from review results or by hand).
pub async fn create_interview(
    ctx: &Ctx,
    p: &Principal,
    input: &NewInterview,
) -> AppResult<Interview> {
    let mut c = crate::error::Checks::default();
    text_check(
        &mut c,
        &input.interviewee,
        "interviewee",
        "被约谈人",
        50,
        true,
    );
    text_check(
        &mut c,
        &input.interviewer,
        "interviewer",
        "约谈人",
        50,
        true,
    );
    text_check(&mut c, &input.reason, "reason", "约谈事由", 1000, true);
    c.check(
        SOURCES.iter().any(|(k, _)| *k == input.source),
        "source",
        "请选择约谈缘由的来源",
    );
    c.check(input.planned_on.is_some(), "planned_on", "请填写约谈日期");
    c.finish()?;
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择被约谈人所在组织"))?;
    p.authorize(Perm::RectifyWrite, Some(&org.path))?;
    let mut tx = ctx.db.begin().await?;
    let id = plan_interview_in(&mut tx, &p.actor(), org.id, input).await?;
    tx.commit().await?;
    Ok(interview(ctx, id).await?.0)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct HeldInput {
    pub held_on: Option<NaiveDate>,
    pub minutes: String,
    /// Problems raised in the interview, one per line: each becomes a ledger item.
    pub follow_ups: String,
    /// Deadline of the follow-up items.
    pub deadline: Option<NaiveDate>,
}

/// Records that an interview was held, its minutes, and opens a ledger item for each
/// follow-up problem (source `interview`, linked back), in one transaction.
pub async fn hold_interview(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &HeldInput,
) -> AppResult<(Interview, Vec<i64>)> {
    let (v, path) = interview(ctx, id).await?;
    p.authorize(Perm::RectifyWrite, Some(&path))?;
    if v.status == "held" {
        return Err(AppError::refused("interview.held", "该约谈已记录"));
    }
    let mut c = crate::error::Checks::default();
    text_check(&mut c, &input.minutes, "minutes", "约谈纪要", 5000, true);
    match input.held_on {
        None => c.add("held_on", "请填写约谈日期"),
        Some(d) if d > ctx.clock.today() => c.add("held_on", "日期不能晚于今天"),
        _ => {}
    }
    let problems: Vec<&str> = input
        .follow_ups
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    c.check(
        problems.len() <= 20,
        "follow_ups",
        "一次最多列出20个整改问题",
    );
    c.check(
        problems.is_empty() || input.deadline.is_some(),
        "deadline",
        "列出整改问题时请填写整改时限",
    );
    c.finish()?;
    let held_on = input
        .held_on
        .ok_or_else(|| AppError::field("held_on", "请填写约谈日期"))?;
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE interviews SET status = 'held', held_on = $1, minutes = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5")
            .bind(held_on).bind(input.minutes.trim()).bind(ctx.clock.now()).bind(id).bind(v.version)
            .execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该约谈刚被他人更新，请刷新后重试".into(),
        ));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "interview.held",
            object_type: "interview",
            object_id: id.to_string(),
            before: serde_json::json!({"status": v.status}),
            after: serde_json::json!({"status": "held", "held_on": held_on, "minutes": input.minutes.trim(), "follow_ups": problems}),
        },
    )
    .await?;
    let mut items = Vec::new();
    for problem in problems {
        let item = NewItem {
            org_id: v.org_id,
            supervisor_id: None,
            source: "interview".into(),
            source_ref: Some(format!("interview:{id}")),
            source_note: format!("{}约谈{}", v.interviewer, v.interviewee),
            owner: v.interviewee.clone(),
            problem: problem.to_string(),
            measures: "按约谈要求制定整改措施并限期整改".into(),
            plan: String::new(),
            opened_on: Some(held_on),
            deadline: input.deadline,
        };
        items.push(open_in(ctx, &mut tx, p, &item).await?);
    }
    tx.commit().await?;
    Ok((interview(ctx, id).await?.0, items))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct InterviewFilter {
    pub org_id: Option<i64>,
    /// planned, held; all by default
    pub status: Option<String>,
    pub page: Option<i64>,
}

pub async fn interviews(
    ctx: &Ctx,
    scope_path: &str,
    f: &InterviewFilter,
) -> AppResult<(Vec<Interview>, i64)> {
    let mut b = SqlBuilder::subtree("o.path", scope_path);
    if let Some(s) = f
        .status
        .as_deref()
        .filter(|s| *s == "planned" || *s == "held")
    {
        let a = b.arg(Val::Str(s.to_string()));
        b.push(&format!(" AND v.status = {a}"));
    }
    let page = f.page.unwrap_or(1).clamp(1, 100_000);
    let sql = format!(
        "SELECT {INTERVIEW_COLUMNS} FROM interviews v JOIN orgs o ON o.id = v.org_id{} ORDER BY v.planned_on DESC, v.id DESC LIMIT {PER_PAGE} OFFSET {}",
        b.sql,
        (page - 1) * PER_PAGE
    );
    let count = format!(
        "SELECT COUNT(*) AS n FROM interviews v JOIN orgs o ON o.id = v.org_id{}",
        b.sql
    );
    Ok(on_db!(&ctx.db, c => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(c).await?;
        let total = bind_vals!(sqlx::query(&count), &b.vals).fetch_one(c).await?.i64("n")?;
        (rows.iter().map(|r| interview_row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?, total)
    }))
}

/// The ledger items that came out of an interview.
pub async fn items_from(ctx: &Ctx, source_ref: &str) -> AppResult<Vec<Item>> {
    let sql = format!("SELECT {COLUMNS}{FROM} WHERE i.source_ref = $1 ORDER BY i.id");
    Ok(on_db!(&ctx.db, c => {
        let rows = sqlx::query(&sql).bind(source_ref).fetch_all(c).await?;
        rows.iter().map(|r| row(r).map(|x| x.item)).collect::<DbResult<Vec<_>>>()?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_their_bounds() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(
            month_bounds("2026-02"),
            Some((d(2026, 2, 1), d(2026, 2, 28)))
        );
        assert_eq!(
            month_bounds("2024-02"),
            Some((d(2024, 2, 1), d(2024, 2, 29)))
        );
        assert_eq!(
            month_bounds("2026-12"),
            Some((d(2026, 12, 1), d(2026, 12, 31)))
        );
        assert_eq!(month_bounds("2026-13"), None);
        assert_eq!(month_bounds("2026"), None);
    }
}
