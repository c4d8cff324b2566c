//! The ⋯ actions of a pending invite, one set of handlers for both places an invite is
//! managed from: a client's Members page (`/w/{ws}/settings/invites/{invite}/…`) and the
//! firm's Team page (`/orgs/{org}/team/invites/{invite}/…`).

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::FormFields;
#[allow(unused_imports)]
use super::{redirect_with, render, Layout, TimeWords};
use crate::auth::extract::{path_id, PlaceContext};
use crate::auth::session::FlashKind;
use crate::db::models::user::User;
use crate::domain::InviteId;
use crate::email::invite_link;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::invites::{self, Place, Resent, UpdatedInvite};
use crate::usecases::ActionError;

pub fn routes(cfg: &mut web::ServiceConfig, base: &str) {
    cfg.route(&format!("{base}/edit"), web::get().to(edit_form))
        .route(&format!("{base}/edit"), web::post().to(update))
        .route(&format!("{base}/resend"), web::post().to(resend))
        .route(&format!("{base}/renew"), web::post().to(renew))
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
    pub fn invites_base(&self) -> String {
        match self {
            PlaceContext::Workspace(c) => format!("/w/{}/settings/invites", c.access.workspace.id),
            PlaceContext::Team(c) => format!("/orgs/{}/team/invites", c.membership.org_id),
        }
    }

    /// What the invite offers: "for Acme Bakery", "to join Ames & Co".
    pub fn what(&self) -> String {
        match self {
            PlaceContext::Workspace(c) => format!("for {}", c.access.workspace.name),
            PlaceContext::Team(c) => format!("to join {}", c.membership.org_name),
        }
    }
}

fn invite_id(req: &HttpRequest) -> Result<InviteId, AppError> {
    path_id(req, "invite").map(InviteId)
}

/// ⋯ → Edit invite: the form with what the invite offers now.
pub async fn edit_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = invites::editable(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    match &ctx {
        PlaceContext::Workspace(c) => super::members::edit_invite_form(&state, &session, c, inv).await,
        PlaceContext::Team(c) => super::team::edit_invite_form(&state, &session, c, inv).await,
    }
}

/// "Update invite" (from its form, or from a duplicate invite's message): the invite offers
/// what was chosen from now on. Nothing is emailed; "Resend invite" does that.
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let inv = invites::editable(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    let form = FormFields::parse(&body)?;
    match &ctx {
        PlaceContext::Workspace(c) => super::members::update_invite(&state, &session, c, inv, &form).await,
        PlaceContext::Team(c) => super::team::update_invite(&state, &session, c, inv, &form).await,
    }
}

/// The message after "Update invite": what the invite now grants, and how to email it.
/// `what`: where the invite leads ("for Acme Bakery", "to join Ames & Co").
pub fn updated_words(done: &UpdatedInvite, what: &str) -> String {
    format!("Invite to {} {what} updated: {}. Resend invite emails them the new access.", done.email, done.grants)
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
            let message = format!("Invite to {email} {} queued again{}", ctx.what(), state.mailbox_hint());
            redirect_with(&session, &back, FlashKind::Success, message)
        }
        // Not a failure: nothing is wrong, it only needs a moment.
        Ok(Resent::TooSoon(email)) => redirect_with(
            &session,
            &back,
            FlashKind::Info,
            format!("An invite was sent to {email} less than a minute ago. Try again in a minute."),
        ),
    })
}

/// ⋯ → Renew and copy link (an expired invite): a fresh expiry without an email, then the
/// link's page with the link that works again.
pub async fn renew(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let id = invite_id(&req)?;
    let ttl = state.invite_settings().ttl;
    let done = invites::renew(&state.db, ctx.user().user_id(), ctx.place(), id, ttl).await?;
    let until = done.until.format("%B %-d, %Y at %H:%M UTC");
    let message = format!("Invite to {} renewed: the link works until {until}", done.email);
    Ok(redirect_with(&session, &format!("{}/{id}/link", ctx.invites_base()), FlashKind::Success, message))
}

/// "Copy invite link" without JavaScript: the link in a field.
#[derive(Template)]
#[template(path = "invites/link.html")]
pub struct InviteLinkPage {
    l: Layout,
    back: String,
    back_label: &'static str,
    email: String,
    /// Empty once the invite has expired: a dead link is never handed out.
    link: String,
    expires: chrono::NaiveDateTime,
    expired: bool,
    /// "Renew and copy link".
    renew: String,
}

pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: PlaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = invites::find(&state.db, ctx.user().user_id(), ctx.place(), invite_id(&req)?).await?;
    let (back, back_label) = ctx.back();
    let expired = inv.is_expired(crate::db::models::now());
    render(InviteLinkPage {
        l: ctx.layout(&session, "Copy invite link"),
        back,
        back_label,
        link: if expired { String::new() } else { invite_link(&state.public_url, &state.invite_key, &inv.token_nonce) },
        renew: format!("{}/{}/renew", ctx.invites_base(), inv.id),
        email: inv.email,
        expires: inv.expires_at,
        expired,
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
    let message = format!("Invite to {email} {} cancelled: its link no longer works", ctx.what());
    Ok(redirect_with(&session, &ctx.back().0, FlashKind::Success, message))
}
