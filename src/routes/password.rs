//! "Forgot password?": a link by email (`/password/forgot`), and the page it opens
//! (`/password/reset/{token}`) to choose a new password. The answer never tells whether an
//! account uses the address; setting the password does not sign in (two-factor still applies).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::verify::link_ended;
use super::{redirect_with, render, render_with_status, Layout};
use crate::auth::client_ip::limit_subject;
use crate::auth::extract::MaybeUser;
use crate::auth::password;
use crate::auth::session::{self, FlashKind};
use crate::db::models::account_token::Purpose;
use crate::domain::token::InviteToken;
use crate::domain::{EmailAddress, Password};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::identity::{self, Limits};
use crate::usecases::ActionError;

#[derive(Template)]
#[template(path = "identity/forgot.html")]
pub struct ForgotPage {
    l: Layout,
    email: String,
    email_error: Option<String>,
    form_error: Option<String>,
}

#[derive(Template)]
#[template(path = "identity/reset.html")]
pub struct ResetPage {
    l: Layout,
    token: String,
    email: String,
    password_error: Option<String>,
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

fn forgot_page(
    session: &Session,
    email: String,
    email_error: Option<String>,
    form_error: Option<String>,
) -> ForgotPage {
    ForgotPage { l: Layout::public(session, "Forgot your password?", None), email, email_error, form_error }
}

pub async fn forgot_form(session: Session) -> Result<HttpResponse, AppError> {
    render(forgot_page(&session, String::new(), None, None))
}

pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().email;
    let again = |status, email_error, form_error| {
        render_with_status(status, forgot_page(&session, typed.clone(), email_error, form_error))
    };
    let email = match EmailAddress::parse(&typed) {
        Ok(e) => e,
        Err(why) => return again(StatusCode::UNPROCESSABLE_ENTITY, Some(why.into()), None),
    };
    let limits = Limits::from(&state.settings);
    let (db, key, client) = (&state.db, state.invite_key.clone(), limit_subject(&req, &state.settings.trusted_proxies));
    match identity::request_reset(db, email.clone(), client, key, limits).await {
        Ok(()) => {
            state.wake_mailer();
            let hint = state.own_mail_hint();
            let message = format!(
                "If an account uses {}, we sent it a link to choose a new password. The link works for 1 hour{hint}.",
                email.as_str()
            );
            Ok(redirect_with(&session, "/login", FlashKind::Info, message))
        }
        Err(ActionError::Limited(r)) => again(StatusCode::TOO_MANY_REQUESTS, None, Some(r.message())),
        Err(e) => Err(e.into()),
    }
}

fn reset_page(session: &Session, token: String, email: String, password_error: Option<String>) -> ResetPage {
    ResetPage { l: Layout::public(session, "Choose a new password", None), token, email, password_error }
}

/// The reset link while it works, with its address.
async fn usable(state: &AppState, token: &str) -> Result<Option<(InviteToken, String)>, AppError> {
    let Some(t) = InviteToken::parse(token) else { return Ok(None) };
    Ok(identity::usable_link(&state.db, t.clone(), Purpose::ResetPassword).await?.map(|l| (t, l.email)))
}

pub async fn reset_form(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    match usable(&state, &token).await? {
        Some((t, email)) => render(reset_page(&session, t.as_str().to_string(), email, None)),
        None => link_ended(&session, user.0.as_ref(), Purpose::ResetPassword),
    }
}

pub async fn reset(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    // Checked before hashing: an unknown link costs no argon2 work.
    let Some((t, email)) = usable(&state, &token).await? else {
        return link_ended(&session, user.0.as_ref(), Purpose::ResetPassword);
    };
    let pw = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(why) => {
            return render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                reset_page(&session, t.as_str().to_string(), email, Some(why)),
            )
        }
    };
    let hash = password::hash_off_thread(pw).await?;
    match identity::reset_password(&state.db, t, hash).await? {
        Some(_) => {
            session::sign_out(&session);
            let message = "Your password is changed and every session of your account is signed out. Log in with your new password.";
            Ok(redirect_with(&session, "/login", FlashKind::Success, message))
        }
        None => link_ended(&session, user.0.as_ref(), Purpose::ResetPassword),
    }
}
