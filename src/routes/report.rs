//! The access report: a client's (Settings → Access report) and the firm's (sidebar), on a
//! page and as a CSV download.

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{render, Layout, TimeWords};
use crate::auth::{OrgContext, WorkspaceContext};
use crate::domain::access::{self as rules, WorkspaceAction};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::report::{self as uc, ReportRow};

#[derive(Template)]
#[template(path = "report/access.html")]
struct AccessReportPage {
    l: Layout,
    /// The workspace's id, or None for the firm's report.
    ws_id: Option<i64>,
    /// The workspace's settings tabs (for those who open all of them: its Admins).
    tabs: bool,
    /// Whose access: "Acme Bakery" or "Ames & Co's clients".
    whose: String,
    rows: Vec<ReportRow>,
    hidden_entities: usize,
    csv_href: String,
}

pub async fn workspace_page(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let report = uc::for_workspace(&state.db, &ctx.access).await?;
    let ws = &ctx.access.workspace;
    render(AccessReportPage {
        l: Layout::workspace(&session, "Access report", &ctx, "settings"),
        ws_id: Some(ws.id.0),
        tabs: rules::may(&ctx.access.standing, WorkspaceAction::ViewActivity),
        whose: ws.name.clone(),
        rows: report.rows,
        hidden_entities: report.hidden_entities,
        csv_href: format!("/w/{}/settings/access-report.csv", ws.id),
    })
}

pub async fn workspace_csv(state: web::Data<AppState>, ctx: WorkspaceContext) -> Result<HttpResponse, AppError> {
    let report = uc::for_workspace(&state.db, &ctx.access).await?;
    Ok(download(uc::csv(&report, false), &ctx.access.workspace.name))
}

pub async fn firm_page(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let report = uc::for_firm(&state.db, &ctx.membership).await?;
    let org = &ctx.membership;
    render(AccessReportPage {
        l: Layout::org(&session, "Access report", &ctx, "report"),
        ws_id: None,
        tabs: false,
        whose: format!("{}'s clients", org.org_name),
        rows: report.rows,
        hidden_entities: 0,
        csv_href: format!("/orgs/{}/access-report.csv", org.org_id),
    })
}

pub async fn firm_csv(state: web::Data<AppState>, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    let report = uc::for_firm(&state.db, &ctx.membership).await?;
    Ok(download(uc::csv(&report, true), &ctx.membership.org_name))
}

/// A CSV attachment named after whose access it is and today's date:
/// `access-report-acme-bakery-2026-12-05.csv`.
fn download(body: String, whose: &str) -> HttpResponse {
    let mut slug = String::new();
    for c in whose.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let name = format!("access-report-{}{}{}.csv", slug, if slug.is_empty() { "" } else { "-" }, crate::clock::today());
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
