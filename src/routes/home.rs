//! "/": where a signed-in person belongs, and "/workspaces": every place they can open.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{redirect, render, Layout};
use crate::auth::extract::MaybeUser;
use crate::db::models::places::{self, FirmPlaces, Places};
use crate::error::AppError;
use crate::startup::AppState;

/// How many workspaces the chooser lists; a firm's Clients page lists all of its clients.
const CHOOSER_LIMIT: i64 = 500;

#[derive(Template)]
#[template(path = "home/workspaces.html")]
pub struct ChooserPage {
    l: Layout,
    firms: Vec<FirmPlaces>,
    truncated: bool,
    /// They work for a firm (else they are only a client of firms).
    staff: bool,
}

/// One place → there (the only firm's Clients page, or the only workspace); several, or
/// none yet → the chooser.
pub async fn home(state: web::Data<AppState>, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(redirect("/login"));
    };
    let uid = user.user_id();
    let places = state.db.read(move |c| places::places_of(c, uid, CHOOSER_LIMIT)).await?;
    Ok(redirect(&places.only_place().unwrap_or_else(|| "/workspaces".into())))
}

pub async fn chooser(state: web::Data<AppState>, session: Session, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(redirect("/login?next=%2Fworkspaces"));
    };
    let uid = user.user_id();
    let places = state.db.read(move |c| places::places_of(c, uid, CHOOSER_LIMIT)).await?;
    let l = Layout::personal(&session, "Your workspaces", &user, &places);
    let staff = places.firms.iter().any(|f| f.staff);
    let Places { firms, truncated, .. } = places;
    render(ChooserPage { l, firms, truncated, staff })
}
