//! "/": where a signed-in person belongs.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{redirect, render, Layout};
use crate::auth::extract::MaybeUser;
use crate::db::models::workspace::WorkspaceLink;
use crate::db::models::{organization, workspace};
use crate::error::AppError;
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "home/workspaces.html")]
pub struct WorkspacesPage {
    l: Layout,
    workspaces: Vec<WorkspaceLink>,
}

pub async fn home(state: web::Data<AppState>, session: Session, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(redirect("/login"));
    };
    let uid = user.user_id();
    let (orgs, workspaces) = state
        .db
        .read(move |c| Ok((organization::memberships_of(c, uid)?, workspace::direct_workspaces(c, uid)?)))
        .await?;
    if let Some(first) = orgs.first() {
        return Ok(redirect(&format!("/orgs/{}/clients", first.org_id)));
    }
    if let [only] = workspaces.as_slice() {
        return Ok(redirect(&format!("/w/{}/entities", only.id)));
    }
    render(WorkspacesPage { l: Layout::public(&session, "Your workspaces", Some(&user)), workspaces })
}

pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}
