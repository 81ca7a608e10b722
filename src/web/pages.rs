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
        .merge(crate::auth::web::page_routes())
        .merge(crate::org::web::page_routes())
        .merge(crate::member::web::page_routes())
        .merge(crate::rules::web::page_routes())
        .merge(crate::audit::web::page_routes())
}

/// Bars scaled to the largest value, for CSS charts.
fn bars(v: &[(String, i64)]) -> Vec<serde_json::Value> {
    let max = v.iter().map(|x| x.1).max().unwrap_or(1).max(1);
    v.iter()
        .map(|(k, n)| serde_json::json!({"label": k, "n": n, "pct": (n * 100 / max).max(1)}))
        .collect()
}

async fn home(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    if !p.can(Perm::MemberRead) {
        return Ok(render(
            "home.html",
            page_ctx(&p, "home", context! { limited => true }),
        ));
    }
    let stats = crate::member::store::stats(&ctx, &p.org_path).await?;
    let orgs = crate::org::store::subtree_stats(&ctx.db, &p.org_path).await?;
    let year = chrono::Local::now().year();
    let years = crate::member::store::join_year_counts(&ctx, &p.org_path, year - 9, year).await?;
    let (warned, warnings) = crate::org::store::branch_warning_counts(&ctx.db, &p.org_path).await?;
    let years: Vec<(String, i64)> = years.into_iter().map(|(y, n)| (y.to_string(), n)).collect();
    Ok(render(
        "home.html",
        page_ctx(
            &p,
            "home",
            context! {
                limited => false,
                total => stats.total, org_total => orgs.org_total,
                by_status => bars(&stats.by_status), by_education => bars(&stats.by_education),
                by_gender => bars(&stats.by_gender), by_kind => bars(&orgs.orgs_by_kind),
                by_year => bars(&years), warned => warned, warnings => bars(&warnings),
            },
        ),
    ))
}
