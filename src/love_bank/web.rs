//! 爱心银行 pages and JSON API: a community's cards, goods and stock; one card with its
//! history and the forms to record a service or redeem goods; the monthly statement.

use super::store::{
    self, Card, EarnInput, Entry, Goods, NewCard, NewGoods, RedeemInput, Statement,
};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError,
};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Datelike;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/lovebank", get(bank_page))
        .route("/lovebank/cards", post(issue_page))
        .route("/lovebank/goods", post(goods_page))
        .route("/lovebank/goods/{id}/stock", post(stock_page))
        .route("/lovebank/cards/{id}", get(card_page))
        .route("/lovebank/cards/{id}/earn", post(earn_page))
        .route("/lovebank/cards/{id}/redeem", post(redeem_page))
        .route("/lovebank/entries/{id}/reverse", post(reverse_page))
        .route("/lovebank/statement", get(statement_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lovebank/cards", get(api_cards).post(api_issue))
        .route("/api/v1/lovebank/cards/{id}", get(api_card))
        .route("/api/v1/lovebank/cards/{id}/earn", post(api_earn))
        .route("/api/v1/lovebank/cards/{id}/redeem", post(api_redeem))
        .route("/api/v1/lovebank/entries/{id}/reverse", post(api_reverse))
        .route("/api/v1/lovebank/goods", get(api_goods).post(api_add_goods))
        .route("/api/v1/lovebank/goods/{id}/stock", post(api_stock))
        .route("/api/v1/lovebank/statement", get(api_statement))
}

async fn scope(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> Result<crate::org::Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), Perm::LoveRead).await
}

async fn load_card(ctx: &Ctx, p: &Principal, id: i64) -> Result<Card, AppError> {
    let (c, path) = store::card(ctx, id).await?;
    authorize(ctx, p, Perm::LoveRead, Some(&path)).await?;
    Ok(c)
}

fn this_month(ctx: &Ctx) -> String {
    let t = ctx.clock.today();
    format!("{:04}-{:02}", t.year(), t.month())
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct BankQuery {
    pub org_id: Option<i64>,
    /// Part of the holder's name.
    pub q: Option<String>,
    pub page: Option<i64>,
}

async fn bank_view(
    ctx: &Ctx,
    p: &Principal,
    q: &BankQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let org = scope(ctx, p, q.org_id).await?;
    let (cards, total) = store::cards(
        ctx,
        &org.path,
        q.q.as_deref().unwrap_or(""),
        q.page.unwrap_or(1),
    )
    .await?;
    let goods = store::goods(ctx, org.id).await?;
    let pages = crate::web::page_count(total, store::PER_PAGE);
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("org_id", &org.id.to_string());
    if let Some(v) = q.q.as_deref().filter(|v| !v.is_empty()) {
        s.append_pair("q", v);
    }
    Ok(context! {
        org => org, cards => cards, total => total, goods => goods, errors => errors, month => this_month(ctx),
        q => q.q.clone().unwrap_or_default(), today => ctx.clock.today(), qs => s.finish(), pages => pages,
        page => context! { page => q.page.unwrap_or(1).clamp(1, pages), total => total },
        can_write => p.can(Perm::LoveWrite),
    })
}

async fn bank_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BankQuery>,
) -> Result<Response, PageError> {
    let v = bank_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("lovebank.html", page_ctx(&p, "lovebank", v)))
}

/// A change on the bank's page: back to it, or the page with the refusal.
async fn on_bank(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    r: Result<String, AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let q = BankQuery {
                org_id: Some(org_id),
                ..Default::default()
            };
            let v = bank_view(ctx, p, &q, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "lovebank.html",
                page_ctx(p, "lovebank", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn issue_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewCard {
        org_id: form::num(&f, "org_id"),
        holder: form::text(&f, "holder"),
        id_number: form::text(&f, "id_number"),
        phone: form::text(&f, "phone"),
        address: form::text(&f, "address"),
        issued_on: form::date(&f, "issued_on"),
    };
    let r = store::issue(&ctx, &p, &input)
        .await
        .map(|c| format!("/lovebank/cards/{}?ok=created", c.id));
    on_bank(&ctx, &p, input.org_id, r).await
}

async fn goods_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewGoods {
        org_id: form::num(&f, "org_id"),
        name: form::text(&f, "name"),
        unit: form::text(&f, "unit"),
        price: form::num(&f, "price"),
        stock: form::num(&f, "stock"),
    };
    let r = store::add_goods(&ctx, &p, &input)
        .await
        .map(|g| format!("/lovebank?org_id={}&ok=saved", g.org_id));
    on_bank(&ctx, &p, input.org_id, r).await
}

async fn stock_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let g = store::goods_one(&ctx, id).await?;
    let r = store::restock(
        &ctx,
        &p,
        id,
        form::num(&f, "quantity"),
        &form::text(&f, "note"),
    )
    .await
    .map(|g| format!("/lovebank?org_id={}&ok=saved", g.org_id));
    on_bank(&ctx, &p, g.org_id, r).await
}

async fn card_view(
    ctx: &Ctx,
    p: &Principal,
    c: Card,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let (_, path) = store::card(ctx, c.id).await?;
    let rules = store::rules_for(ctx, &path).await?;
    let entries = store::entries(ctx, c.id).await?;
    let goods: Vec<Goods> = store::goods(ctx, c.org_id)
        .await?
        .into_iter()
        .filter(|g| g.active)
        .collect();
    let names: HashMap<String, String> = rules
        .services
        .iter()
        .map(|s| (s.key.clone(), s.name.clone()))
        .collect();
    Ok(context! {
        card => c, entries => entries, goods => goods, services => rules.services, names => names,
        errors => errors, today => ctx.clock.today(), can_write => p.can(Perm::LoveWrite),
        key => format!("{:x}", rand::random::<u64>()),
    })
}

async fn card_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = load_card(&ctx, &p, id).await?;
    let v = card_view(&ctx, &p, c, Vec::new()).await?;
    Ok(render("lovebank_card.html", page_ctx(&p, "lovebank", v)))
}

async fn on_card(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    r: Result<(), AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/lovebank/cards/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let c = load_card(ctx, p, id).await?;
            let v = card_view(ctx, p, c, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "lovebank_card.html",
                page_ctx(p, "lovebank", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn earn_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_card(&ctx, &p, id).await?;
    let input = EarnInput {
        service: form::text(&f, "service"),
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
        idempotency_key: f.get("key").cloned(),
    };
    let r = store::earn(&ctx, &p, id, &input).await.map(|_| ());
    on_card(&ctx, &p, id, r).await
}

async fn redeem_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_card(&ctx, &p, id).await?;
    let input = RedeemInput {
        goods_id: form::num(&f, "goods_id"),
        quantity: form::num(&f, "quantity"),
        idempotency_key: f.get("key").cloned(),
    };
    let r = store::redeem(&ctx, &p, id, &input).await.map(|_| ());
    on_card(&ctx, &p, id, r).await
}

async fn reverse_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let card_id = form::num(&f, "card_id");
    load_card(&ctx, &p, card_id).await?;
    let r = store::reverse(&ctx, &p, id, &form::text(&f, "reason"))
        .await
        .map(|_| ());
    on_card(&ctx, &p, card_id, r).await
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct StatementQuery {
    pub org_id: Option<i64>,
    /// YYYY-MM; this month by default.
    pub month: Option<String>,
}

async fn statement_of(ctx: &Ctx, p: &Principal, q: &StatementQuery) -> Result<Statement, AppError> {
    let org = scope(ctx, p, q.org_id).await?;
    let month = q
        .month
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| this_month(ctx));
    store::statement(ctx, &org, &month).await
}

async fn statement_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatementQuery>,
) -> Result<Response, PageError> {
    let s = statement_of(&ctx, &p, &q).await?;
    Ok(render(
        "lovebank_statement.html",
        page_ctx(&p, "lovebank", context! { s => s }),
    ))
}

// ---- JSON API ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct CardPage {
    pub items: Vec<Card>,
    pub total: i64,
}

/// Love-points cards under the caller's subtree (or `org_id`), by holder name.
#[utoipa::path(get, path = "/api/v1/lovebank/cards", tag = "lovebank", params(BankQuery),
    responses((status = 200, body = CardPage)))]
pub async fn api_cards(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BankQuery>,
) -> Result<Json<CardPage>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let (items, total) = store::cards(
        &ctx,
        &org.path,
        q.q.as_deref().unwrap_or(""),
        q.page.unwrap_or(1),
    )
    .await?;
    Ok(Json(CardPage { items, total }))
}

/// Issues a card.
#[utoipa::path(post, path = "/api/v1/lovebank/cards", tag = "lovebank", request_body = NewCard,
    responses((status = 200, body = Card), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_issue(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewCard>,
) -> Result<Json<Card>, ApiError> {
    Ok(Json(store::issue(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CardFile {
    pub card: Card,
    /// Newest first.
    pub entries: Vec<Entry>,
}

/// A card with its entries.
#[utoipa::path(get, path = "/api/v1/lovebank/cards/{id}", tag = "lovebank", params(("id" = i64, Path)),
    responses((status = 200, body = CardFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_card(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CardFile>, ApiError> {
    let card = load_card(&ctx, &p, id).await?;
    Ok(Json(CardFile {
        entries: store::entries(&ctx, id).await?,
        card,
    }))
}

/// Records a service on a card. An `Idempotency-Key` header (or `idempotency_key`) makes a
/// retry apply once.
#[utoipa::path(post, path = "/api/v1/lovebank/cards/{id}/earn", tag = "lovebank", params(("id" = i64, Path)), request_body = EarnInput,
    responses((status = 200, body = Entry), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_earn(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(mut b): Json<EarnInput>,
) -> Result<Json<Entry>, ApiError> {
    load_card(&ctx, &p, id).await?;
    b.idempotency_key = crate::idempotency::from_request(&headers, b.idempotency_key.take());
    Ok(Json(store::earn(&ctx, &p, id, &b).await?))
}

/// Redeems goods with a card: stock and balance go down together or not at all.
#[utoipa::path(post, path = "/api/v1/lovebank/cards/{id}/redeem", tag = "lovebank", params(("id" = i64, Path)), request_body = RedeemInput,
    responses((status = 200, body = Entry), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_redeem(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(mut b): Json<RedeemInput>,
) -> Result<Json<Entry>, ApiError> {
    load_card(&ctx, &p, id).await?;
    b.idempotency_key = crate::idempotency::from_request(&headers, b.idempotency_key.take());
    Ok(Json(store::redeem(&ctx, &p, id, &b).await?))
}

/// Cancels an entry by a reversing entry.
#[utoipa::path(post, path = "/api/v1/lovebank/entries/{id}/reverse", tag = "lovebank", params(("id" = i64, Path)), request_body = crate::web::ReverseBody,
    responses((status = 200, body = Entry), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_reverse(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<crate::web::ReverseBody>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(store::reverse(&ctx, &p, id, &b.reason).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
}

/// The goods of a community with their points and stock.
#[utoipa::path(get, path = "/api/v1/lovebank/goods", tag = "lovebank", params(OrgQuery),
    responses((status = 200, body = [Goods])))]
pub async fn api_goods(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Goods>>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(store::goods(&ctx, org.id).await?))
}

/// Adds goods to a community's catalogue.
#[utoipa::path(post, path = "/api/v1/lovebank/goods", tag = "lovebank", request_body = NewGoods,
    responses((status = 200, body = Goods), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_add_goods(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewGoods>,
) -> Result<Json<Goods>, ApiError> {
    Ok(Json(store::add_goods(&ctx, &p, &b).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct StockBody {
    /// Received (positive) or written off (negative).
    pub quantity: i64,
    pub note: String,
}

/// Goods received or written off.
#[utoipa::path(post, path = "/api/v1/lovebank/goods/{id}/stock", tag = "lovebank", params(("id" = i64, Path)), request_body = StockBody,
    responses((status = 200, body = Goods), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_stock(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<StockBody>,
) -> Result<Json<Goods>, ApiError> {
    Ok(Json(
        store::restock(&ctx, &p, id, b.quantity, &b.note).await?,
    ))
}

/// A community's monthly statement, reconciled against the entries.
#[utoipa::path(get, path = "/api/v1/lovebank/statement", tag = "lovebank", params(StatementQuery),
    responses((status = 200, body = Statement), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_statement(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    Ok(Json(statement_of(&ctx, &p, &q).await?))
}
