//! Account → Security: your sessions (sign out one, sign out the others) and the password.
//! Further sections (two-factor authentication) sit on the same page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

use super::{redirect_with, render_with_status, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::{session, CurrentUser};
use crate::db::models::sessions::SessionLine;
use crate::domain::{Password, SessionId};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::account::{self as uc, PasswordChange};

const SECURITY: &str = "/account/security";

pub struct SessionView {
    id: i64,
    device: String,
    ip: String,
    signed_in: NaiveDateTime,
    last_seen: NaiveDateTime,
    current: bool,
}

#[derive(Default)]
pub struct PasswordErrors {
    current: Option<String>,
    new: Option<String>,
}

#[derive(Template)]
#[template(path = "account/security.html")]
pub struct SecurityPage {
    l: Layout,
    sessions: Vec<SessionView>,
    others: usize,
    password: PasswordErrors,
    two_factor_on: bool,
}

fn idle(state: &AppState) -> Duration {
    Duration::minutes(i64::from(state.settings.session_idle_minutes))
}

/// The page, with `password` errors on the password form (and a status to match).
async fn security_page(
    state: &AppState,
    session: &Session,
    me: &CurrentUser,
    password: PasswordErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let this = session::session_id(session);
    let user = &me.0;
    let lines = uc::sessions_of(&state.db, user.user_id(), idle(state)).await?;
    let sessions: Vec<SessionView> = lines.into_iter().map(|s| view(s, this)).collect();
    let others = sessions.iter().filter(|s| !s.current).count();
    let l = Layout::personal(session, "Security", user, &me.1);
    let two_factor_on = user.has_two_factor();
    render_with_status(status, SecurityPage { l, sessions, others, password, two_factor_on })
}

fn view(s: SessionLine, this: Option<SessionId>) -> SessionView {
    let ip = if s.ip.is_empty() { "Unknown".to_string() } else { s.ip };
    let device = device_words(&s.user_agent);
    let current = Some(s.id) == this;
    SessionView { id: s.id.0, device, ip, signed_in: s.created_at, last_seen: s.last_seen_at, current }
}

pub async fn security(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    security_page(&state, &session, &user, PasswordErrors::default(), StatusCode::OK).await
}

/// The session being used now: it exists (its row was loaded) whenever someone is signed in.
fn this_session(session: &Session) -> Result<SessionId, AppError> {
    session::session_id(session).ok_or_else(|| AppError::SignInRequired { next: SECURITY.into() })
}

pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let id = SessionId(path_id(&req, "session")?);
    uc::end_session(&state.db, user.0.user_id(), id).await?;
    Ok(redirect_with(&session, SECURITY, session::FlashKind::Success, "That session is signed out."))
}

pub async fn end_other_sessions(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let keep = this_session(&session)?;
    let ended = uc::end_other_sessions(&state.db, user.0.user_id(), keep).await?;
    let message = match ended {
        0 => "There were no other sessions.".to_string(),
        1 => "1 other session is signed out.".to_string(),
        n => format!("{n} other sessions are signed out."),
    };
    Ok(redirect_with(&session, SECURITY, session::FlashKind::Success, message))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let keep = this_session(&session)?;
    let form = form.into_inner();
    let new = match Password::parse(&form.new_password) {
        Ok(p) => p,
        Err(e) => return password_again(&state, &session, &user, PasswordErrors { new: Some(e), current: None }).await,
    };
    let limit = uc::wrong_password_limit(state.settings.login_failures_per_account_and_address);
    match uc::change_password(&state.db, user.0.user_id(), form.current_password, new, keep, limit).await? {
        PasswordChange::Changed(ended) => {
            // A new key for this session too: a copy of the old cookie opens nothing.
            session::sign_in(&session, user.0.user_id());
            let others = if ended == 0 { String::new() } else { " Your other sessions are signed out.".into() };
            let message = format!("Your password is changed.{others}");
            Ok(redirect_with(&session, SECURITY, session::FlashKind::Success, message))
        }
        PasswordChange::WrongPassword => {
            let current = Some("That is not your current password.".to_string());
            password_again(&state, &session, &user, PasswordErrors { current, new: None }).await
        }
    }
}

async fn password_again(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    errors: PasswordErrors,
) -> Result<HttpResponse, AppError> {
    security_page(state, session, user, errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// "Chrome on Linux", "Safari on iPhone", … from a user agent; "Unknown device" otherwise.
pub fn device_words(user_agent: &str) -> String {
    let ua = user_agent;
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) if ua.trim().is_empty() => "Unknown device".to_string(),
        // A program rather than a browser (curl/8.5, …): its own name, shortened.
        (None, None) => ua.split_whitespace().next().unwrap_or(ua).chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::device_words;

    #[test]
    fn devices_in_words() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
            ("curl/8.5.0", "curl/8.5.0"),
            ("", "Unknown device"),
        ];
        for (ua, words) in cases {
            assert_eq!(device_words(ua), words, "{ua}");
        }
    }
}
