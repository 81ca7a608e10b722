//! 工作台: what is waiting for *this* account, across capabilities, each with its deadline,
//! overdue first, one tap to the page that does it.
//!
//! The extension point: every capability contributes a [`Source`] to [`SOURCES`] — a function
//! from the context and the account to its to-dos. A source asks only what the account may
//! do (its permissions and its subtree) and answers from indexed queries, so the whole list of
//! a county account at city scale stays a few milliseconds per source (BENCHMARKS.md). A
//! capability that comes later (meetings, dues, first secretaries, ...) adds its function to
//! the list; nothing else changes.

use crate::auth::{Perm, Principal, Role};
use crate::db::{path_upper, DbRow};
use crate::error::AppResult;
use crate::{on_db, Ctx};
use chrono::{Datelike, NaiveDate};
use futures_util::future::BoxFuture;
use serde::Serialize;

/// One thing to do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Todo {
    /// The capability it comes from (`recruit`, `points`, `rectify`, ...).
    pub source: &'static str,
    /// What to do, in words (Chinese; the page translates the fixed parts).
    pub title: String,
    /// How many items it stands for, when it is a group (“5项积分申报待审核”).
    pub count: Option<i64>,
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
    /// The page that does it.
    pub link: String,
}

impl Todo {
    fn new(source: &'static str, title: String, link: String) -> Self {
        Todo {
            source,
            title,
            count: None,
            due_on: None,
            overdue: false,
            link,
        }
    }
    fn due(mut self, on: Option<NaiveDate>, today: NaiveDate) -> Self {
        self.due_on = on;
        self.overdue = on.is_some_and(|d| d < today);
        self
    }
    fn count(mut self, n: i64) -> Self {
        self.count = Some(n);
        self
    }
}

/// A capability's contribution: its to-dos for an account.
pub type Source = for<'a> fn(&'a Ctx, &'a Principal) -> BoxFuture<'a, AppResult<Vec<Todo>>>;

/// Every capability's source, in the order their items are listed when equally urgent.
pub const SOURCES: &[(&str, Source)] = &[
    ("circulars", |c, p| Box::pin(circulars(c, p))),
    ("recruit", |c, p| Box::pin(recruit(c, p))),
    ("transfers", |c, p| Box::pin(transfers(c, p))),
    ("points", |c, p| Box::pin(points(c, p))),
    ("rectify", |c, p| Box::pin(rectify(c, p))),
    ("review", |c, p| Box::pin(review(c, p))),
    ("stars", |c, p| Box::pin(stars(c, p))),
    ("orgs", |c, p| Box::pin(terms(c, p))),
    ("work_logs", |c, p| Box::pin(work_logs(c, p))),
    ("first_secretaries", |c, p| {
        Box::pin(first_secretaries(c, p))
    }),
    ("meetings", |c, p| Box::pin(meetings(c, p))),
    ("elections", |c, p| Box::pin(elections(c, p))),
    ("appraisals", |c, p| Box::pin(appraisals(c, p))),
];

/// How many to-dos a list shows of one source (the source's own page lists them all).
const PER_SOURCE: usize = 20;

/// The account's to-dos: overdue first, then by deadline, then the undated.
pub async fn todos(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let mut all = Vec::new();
    for (name, source) in SOURCES {
        match source(ctx, p).await {
            Ok(mut v) => {
                v.truncate(PER_SOURCE);
                all.extend(v);
            }
            // one capability failing never empties the others' list
            Err(e) => tracing::error!(source = name, error = %e, "workbench source failed"),
        }
    }
    order(&mut all);
    Ok(all)
}

/// (to-dos, overdue ones) for the navigation's badge, reused for a minute per account.
pub async fn counts(ctx: &Ctx, p: &Principal) -> AppResult<(i64, i64)> {
    Ok(ctx
        .figures
        .get_or_compute(&format!("todos|{}", p.account_id), || async {
            let all = todos(ctx, p).await?;
            Ok::<_, crate::error::AppError>((
                all.len() as i64,
                all.iter().filter(|t| t.overdue).count() as i64,
            ))
        })
        .await?
        .value)
}

/// Overdue first, then by deadline, then the undated (stable within each).
fn order(v: &mut [Todo]) {
    v.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(a.due_on.is_none().cmp(&b.due_on.is_none()))
            .then(a.due_on.cmp(&b.due_on))
    });
}

fn scope(p: &Principal) -> (String, String) {
    (p.org_path.clone(), path_upper(&p.org_path))
}

async fn circulars(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let today = ctx.clock.today();
    Ok(crate::circular::store::inbox(ctx, p, 50)
        .await?
        .into_iter()
        .filter(|i| !i.done)
        .map(|i| {
            let what = if i.needs_receipt {
                if i.reminded {
                    "签收通知（已催办）"
                } else {
                    "签收通知"
                }
            } else {
                "阅读通知"
            };
            Todo::new(
                "circulars",
                format!("{what}：{}", i.title),
                format!("/circulars/{}", i.id),
            )
            .due(i.deadline, today)
        })
        .collect())
}

async fn recruit(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::RecruitWrite) {
        return Ok(Vec::new());
    }
    let today = ctx.clock.today();
    let mut out: Vec<Todo> = crate::recruit::store::queue(ctx, p)
        .await?
        .into_iter()
        .map(|q| {
            let verb = if q.action == "sign" {
                "签名"
            } else {
                "办理"
            };
            Todo::new(
                "recruit",
                format!(
                    "{verb}第{}步“{}”：{}（{}）",
                    q.step, q.step_name, q.name, q.org_name
                ),
                format!("/recruits/{}", q.recruit_id),
            )
            .due(q.due_on, today)
        })
        .collect();
    out.sort_by_key(|t| (!t.overdue, t.due_on.is_none(), t.due_on));
    // for the organisation department: files held up past their deadline below it
    if p.has_role(Role::OrgStaff) {
        let (lo, hi) = scope(p);
        let late = on_db!(&ctx.db, x => {
            sqlx::query("SELECT COUNT(*) AS n FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND r.status = 'active' AND r.due_on < $3")
                .bind(&lo).bind(&hi).bind(today).fetch_one(x).await?.i64("n")?
        });
        if late > 0 {
            out.push(
                Todo::new(
                    "recruit",
                    format!("督办：本辖区{late}份发展党员档案已逾期"),
                    "/recruits?due=overdue".into(),
                )
                .count(late)
                .due(Some(today - chrono::Duration::days(1)), today),
            );
        }
    }
    Ok(out)
}

async fn transfers(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::TransferWrite) {
        return Ok(Vec::new());
    }
    let (lo, hi) = scope(p);
    let n = on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM transfers t JOIN orgs o ON o.id = t.to_org_id WHERE t.status = 'sent' AND o.path >= $1 AND o.path < $2")
            .bind(&lo).bind(&hi).fetch_one(x).await?.i64("n")?
    });
    Ok(if n > 0 {
        vec![Todo::new(
            "transfers",
            format!("接收{n}个转入的组织关系"),
            "/transfers?status=sent".into(),
        )
        .count(n)]
    } else {
        Vec::new()
    })
}

async fn points(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::PointsWrite) {
        return Ok(Vec::new());
    }
    let today = ctx.clock.today();
    // a member's claim is decided by the branch (its page lists them): the branch's to-do,
    // not every committee's above it
    let pending = on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM point_claims c WHERE c.status = 'pending' AND c.org_id = $1")
            .bind(p.org_id).fetch_one(x).await?.i64("n")?
    });
    let mut out = Vec::new();
    if pending > 0 {
        out.push(
            Todo::new(
                "points",
                format!("审核{pending}项积分申报"),
                format!("/points?org_id={}#claims", p.org_id),
            )
            .count(pending),
        );
    }
    // a branch's last month still open after its end
    let holds_members = on_db!(&ctx.db, x => {
        sqlx::query("SELECT kind FROM orgs WHERE id = $1").bind(p.org_id).fetch_optional(x).await?
            .map(|r| r.string("kind")).transpose()?
    })
    .is_some_and(|k| k == "branch" || k == "joint_branch");
    if holds_members {
        let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
        let last = first - chrono::Duration::days(1);
        let month = last.year() as i64 * 100 + last.month() as i64;
        let closed = on_db!(&ctx.db, x => {
            sqlx::query("SELECT month FROM point_closes WHERE org_id = $1 AND scope = 'members' AND month = $2")
                .bind(p.org_id).bind(month).fetch_optional(x).await?.is_some()
        });
        if !closed {
            out.push(
                Todo::new(
                    "points",
                    format!("{}年{}月积分评定关账", last.year(), last.month()),
                    format!(
                        "/points?org_id={}&month={}-{:02}",
                        p.org_id,
                        last.year(),
                        last.month()
                    ),
                )
                .due(Some(first + chrono::Duration::days(9)), today),
            );
        }
    }
    Ok(out)
}

async fn rectify(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let today = ctx.clock.today();
    let (lo, hi) = scope(p);
    let mut out = Vec::new();
    if p.can(Perm::RectifyWrite) {
        // the account's own organisation answers its items
        let (n, first) = on_db!(&ctx.db, x => {
            let r = sqlx::query("SELECT COUNT(*) AS n, MIN(deadline) AS first FROM rect_items WHERE org_id = $1 AND status = 'open'")
                .bind(p.org_id).fetch_one(x).await?;
            (r.i64("n")?, r.opt_date("first")?)
        });
        if n > 0 {
            out.push(
                Todo::new(
                    "rectify",
                    format!(
                        "落实{n}项整改事项（最早的时限{}）",
                        first.map(|d| d.to_string()).unwrap_or_default()
                    ),
                    format!("/rectify?org_id={}&status=open", p.org_id),
                )
                .count(n)
                .due(first, today),
            );
        }
    }
    if p.can(Perm::RectifyVerify) {
        let n = on_db!(&ctx.db, x => {
            sqlx::query("SELECT COUNT(*) AS n FROM rect_items i JOIN orgs s ON s.id = i.supervisor_id WHERE i.status = 'pending' AND s.path >= $1 AND s.path < $2")
                .bind(&lo).bind(&hi).fetch_one(x).await?.i64("n")?
        });
        if n > 0 {
            out.push(
                Todo::new(
                    "rectify",
                    format!("核验{n}项整改事项的销号申请"),
                    "/rectify?status=pending".into(),
                )
                .count(n),
            );
        }
    }
    Ok(out)
}

async fn review(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let mut out = Vec::new();
    if p.can(Perm::ReviewReport) {
        // the account's own organisation's report, to write or to revise
        let rows = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT r.id, r.report_status, c.title FROM review_reporters r JOIN review_campaigns c ON c.id = r.campaign_id \
                 WHERE r.org_id = $1 AND c.status = 'reports' AND r.report_status IN ('draft', 'returned') ORDER BY r.id")
                .bind(p.org_id).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.string("report_status")?, r.string("title")?))).collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (id, status, title) in rows {
            let what = if status == "returned" {
                "修改被退回的述职报告"
            } else {
                "撰写述职报告"
            };
            out.push(Todo::new(
                "review",
                format!("{what}：{title}"),
                format!("/reviews/reporters/{id}"),
            ));
        }
    }
    if p.can(Perm::ReviewManage) {
        // reports waiting at a level this account's organisation reviews
        let rows = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT r.campaign_id, r.review_level, c.levels_json, c.level_orgs_json, c.org_id, c.title FROM review_reporters r \
                 JOIN review_campaigns c ON c.id = r.campaign_id WHERE r.report_status = 'submitted' AND c.status = 'reports' LIMIT 2000")
                .fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("campaign_id")?, r.i64("review_level")?, r.string("level_orgs_json")?, r.i64("org_id")?, r.string("title")?, r.string("levels_json")?)))
                .collect::<crate::db::DbResult<Vec<_>>>()?
        });
        let mut per: std::collections::BTreeMap<(i64, String), i64> = Default::default();
        for (cid, level, orgs, organiser, title, levels) in rows {
            let orgs: Vec<i64> = serde_json::from_str(&orgs).unwrap_or_default();
            let org = match orgs.get(level as usize) {
                Some(o) => *o,
                None => {
                    // campaigns from before level organisations: the defaults
                    let names: Vec<String> = serde_json::from_str(&levels).unwrap_or_default();
                    let parent = crate::org::store::find(&ctx.db, organiser)
                        .await?
                        .and_then(|o| o.parent_id);
                    match names.get(level as usize) {
                        Some(n) if n.starts_with("上级") => parent.unwrap_or(organiser),
                        _ => organiser,
                    }
                }
            };
            if org == p.org_id {
                *per.entry((cid, title)).or_default() += 1;
            }
        }
        for ((cid, title), n) in per {
            out.push(
                Todo::new(
                    "review",
                    format!("审核{n}份述职报告：{title}"),
                    format!("/reviews/{cid}"),
                )
                .count(n),
            );
        }
    }
    Ok(out)
}

async fn stars(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::StarsManage) {
        return Ok(Vec::new());
    }
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, year FROM star_rounds WHERE org_id = $1 AND status = 'scoring' ORDER BY id")
            .bind(p.org_id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("year")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    Ok(rows
        .into_iter()
        .map(|(id, year)| {
            Todo::new(
                "stars",
                format!("{year}年度星级党支部评分"),
                format!("/stars/{id}"),
            )
        })
        .collect())
}

async fn terms(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::OrgWrite) {
        return Ok(Vec::new());
    }
    // the subtree's branch warnings: a heavy read, its counts reused for a minute
    let today = ctx.clock.today();
    let (expired, ending) = ctx
        .figures
        .get_or_compute(&format!("terms|{}|{today}", p.org_path), || async {
            let key = format!("org.warnings|{}", p.org_path);
            let warned = ctx
                .heavy
                .run(&key, || {
                    crate::org::store::warned_branches(&ctx.db, &p.org_path)
                })
                .await?;
            let (mut expired, mut ending) = (0, 0);
            for b in warned.iter() {
                for w in &b.warnings {
                    match w.code {
                        "branch.term_expired" => expired += 1,
                        "branch.term_ending" => ending += 1,
                        _ => {}
                    }
                }
            }
            Ok::<_, crate::error::AppError>((expired, ending))
        })
        .await?
        .value;
    let mut out = Vec::new();
    // the elections page lists them with their days; the warnings page for those without it
    let link = if p.can(Perm::MeetingRead) {
        "/elections"
    } else {
        "/orgs/warnings"
    };
    if expired > 0 {
        out.push(
            Todo::new(
                "orgs",
                format!("{expired}个党支部任期已满未换届"),
                link.into(),
            )
            .count(expired)
            .due(Some(today - chrono::Duration::days(1)), today),
        );
    }
    if ending > 0 {
        out.push(Todo::new("orgs", format!("{ending}个党支部即将换届"), link.into()).count(ending));
    }
    Ok(out)
}

/// 换届选举: a branch's own term ending or ended, its election prepared and not yet counted;
/// for the levels above, elections to approve and 延期 to decide.
async fn elections(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    if !p.can(Perm::MeetingWrite) {
        return Ok(Vec::new());
    }
    let today = ctx.clock.today();
    let pend = crate::election::store::pending(ctx, p).await?;
    let mut out = Vec::new();
    if let Some(t) = pend.own_term {
        let title = if t.days_left < 0 {
            format!("本届任期已于{}届满，应按期换届", t.term_end)
        } else {
            format!("本届任期将于{}届满，请筹备换届选举", t.term_end)
        };
        out.push(
            Todo::new(
                "elections",
                title,
                format!("/elections?org_id={}", t.org_id),
            )
            .due(Some(t.term_end), today),
        );
    }
    for (id, day) in pend.own_prepared {
        out.push(
            Todo::new(
                "elections",
                "记录换届选举结果并报上级批复".into(),
                format!("/elections/{id}"),
            )
            .due(Some(day), today),
        );
    }
    for (id, name, what) in pend.to_decide {
        let (title, link) = if what == "election" {
            (
                format!("批复换届选举结果：{name}"),
                format!("/elections/{id}"),
            )
        } else {
            (
                format!("审批延期换届申请：{name}"),
                "/elections".to_string(),
            )
        };
        out.push(Todo::new("elections", title, link));
    }
    Ok(out)
}

/// 民主评议: a member's own self-assessment and ballot still owed; for those who run rounds,
/// the rounds of their subtree not yet decided and members in the last grade whose handling
/// is not recorded.
async fn appraisals(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let mut out = Vec::new();
    for x in crate::appraisal::store::mine(ctx, p).await? {
        if x.status == "decided" {
            continue;
        }
        if !x.self_done {
            out.push(Todo::new(
                "appraisals",
                format!("填写{}年度民主评议个人自评", x.year),
                format!("/appraisals/{}#self", x.id),
            ));
        }
        if x.status == "rating" && !x.rated {
            out.push(Todo::new(
                "appraisals",
                format!("参加{}年度民主测评", x.year),
                "/appraisals/rate".into(),
            ));
        }
    }
    if p.can(Perm::MeetingWrite) {
        for (id, name, status, unhandled) in crate::appraisal::store::pending(ctx, p).await? {
            let title = match status.as_str() {
                "open" => format!("民主评议进行中（个人自评）：{name}"),
                "rating" => format!("民主测评进行中，待评定：{name}"),
                _ => format!("{name}有{unhandled}名不合格党员待记录组织处置"),
            };
            out.push(Todo::new("appraisals", title, format!("/appraisals/{id}")));
        }
    }
    Ok(out)
}

/// 工作记实: the cadre's own weeks still owed and records returned to them; for the managing
/// department, the weeks missed in its subtree over the last four weeks.
async fn work_logs(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let today = ctx.clock.today();
    let zone = ctx.clock.zone();
    let mut out = Vec::new();
    if let Some((c, _)) = crate::cadre::store::of_account(ctx, p.account_id).await? {
        let owed = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT period, period_start, due_at FROM obligations WHERE kind = $1 AND subject_type = 'cadre' AND subject_id = $2 \
                                    AND status IN ('due', 'missed') ORDER BY period_start LIMIT 20")
                .bind(crate::work_log::OBLIGATION).bind(c.id).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.string("period")?, r.date("period_start")?, r.ts("due_at")?)))
                .collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (_, start, due) in owed {
            out.push(
                Todo::new(
                    "work_logs",
                    format!("填报工作记实（{}）", crate::obligation::week_label(start)),
                    format!("/work-logs?week={start}"),
                )
                .due(Some(zone.date_of(due)), today),
            );
        }
        let returned = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT id, week_start FROM work_logs WHERE cadre_id = $1 AND status = 'returned' ORDER BY week_start LIMIT 20")
                .bind(c.id).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.date("week_start")?))).collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (id, start) in returned {
            out.push(Todo::new(
                "work_logs",
                format!(
                    "修改后重新报送被退回的工作记实（{}）",
                    crate::obligation::week_label(start)
                ),
                format!("/work-logs?week={start}&returned={id}"),
            ));
        }
    }
    if p.can(Perm::CadreWrite) {
        let (lo, hi) = scope(p);
        let since = crate::obligation::monday_of(today) - chrono::Duration::days(28);
        let missed = on_db!(&ctx.db, x => {
            sqlx::query("SELECT COUNT(*) AS n FROM obligations b JOIN orgs o ON o.id = b.scope_org_id WHERE b.kind = $1 AND b.status = 'missed' \
                         AND b.period_start >= $2 AND o.path >= $3 AND o.path < $4")
                .bind(crate::work_log::OBLIGATION).bind(since).bind(&lo).bind(&hi).fetch_one(x).await?.i64("n")?
        });
        if missed > 0 {
            out.push(
                Todo::new(
                    "work_logs",
                    format!("{missed}份工作记实逾期未报（近四周），请督促"),
                    format!(
                        "/work-logs/board?state=missing&week={}",
                        crate::obligation::monday_of(today) - chrono::Duration::days(7)
                    ),
                )
                .count(missed),
            );
        }
    }
    Ok(out)
}

/// 第一书记: the first secretary's clock-in of a working day not yet made; the leaves waiting
/// for the township's or the county's decision.
async fn first_secretaries(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let mut out = Vec::new();
    let today = ctx.clock.today();
    if let Some((a, _)) = crate::first_secretary::store::of_account(ctx, p.account_id).await? {
        if a.status == "on_duty" && a.start_on.is_some_and(|s| s <= today) {
            let cal = crate::calendar::store::calendar(&ctx.db, today, today).await?;
            let clocked = on_db!(&ctx.db, x => {
                sqlx::query("SELECT COUNT(*) AS n FROM fs_checkins WHERE assignment_id = $1 AND local_day = $2")
                    .bind(a.id).bind(today).fetch_one(x).await?.i64("n")?
            });
            // 月度实绩报告: the months ended and not yet reported
            let zone = ctx.clock.zone();
            let owed = on_db!(&ctx.db, x => {
                let rows = sqlx::query("SELECT period, due_at FROM obligations WHERE kind = $1 AND subject_type = $2 AND subject_id = $3 \
                                        AND status IN ('due', 'missed') AND period_end < $4 ORDER BY period_start DESC LIMIT 12")
                    .bind(crate::first_secretary::results::OBLIGATION).bind(crate::first_secretary::results::SUBJECT)
                    .bind(a.id).bind(today).fetch_all(x).await?;
                rows.iter().map(|r| Ok((r.string("period")?, r.ts("due_at")?))).collect::<crate::db::DbResult<Vec<_>>>()?
            });
            // a month closed by the department cannot be reported any more: not a to-do
            let village = crate::first_secretary::store::load(ctx, a.id)
                .await?
                .1
                .village;
            let months: Vec<i64> = owed
                .iter()
                .filter_map(|(p, _)| crate::points::parse_month(p))
                .collect();
            let frozen = match village.as_deref() {
                Some(v) => crate::first_secretary::scoring::frozen_months(ctx, v, &months).await?,
                None => Vec::new(),
            };
            let mut owed: Vec<(String, chrono::DateTime<chrono::Utc>)> = owed
                .into_iter()
                .filter(|(p, _)| {
                    crate::points::parse_month(p).is_some_and(|m| !frozen.contains(&m))
                })
                .collect();
            owed.reverse();
            owed.truncate(3);
            for (period, due) in owed {
                out.push(
                    Todo::new(
                        "first_secretaries",
                        format!("报送{period}月度实绩报告"),
                        format!("/first-secretaries/{}#reports", a.id),
                    )
                    .due(Some(zone.date_of(due) - chrono::Duration::days(1)), today),
                );
            }
            if clocked == 0 && crate::calendar::is_working_day(today, &cal) {
                out.push(
                    Todo::new(
                        "first_secretaries",
                        "今天尚未驻村打卡".into(),
                        "/first-secretaries/checkin".into(),
                    )
                    .due(Some(today), today),
                );
            }
        }
    }
    if p.can(Perm::CadreWrite) {
        // 四个一 of the rounds this department runs: the periods begun and not yet recorded
        let zone = ctx.clock.zone();
        let owed = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT b.kind, b.period_start, b.due_at, r.id, r.name FROM obligations b JOIN fs_rounds r ON r.id = b.subject_id \
                                    WHERE b.subject_type = $1 AND b.scope_org_id = $2 AND b.status IN ('due', 'missed') AND b.period_start <= $3 \
                                    ORDER BY b.due_at, b.id LIMIT 20")
                .bind(crate::first_secretary::store::ROUND_SUBJECT).bind(p.org_id).bind(today).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.string("kind")?, r.date("period_start")?, r.ts("due_at")?, r.i64("id")?, r.string("name")?)))
                .collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (kind, start, due, round, name) in owed {
            let Some((_, label)) = crate::first_secretary::cadence_activity(&kind) else {
                continue;
            };
            let period =
                crate::first_secretary::cadence_period_label(&kind, start).unwrap_or_default();
            out.push(
                Todo::new(
                    "first_secretaries",
                    format!("组织第一书记{label}并记录（{period}，{name}）"),
                    format!("/first-secretaries/rounds/{round}#activities"),
                )
                .due(Some(zone.date_of(due) - chrono::Duration::days(1)), today),
            );
        }
    }
    if p.can(Perm::CadreRead) {
        // 一月一评分、一季一排名: the township's sheets, the department's close and publication
        for (title, link, n) in crate::first_secretary::scoring::todos(ctx, p).await? {
            out.push(Todo::new("first_secretaries", title, link).count(n));
        }
    }
    let waiting = crate::first_secretary::store::leaves_to_decide(ctx, p).await?;
    if let Some((l, a)) = waiting.first() {
        out.push(
            Todo::new(
                "first_secretaries",
                format!(
                    "{}条第一书记请假待审批（{}等）",
                    waiting.len(),
                    a.cadre_name
                ),
                format!("/first-secretaries/{}#leaves", a.id),
            )
            .count(waiting.len() as i64)
            .due(Some(l.from_on), today),
        );
    }
    Ok(out)
}

/// 组织生活: a member's sittings to attend; for those who run them, leave to decide, sittings
/// held and not yet filed, and the required sittings overdue (listed for a branch, counted for
/// a committee above).
async fn meetings(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Todo>> {
    let mut out = Vec::new();
    let today = ctx.clock.today();
    let now = ctx.clock.now();
    let zone = ctx.clock.zone();
    if let Some(me) = p.member_id {
        let rows = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT m.id, m.title, m.held_on, m.starts_at FROM meeting_attendance a JOIN meetings m ON m.id = a.meeting_id \
                                    WHERE a.member_id = $1 AND a.status = 'expected' AND m.status = 'notified' AND m.ends_at >= $2 ORDER BY m.starts_at LIMIT 10")
                .bind(me).bind(now).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.string("title")?, r.date("held_on")?, r.ts("starts_at")?)))
                .collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (id, title, day, starts) in rows {
            out.push(
                Todo::new(
                    "meetings",
                    format!(
                        "参加会议：{title}（{}）",
                        zone.local(starts).format("%m-%d %H:%M")
                    ),
                    format!("/meetings/{id}"),
                )
                .due(Some(day), today),
            );
        }
    }
    if !p.can(Perm::MeetingWrite) {
        return Ok(out);
    }
    let (lo, hi) = scope(p);
    let since = today - chrono::Duration::days(62);
    let (leave, unfiled) = on_db!(&ctx.db, x => {
        let leave = sqlx::query("SELECT m.id, m.title, m.held_on, COUNT(*) AS n FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                 JOIN meeting_attendance a ON a.meeting_id = m.id AND a.status = 'leave_asked' \
                                 WHERE m.held_on >= $1 AND m.status = 'notified' AND o.path >= $2 AND o.path < $3 GROUP BY m.id, m.title, m.held_on ORDER BY m.held_on LIMIT 20")
            .bind(today - chrono::Duration::days(1)).bind(&lo).bind(&hi).fetch_all(x).await?;
        let leave = leave.iter().map(|r| Ok((r.i64("id")?, r.string("title")?, r.date("held_on")?, r.i64("n")?)))
            .collect::<crate::db::DbResult<Vec<_>>>()?;
        let unfiled = sqlx::query("SELECT m.id, m.title, m.held_on FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                   WHERE m.held_on >= $1 AND m.held_on <= $2 AND m.status IN ('planned', 'notified') AND m.starts_at < $3 \
                                   AND o.path >= $4 AND o.path < $5 ORDER BY m.held_on LIMIT 20")
            .bind(since).bind(today).bind(now).bind(&lo).bind(&hi).fetch_all(x).await?;
        let unfiled = unfiled.iter().map(|r| Ok((r.i64("id")?, r.string("title")?, r.date("held_on")?)))
            .collect::<crate::db::DbResult<Vec<_>>>()?;
        (leave, unfiled)
    });
    let own = crate::org::store::get(&ctx.db, p.org_id).await?;
    let branch = own.kind.holds_members() || own.kind == crate::org::OrgKind::Group;
    if !branch {
        // above the branches: how many sittings are held and not filed, not each of them
        let n = on_db!(&ctx.db, x => {
            sqlx::query("SELECT COUNT(*) AS n FROM meetings m JOIN orgs o ON o.id = m.org_id \
                         WHERE m.held_on >= $1 AND m.held_on <= $2 AND m.status IN ('planned', 'notified') AND m.starts_at < $3 AND o.path >= $4 AND o.path < $5")
                .bind(since).bind(today).bind(now).bind(&lo).bind(&hi).fetch_one(x).await?.i64("n")?
        });
        if n > 0 {
            out.push(
                Todo::new(
                    "meetings",
                    "督促已召开的会议及时整理记录并归档".into(),
                    "/meetings/compliance".into(),
                )
                .count(n),
            );
        }
    }
    let (leave, unfiled) = if branch {
        (leave, unfiled)
    } else {
        (Vec::new(), Vec::new())
    };
    for (id, title, day, n) in leave {
        out.push(
            Todo::new(
                "meetings",
                format!("审批会议请假：{title}"),
                format!("/meetings/{id}"),
            )
            .count(n)
            .due(Some(day), today),
        );
    }
    for (id, title, day) in unfiled {
        out.push(
            Todo::new(
                "meetings",
                format!("整理会议记录并签字归档：{title}"),
                format!("/meetings/{id}"),
            )
            .due(Some(day + chrono::Duration::days(7)), today),
        );
    }
    // 落实: the decisions of filed records not yet carried out, by their deadlines
    if branch {
        let open = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT m.id, m.decisions_json FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                    WHERE m.status = 'filed' AND m.held_on >= $1 AND o.path >= $2 AND o.path < $3 AND m.decisions_json <> '[]' \
                                    ORDER BY m.held_on LIMIT 200")
                .bind(today - chrono::Duration::days(400)).bind(&lo).bind(&hi).fetch_all(x).await?;
            // what is already carried out, in one query by the records' ids (integers, so the
            // list is safe to write into the text; a join by path would scan every record done)
            let ids = rows.iter().map(|r| r.i64("id").map(|i| i.to_string())).collect::<crate::db::DbResult<Vec<_>>>()?;
            let done = if ids.is_empty() { Vec::new() } else {
                sqlx::query(&format!("SELECT meeting_id, seq FROM meeting_decisions_done WHERE meeting_id IN ({})", ids.join(",")))
                    .fetch_all(x).await?
            };
            let done = done
                .iter().map(|d| Ok((d.i64("meeting_id")?, d.i64("seq")?))).collect::<crate::db::DbResult<std::collections::HashSet<_>>>()?;
            let mut out = Vec::new();
            for r in rows {
                let id = r.i64("id")?;
                let list: Vec<crate::meeting::store::Decision> = serde_json::from_str(&r.string("decisions_json")?).unwrap_or_default();
                for (i, d) in list.into_iter().enumerate() {
                    if !done.contains(&(id, i as i64)) {
                        out.push((id, d));
                    }
                }
            }
            out
        });
        for (id, d) in open.into_iter().take(20) {
            let who = if d.owner.is_empty() {
                String::new()
            } else {
                format!("（{}）", d.owner)
            };
            out.push(
                Todo::new(
                    "meetings",
                    format!("落实会议决定：{}{who}", d.text),
                    format!("/meetings/{id}#decisions"),
                )
                .due(d.deadline, today),
            );
        }
    }
    // the required sittings past due and not filed
    if branch {
        let owed = on_db!(&ctx.db, x => {
            let rows = sqlx::query(&format!("SELECT b.kind, b.period, b.due_at FROM obligations b JOIN orgs o ON o.id = b.scope_org_id \
                                    WHERE b.kind IN {} AND b.status IN ('due', 'missed') AND b.due_at < $1 AND b.period_start >= $2 \
                                    AND o.path >= $3 AND o.path < $4 ORDER BY b.period_start LIMIT 20", crate::meeting::OBLIGATION_KINDS_SQL))
                .bind(now).bind(today - chrono::Duration::days(400)).bind(&lo).bind(&hi).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.string("kind")?, r.string("period")?, r.ts("due_at")?)))
                .collect::<crate::db::DbResult<Vec<_>>>()?
        });
        for (kind, period, due) in owed {
            let k = kind.trim_start_matches("meeting.");
            out.push(
                Todo::new(
                    "meetings",
                    format!("召开并归档{}（{period}）", crate::meeting::kind_label(k)),
                    format!("/meetings/year?org_id={}", own.id),
                )
                .due(Some(zone.date_of(due)), today),
            );
        }
    } else {
        let n = on_db!(&ctx.db, x => {
            sqlx::query(&format!("SELECT COUNT(DISTINCT b.subject_id) AS n FROM obligations b JOIN orgs o ON o.id = b.scope_org_id \
                         WHERE b.kind IN {} AND b.status = 'missed' AND b.period_start >= $1 AND o.path >= $2 AND o.path < $3", crate::meeting::OBLIGATION_KINDS_SQL))
                .bind(NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today)).bind(&lo).bind(&hi).fetch_one(x).await?.i64("n")?
        });
        if n > 0 {
            out.push(
                Todo::new(
                    "meetings",
                    "督促未按期召开三会一课的党支部".into(),
                    "/meetings/compliance".into(),
                )
                .count(n),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_first_then_by_deadline_then_undated() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
        let d = |n: i64| Some(today + chrono::Duration::days(n));
        let mut v = [
            Todo::new("a", "undated".into(), "/".into()),
            Todo::new("b", "in five days".into(), "/".into()).due(d(5), today),
            Todo::new("c", "late".into(), "/".into()).due(d(-3), today),
            Todo::new("d", "tomorrow".into(), "/".into()).due(d(1), today),
            Todo::new("e", "today".into(), "/".into()).due(d(0), today),
        ];
        order(&mut v);
        let order: Vec<&str> = v.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(
            order,
            ["late", "today", "tomorrow", "in five days", "undated"]
        );
        assert!(!v[1].overdue, "due today is not overdue");
    }
}
