//! Page routes of every capability, and the home dashboard.

use super::{page_ctx, render, AppState, Auth, PageError};
use crate::auth::Perm;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use minijinja::context;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/workbench/count", get(todo_count))
        .merge(crate::auth::web::page_routes())
        .merge(crate::org::web::page_routes())
        .merge(crate::member::web::page_routes())
        .merge(crate::rules::web::page_routes())
        .merge(crate::recruit::web::page_routes())
        .merge(crate::calendar::web::page_routes())
        .merge(crate::recruit::talent_web::page_routes())
        .merge(crate::rectification::web::page_routes())
        .merge(crate::review::web::page_routes())
        .merge(crate::review::web::public_routes())
        .merge(crate::love_bank::web::page_routes())
        .merge(crate::points::web::page_routes())
        .merge(crate::stars::web::page_routes())
        .merge(crate::audit::web::page_routes())
        .merge(crate::circular::web::page_routes())
        .merge(crate::cadre::web::page_routes())
        .merge(crate::work_log::web::page_routes())
        .merge(crate::first_secretary::web::page_routes())
        .merge(crate::meeting::web::page_routes())
        .merge(crate::election::web::page_routes())
        .merge(crate::appraisal::web::page_routes())
}

/// One chart on the dashboard. Each capability contributes panels; the template draws
/// them with ECharts (`kind`: `bar`, `hbar`, `pie`, `line`) and lists the same numbers in a
/// table for screen readers and for a printout.
#[derive(serde::Serialize, Clone, Debug)]
pub struct Panel {
    pub id: &'static str,
    /// Title, a message id of the catalogue.
    pub title: &'static str,
    pub kind: &'static str,
    pub rows: Vec<(String, i64)>,
    /// Where the numbers can be examined (a filtered list), when there is such a page.
    pub link: Option<String>,
}

/// The titles of the foundation's panels (message ids).
pub const PANEL_TITLES: [&str; 12] = [
    "党员状态",
    "年龄结构",
    "学历结构",
    "近十年发展党员（按入党年份）",
    "性别",
    "党组织类别",
    "党支部设置提醒（支部工作条例）",
    "发展党员进度",
    "逾期事项",
    "整改台账",
    "党纪处分（留党察看期内及本年其他处分）",
    "积分排行（本年前10名党员）",
];

/// Capabilities that will add their panels here once they exist (shown as reserved places).
pub const RESERVED_PANELS: [&str; 0] = [];

/// Warnings about the platform itself that the account can act on (never cached).
#[derive(serde::Serialize, Clone, Debug)]
pub struct Alert {
    pub text: String,
    pub link: String,
}

async fn alerts(ctx: &crate::Ctx, p: &crate::auth::Principal) -> Vec<Alert> {
    let mut v = Vec::new();
    if p.can(Perm::RuleWrite) {
        let today = ctx.clock.today();
        match crate::calendar::store::missing_years(&ctx.db, today).await {
            Ok(years) => {
                for y in years {
                    v.push(Alert {
                        text: crate::i18n::format(
                            p.lang,
                            crate::calendar::MISSING_YEAR,
                            &[y.to_string()],
                        ),
                        link: format!("/calendar?year={y}"),
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the calendar's years"),
        }
    }
    v
}

async fn home(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    let alerts = alerts(&ctx, &p).await;
    // 工作台: what waits for this account, then what its role looks at
    let todos = crate::workbench::todos(&ctx, &p).await?;
    let notices = crate::circular::store::inbox(&ctx, &p, 5).await?;
    // a sender's last notices with how many have signed for them
    let sent = if p.can(crate::auth::Perm::CircularSend) {
        crate::circular::store::sent(&ctx, &p, 5).await?
    } else {
        Vec::new()
    };
    // a cadre (any role) files weekly records: their way to them, whatever the menu holds
    let cadre = crate::cadre::store::of_account(&ctx, p.account_id)
        .await?
        .is_some_and(|(c, _)| c.weekly_record && c.status == "active");
    // a first secretary on duty clocks in from here
    let on_duty = crate::first_secretary::store::of_account(&ctx, p.account_id)
        .await?
        .is_some_and(|(a, _)| a.status == "on_duty");
    let base = context! { alerts => alerts, todos => todos, notices => notices, sent => sent, cadre => cadre, on_duty => on_duty };
    let member = match p.member_id {
        Some(id) if p.has_role(crate::auth::Role::Member) => Some(member_glance(&ctx, id).await?),
        _ => None,
    };
    let branch = if p.has_role(crate::auth::Role::BranchSecretary) {
        Some(branch_glance(&ctx, &p).await?)
    } else {
        None
    };
    if !p.can(Perm::MemberRead) || branch.is_some() {
        let check = if p.can(Perm::AuditRead) {
            Some(crate::audit::checks::latest(&ctx).await?)
        } else {
            None
        };
        let files = if p.can(Perm::AuditRead) {
            crate::audit::web::files_for(&ctx, &p).await?
        } else {
            None
        };
        return Ok(render(
            "home.html",
            page_ctx(
                &p,
                "home",
                context! {
                    limited => true, auditor => check.is_some(), check => check.flatten(), files => files,
                    member => member, branch => branch, ..base
                },
            ),
        ));
    }
    let (recruit, rectify) = (p.can(Perm::RecruitRead), p.can(Perm::RectifyRead));
    let discipline = p.can(Perm::DisciplineRead);
    let points = p.can(Perm::PointsRead);
    let key = format!(
        "{}|{}|{}|{}|{}|{}",
        p.org_path,
        recruit,
        rectify,
        discipline,
        points,
        ctx.clock.today()
    );
    let d = ctx
        .dashboards
        .get_or_compute(&key, || async {
            // the recount is a heavy read (crate::heavy): bounded, and refused quickly when
            // the server is full of them (the cache answers the previous count meanwhile)
            ctx.heavy
                .run_cloned(&format!("dashboard|{key}"), || {
                    count_dashboard(
                        &ctx,
                        p.org_id,
                        &p.org_path,
                        recruit,
                        rectify,
                        discipline,
                        points,
                    )
                })
                .await
        })
        .await?;
    let counted_at = crate::clock::fmt_local(d.at, "%H:%M:%S");
    let Dashboard {
        total,
        org_total,
        warned,
        panels,
    } = d.value;
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|mut x| {
            for r in &mut x.rows {
                r.0 = crate::i18n::text(p.lang, &r.0).to_string();
            }
            x
        })
        .collect();
    Ok(render(
        "home.html",
        page_ctx(
            &p,
            "home",
            context! {
                limited => false, member => member,
                total => total, org_total => org_total, warned => warned,
                panels => panels, counted_at => counted_at, ..base
            },
        ),
    ))
}

/// The navigation's badge: how many to-dos, marked when some are overdue.
async fn todo_count(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    use axum::response::IntoResponse;
    let (n, late) = crate::workbench::counts(&ctx, &p).await?;
    // the page takes `.badge-count` only: a sign-in or password page answered instead (a
    // session that ended, a password owed) swaps in nothing
    let html = match (n, late) {
        (0, _) => "<span class=\"badge-count\"></span>".to_string(),
        (n, 0) => format!("<span class=\"badge-count\">{n}</span>"),
        (n, _) => format!("<span class=\"badge-count late\">{n}</span>"),
    };
    Ok(axum::response::Html(html).into_response())
}

/// The account's to-dos (工作台): overdue first, then by deadline; each with the page that
/// does it.
#[utoipa::path(get, path = "/api/v1/workbench", tag = "workbench", responses((status = 200, body = [crate::workbench::Todo])))]
pub async fn api_workbench(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<axum::Json<Vec<crate::workbench::Todo>>, super::ApiError> {
    Ok(axum::Json(crate::workbench::todos(&ctx, &p).await?))
}

/// A member's own glance: this year's points and rank, pending claims.
async fn member_glance(
    ctx: &crate::Ctx,
    member_id: i64,
) -> Result<minijinja::Value, crate::error::AppError> {
    let (m, _) = crate::member::store::get(ctx, member_id).await?;
    let branch = crate::org::store::get(&ctx.db, m.org_id).await?;
    let year = ctx.clock.today().year();
    let (mp, _) = crate::points::store::member_year(ctx, &branch, member_id, m.name, year).await?;
    let pending = mp.claims.iter().filter(|c| c.status == "pending").count();
    Ok(context! {
        year => year, total => mp.total, rank => mp.rank, branch_size => mp.branch_size, pending => pending,
        org_name => branch.name,
    })
}

/// A branch secretary's glance at the branch: members, last month's points closed or not,
/// open ledger items.
async fn branch_glance(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
) -> Result<minijinja::Value, crate::error::AppError> {
    use crate::db::DbRow;
    let (full, total) = crate::org::store::member_counts(&ctx.db, p.org_id).await?;
    let today = ctx.clock.today();
    let first = chrono::NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let last = first - chrono::Duration::days(1);
    let month = last.year() as i64 * 100 + last.month() as i64;
    let (closed, open_items, overdue_items) = crate::on_db!(&ctx.db, x => {
        let c = sqlx::query("SELECT month FROM point_closes WHERE org_id = $1 AND scope = 'members' AND month = $2")
            .bind(p.org_id).bind(month).fetch_optional(x).await?.is_some();
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN deadline < $2 THEN 1 ELSE 0 END), 0) AS late FROM rect_items WHERE org_id = $1 AND status <> 'closed'")
            .bind(p.org_id).bind(today).fetch_one(x).await?;
        (c, r.i64("n")?, r.i64("late")?)
    });
    Ok(context! {
        org_id => p.org_id, full => full, total => total, probationary => total - full,
        last_month => format!("{}-{:02}", last.year(), last.month()), closed => closed,
        open_items => open_items, overdue_items => overdue_items,
    })
}

/// A dashboard's numbers (panel labels still message ids), as counted for one subtree.
#[derive(Clone, Debug)]
pub struct Dashboard {
    pub total: i64,
    pub org_total: i64,
    pub warned: i64,
    pub panels: Vec<Panel>,
}

/// Counts the dashboard of the subtree at `path`: members, organisations, warnings and,
/// where the account may see them, recruitment and rectification.
#[allow(clippy::too_many_arguments)]
async fn count_dashboard(
    ctx: &crate::Ctx,
    org_id: i64,
    path: &str,
    recruit: bool,
    rectify: bool,
    discipline: bool,
    points: bool,
) -> Result<Dashboard, crate::error::AppError> {
    let today = ctx.clock.today();
    let year = today.year();
    // the panels' counts are independent: asked for at once, each on its own connection, so
    // the recount takes about its slowest part rather than their sum
    let (
        profile,
        orgs,
        warning_counts,
        recruit_panels,
        rectify_panel,
        discipline_panel,
        points_panel,
    ) = tokio::try_join!(
        crate::member::store::profile(ctx, path, year - 9, year, today),
        crate::org::store::subtree_stats(&ctx.db, path),
        crate::org::store::branch_warning_counts(&ctx.db, path),
        when(recruit, recruit_panels(ctx, path)),
        when(rectify, rectify_panel(ctx, path)),
        when(discipline, async {
            Ok(Panel {
                id: "discipline",
                title: PANEL_TITLES[10],
                kind: "hbar",
                rows: crate::member::discipline::counts(ctx, path).await?,
                link: None,
            })
        }),
        when(points, points_panel(ctx, org_id, year)),
    )?;
    let (stats, hist) = profile;
    let (warned, warnings) = warning_counts;
    let warnings: Vec<(String, i64)> = warnings
        .into_iter()
        .map(|(c, n)| (crate::org::store::warning_label(&c).to_string(), n))
        .collect();
    let years: Vec<(String, i64)> = hist
        .by_join_year
        .into_iter()
        .map(|(y, n)| (y.to_string(), n))
        .collect();
    let mut panels = vec![
        Panel {
            id: "status",
            title: PANEL_TITLES[0],
            kind: "pie",
            rows: stats.by_status,
            link: Some("/members".into()),
        },
        Panel {
            id: "age",
            title: PANEL_TITLES[1],
            kind: "bar",
            rows: hist.by_age_band,
            link: Some("/members".into()),
        },
        Panel {
            id: "education",
            title: PANEL_TITLES[2],
            kind: "hbar",
            rows: stats.by_education,
            link: Some("/members".into()),
        },
        Panel {
            id: "join_year",
            title: PANEL_TITLES[3],
            kind: "line",
            rows: years,
            link: None,
        },
        Panel {
            id: "gender",
            title: PANEL_TITLES[4],
            kind: "pie",
            rows: stats.by_gender,
            link: None,
        },
        Panel {
            id: "org_kind",
            title: PANEL_TITLES[5],
            kind: "bar",
            rows: orgs.orgs_by_kind,
            link: Some("/orgs".into()),
        },
        Panel {
            id: "warnings",
            title: PANEL_TITLES[6],
            kind: "hbar",
            rows: warnings,
            link: Some("/orgs/warnings".into()),
        },
    ];
    panels.extend(recruit_panels.into_iter().flatten());
    panels.extend(
        [rectify_panel, discipline_panel, points_panel]
            .into_iter()
            .flatten(),
    );
    Ok(Dashboard {
        total: stats.total,
        org_total: orgs.org_total,
        warned,
        panels,
    })
}

/// `f`'s answer when `on`; `f` (lazy, as every future) is not run otherwise.
async fn when<T>(
    on: bool,
    f: impl std::future::Future<Output = Result<T, crate::error::AppError>>,
) -> Result<Option<T>, crate::error::AppError> {
    if on {
        f.await.map(Some)
    } else {
        Ok(None)
    }
}

/// The recruitment panels: files by stage, and those due.
async fn recruit_panels(
    ctx: &crate::Ctx,
    path: &str,
) -> Result<[Panel; 2], crate::error::AppError> {
    let b = crate::recruit::store::board(ctx, path).await?;
    Ok([
        Panel {
            id: "recruit",
            title: PANEL_TITLES[7],
            kind: "bar",
            rows: crate::recruit::STAGES
                .iter()
                .zip(b.stages.iter())
                .map(|((_, l), n)| (l.to_string(), *n))
                .collect(),
            link: Some("/recruits".into()),
        },
        Panel {
            id: "due",
            title: PANEL_TITLES[8],
            kind: "bar",
            rows: vec![
                ("已逾期".to_string(), b.overdue),
                ("30天内到期".to_string(), b.due_soon),
            ],
            link: Some("/recruits?due=overdue".into()),
        },
    ])
}

/// The rectification panel: items open, waiting for verification, overdue, due soon.
async fn rectify_panel(ctx: &crate::Ctx, path: &str) -> Result<Panel, crate::error::AppError> {
    let b = crate::rectification::store::board_counts(ctx, path).await?;
    Ok(Panel {
        id: "rectify",
        title: PANEL_TITLES[9],
        kind: "bar",
        rows: vec![
            ("整改中".to_string(), b.open),
            ("待核验销号".to_string(), b.pending),
            ("已逾期".to_string(), b.overdue),
            ("即将到期".to_string(), b.due_soon),
        ],
        link: Some("/rectify?due=overdue".into()),
    })
}

/// The points panel: the year's ten best members of the subtree.
async fn points_panel(
    ctx: &crate::Ctx,
    org_id: i64,
    year: i32,
) -> Result<Panel, crate::error::AppError> {
    let org = crate::org::store::get(&ctx.db, org_id).await?;
    let y = year as i64;
    // already inside the dashboard's heavy turn: the ranking is computed here, not queued
    let r =
        crate::points::store::ranking_uncached(ctx, &org, y * 100 + 1, y * 100 + 12, 0, 10).await?;
    Ok(Panel {
        id: "points",
        title: PANEL_TITLES[11],
        kind: "hbar",
        rows: r
            .rows
            .into_iter()
            .map(|x| (format!("{}（{}）", x.name, x.org_name), x.total))
            .collect(),
        link: Some(format!("/points/ranking?org_id={org_id}&year={y}")),
    })
}
