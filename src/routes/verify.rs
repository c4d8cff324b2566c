//! The email verification link (`/verify-email/{token}`): opening it changes nothing (mail
//! scanners open links); "Confirm email" is a POST. And "Send it again" (`POST /verify-email`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{redirect, redirect_with, render, render_with_status, Layout};
use crate::auth::extract::MaybeUser;
use crate::auth::session::FlashKind;
use crate::auth::CurrentUser;
use crate::db::models::account_token::Purpose;
use crate::db::models::user::User;
use crate::domain::token::InviteToken;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::identity::{self, Confirmed, Limits, Resent};
use crate::usecases::invites;
use crate::usecases::ActionError;

#[derive(Template)]
#[template(path = "identity/verify.html")]
pub struct VerifyPage {
    l: Layout,
    token: String,
    email: String,
    /// Signed in as the account the link was sent for: only then may it be confirmed.
    theirs: bool,
}

#[derive(Template)]
#[template(path = "identity/link_ended.html")]
pub struct LinkEndedPage {
    l: Layout,
    reset: bool,
    signed_in: bool,
}

/// The one page of a used, expired, replaced or unknown link, with the way to a new one.
pub fn link_ended(session: &Session, user: Option<&User>, purpose: Purpose) -> Result<HttpResponse, AppError> {
    let l = Layout::public(session, "This link no longer works", user);
    let page = LinkEndedPage { l, reset: purpose == Purpose::ResetPassword, signed_in: user.is_some() };
    render_with_status(StatusCode::GONE, page)
}

pub async fn page(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let found = match InviteToken::parse(&token) {
        Some(t) => identity::usable_link(&state.db, t, Purpose::VerifyEmail).await?,
        None => None,
    };
    let Some(link) = found else { return link_ended(&session, user.0.as_ref(), Purpose::VerifyEmail) };
    let theirs = user.0.as_ref().is_some_and(|u| u.user_id() == link.user());
    let l = Layout::public(&session, "Confirm your email address", user.0.as_ref());
    render(VerifyPage { l, token: token.into_inner(), email: link.email, theirs })
}

pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let caller = user.0.as_ref().map(User::user_id);
    let done = match InviteToken::parse(&token) {
        Some(t) => identity::confirm_email(&state.db, t, caller).await?,
        None => Confirmed::Ended,
    };
    let email = match done {
        Confirmed::Done(email) => email,
        Confirmed::SignInAs(email) => {
            let l = Layout::public(&session, "Confirm your email address", user.0.as_ref());
            let page = VerifyPage { l, token: token.into_inner(), email, theirs: false };
            return render_with_status(StatusCode::FORBIDDEN, page);
        }
        Confirmed::Ended => return link_ended(&session, user.0.as_ref(), Purpose::VerifyEmail),
    };
    confirmed(&state, &session, email).await
}

/// After confirming: back to an invite waiting for this address (say, one whose copied
/// link made the account), or home.
async fn confirmed(state: &AppState, session: &Session, email: String) -> Result<HttpResponse, AppError> {
    match invites::waiting_for(&state.db, email.clone()).await? {
        Some(nonce) => {
            let to = format!("/invites/{}", state.invite_key.token_for(&nonce).as_str());
            let message = format!("Your email address {email} is confirmed. You can accept the invite now.");
            Ok(redirect_with(session, &to, FlashKind::Success, message))
        }
        None => {
            Ok(redirect_with(session, "/", FlashKind::Success, format!("Your email address {email} is confirmed.")))
        }
    }
}

/// "Send it again": a new verification link (the older one stops working), within limits.
pub async fn resend(state: web::Data<AppState>, session: Session, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let limit = Limits::from(&state.settings).resends;
    match identity::resend_verification(&state.db, user.0.user_id(), state.invite_key.clone(), limit).await {
        Ok(Resent::Sent(email)) => {
            state.wake_mailer();
            let message = format!("We sent a new link to {email}{}.", state.own_mail_hint());
            Ok(redirect_with(&session, "/", FlashKind::Success, message))
        }
        Ok(Resent::AlreadyVerified) => Ok(redirect("/")),
        Err(ActionError::Limited(r)) => Ok(redirect_with(&session, "/", FlashKind::Error, r.message())),
        Err(e) => Err(e.into()),
    }
}
