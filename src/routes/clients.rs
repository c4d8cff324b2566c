//! The firm's Clients page: the clients a team member can open, and "Add client".

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::list::ListNav;
#[allow(unused_imports)]
use super::{redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::session::FlashKind;
use crate::auth::OrgContext;
use crate::db::models::workspace::ClientRow;
use crate::domain::listing::{ListParams, ListQuery};
use crate::domain::Name;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::{firm, ActionError, Conflict};

#[derive(Template)]
#[template(path = "clients/list.html")]
pub struct ClientsPage {
    l: Layout,
    org_id: i64,
    clients: Vec<ClientRow>,
    /// Clients matching the search (all of them without one).
    total: i64,
    nav: ListNav,
    can_add: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let query = ListQuery::parse(&params);
    let (page, total) = firm::clients(&state.db, &ctx.membership, query.clone()).await?;
    let org = ctx.membership.org_id.0;
    let nav = ListNav::new(format!("/orgs/{org}/clients"), &query, &page, "Search clients by name");
    render(ClientsPage {
        l: Layout::org(&session, "Clients", &ctx, "clients"),
        org_id: org,
        clients: page.rows,
        total,
        nav,
        can_add: firm::may_add_client(&ctx.membership).is_ok(),
    })
}

#[derive(Template)]
#[template(path = "clients/new.html")]
pub struct NewClientPage {
    l: Layout,
    org_id: i64,
    name: String,
    error: Option<String>,
}

pub async fn new_form(session: Session, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    require_add(&ctx)?;
    render(NewClientPage {
        l: Layout::org(&session, "Add client", &ctx, "clients"),
        org_id: ctx.membership.org_id.0,
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct NewClientForm {
    #[serde(default)]
    name: String,
}

impl NewClientPage {
    fn again(session: &Session, ctx: &OrgContext, name: &str, error: String) -> Result<HttpResponse, AppError> {
        let page = NewClientPage {
            l: Layout::org(session, "Add client", ctx, "clients"),
            org_id: ctx.membership.org_id.0,
            name: name.to_string(),
            error: Some(error),
        };
        render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page)
    }
}

pub async fn add(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    form: web::Form<NewClientForm>,
) -> Result<HttpResponse, AppError> {
    require_add(&ctx)?;
    let again = |error: String| NewClientPage::again(&session, &ctx, &form.name, error);
    let name = match Name::parse(&form.name, "client name", 120) {
        Ok(n) => n,
        Err(e) => return again(e),
    };
    let (org, actor) = (ctx.membership.org_id, ctx.user.user_id());
    match firm::add_client(&state.db, actor, org, name.clone()).await {
        Ok(ws) => Ok(redirect_with(
            &session,
            &format!("/w/{ws}/entities"),
            FlashKind::Success,
            format!("Client {} added. Add its entities next.", name.as_str()),
        )),
        Err(ActionError::Conflict(Conflict::NameTaken)) => {
            again(format!("Your firm already has a client called {}.", name.as_str()))
        }
        Err(e) => Err(e.into()),
    }
}

fn require_add(ctx: &OrgContext) -> Result<(), AppError> {
    firm::may_add_client(&ctx.membership)
        .map_err(|_| AppError::Forbidden("Only firm Admins and Managers can add clients."))
}
