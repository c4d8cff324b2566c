//! The ⋯ actions of a pending invite, one set of handlers for both places an invite is
//! managed from: a client's Members page (`/w/{ws}/settings/invites/{invite}/…`) and the
//! firm's Team page (`/orgs/{org}/team/invites/{invite}/…`).

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[allow(unused_imports)]
use super::{redirect_with, render, Layout, TimeWords};
use crate::auth::extract::{path_id, PlaceContext};
use crate::auth::session::FlashKind;
use crate::db::models::user::User;
use crate::domain::InviteId;
use crate::email::invite_link;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::invites::{self, Place, Resent};
use crate::usecases::ActionError;

pub fn routes(cfg: &mut web::ServiceConfig, base: &str) {
    cfg.route(&format!("{base}/resend"), web::post().to(resend))
        .route(&format!("{base}/link"), web::get().to(link))
        .route(&format!("{base}/cancel"), web::get().to(cancel_form))
        .route(&format!("{base}/cancel"), web::post().to(cancel));
}

impl PlaceContext {
    pub fn user(&self) -> &User {
        match self {
            PlaceContext::Workspace(c) => &c.user,
            PlaceContext::Team(c) => &c.user,
        }
    }

    pub fn place(&self) -> Place {
        match self {
            PlaceContext::Workspace(c) => Place::Workspace(c.access.workspace.id),
            PlaceContext::Team(c) => Place::Team(c.membership.org_id),
        }
    }

    pub fn layout(&self, session: &Session, title: &str) -> Layout {
        match self {
            PlaceContext::Workspace(c) => Layout::workspace(session, title, c, "settings"),
            PlaceContext::Team(c) => Layout::org(session, title, c, "team"),
        }
    }

    /// The list the invite is on: its address and name.
    pub fn back(&self) -> (String, &'static str) {
        match self {
            PlaceContext::Workspace(c) => (format!("/w/{}/settings/members", c.access.workspace.id), "Members"),
            PlaceContext::Team(c) => (format!("/orgs/{}/team", c.membership.org_id), "Team"),
        }
    }

    /// Where the invite's actions live: `{base}/{id}/resend` and so on.
    fn invites_base(&self) -> String {
        match self {
            PlaceContext::Workspace(c) => format!("/w/{}/settings/invites", c.access.workspace.id),
            PlaceContext::Team(c) => format!("/orgs/{}/team/invites", c.membership.org_id),
        }
    }

    /// What the invite offers: "for Acme Bakery", "to join Ames & Co".
    fn what(&self) -> String {
        match self {
            PlaceContext::Workspace(c) => format!("for {}", c.access.workspace.name),
            PlaceContext::Team(c) => format!("to join {}", c.membership.org_name),
        }
    }
}

fn invite_id(req: &HttpRequest) -> Result<InviteId, AppError> {
    path_id(req, "invite").map(InviteId)
}

/// ⋯ → Resend invite: the email again, and a renewed expiry; at most once a minute.
pub async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let (back, _) = ctx.back();
    let id = invite_id(&req)?;
    Ok(match invites::resend(&state.db, ctx.user().user_id(), ctx.place(), id, state.invite_settings()).await {
        Err(ActionError::Limited(r)) => {
            redirect_with(&session, &back, FlashKind::Error, format!("{} Nothing was resent.", r.message()))
        }
        Err(e) => return Err(e.into()),
        Ok(Resent::Sent(email)) => {
            state.wake_mailer();
            let message = format!("Invite resent to {email}{}", state.mailbox_hint());
            redirect_with(&session, &back, FlashKind::Success, message)
        }
        Ok(Resent::TooSoon(email)) => redirect_with(
            &session,
            &back,
            FlashKind::Error,
            format!("An invite was sent to {email} less than a minute ago. Try again in a minute."),
        ),
    })
}

/// "Copy invite link" without JavaScript: the link in a field.
#[derive(Template)]
#[template(path = "invites/link.html")]
pub struct InviteLinkPage {
    l: Layout,
    back: String,
    back_label: &'static str,
    email: String,
    link: String,
    expires: chrono::NaiveDateTime,
}

pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = invites::find(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    let (back, back_label) = ctx.back();
    render(InviteLinkPage {
        l: ctx.layout(&session, "Copy invite link"),
        back,
        back_label,
        link: invite_link(&state.public_url, &state.invite_key, &inv.token_nonce),
        email: inv.email,
        expires: inv.expires_at,
    })
}

#[derive(Template)]
#[template(path = "invites/cancel.html")]
pub struct CancelPage {
    l: Layout,
    back: String,
    action: String,
    email: String,
    what: String,
}

pub async fn cancel_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = invites::find(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    render(CancelPage {
        l: ctx.layout(&session, "Cancel invite"),
        back: ctx.back().0,
        action: format!("{}/{}/cancel", ctx.invites_base(), inv.id),
        what: ctx.what(),
        email: inv.email,
    })
}

pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let email = invites::cancel(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    Ok(redirect_with(
        &session,
        &ctx.back().0,
        FlashKind::Success,
        format!("Invite cancelled: the link sent to {email} no longer works"),
    ))
}
