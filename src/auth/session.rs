//! What a session holds: the user's id, the CSRF token, a flash message, and (kept in
//! columns of its row, see `session_store`) its id, user agent and client address.
//! Never roles or access: those are read from the database on every request.

use actix_session::{Session, SessionExt};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::domain::{SessionId, UserId};

pub(crate) const USER: &str = "uid";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
/// Set by the session store on load: the id of the session's row.
pub(crate) const SESSION_ID: &str = "sid";
pub(crate) const USER_AGENT: &str = "ua";
pub(crate) const CLIENT_IP: &str = "ip";
/// Longer user agents are cut: the Security page needs the start only.
const USER_AGENT_MAX: usize = 400;

pub fn user_id(session: &Session) -> Option<UserId> {
    session.get::<i64>(USER).ok().flatten().map(UserId)
}

/// The id of this session's row (None on a session not yet saved, e.g. the sign-in request).
pub fn session_id(session: &Session) -> Option<SessionId> {
    session.get::<i64>(SESSION_ID).ok().flatten().map(SessionId)
}

/// A new session for the signed-in user, with a fresh CSRF token.
pub fn sign_in(session: &Session, user: UserId) {
    let flash = session.get::<Flash>(FLASH).ok().flatten();
    // clear + renew, not purge: a purged session ignores later inserts.
    session.clear();
    session.renew();
    let _ = session.insert(USER, user.0);
    let _ = session.insert(CSRF, new_token());
    if let Some(f) = flash {
        let _ = session.insert(FLASH, f);
    }
}

/// Ends the sign-in; the (now empty) session may still carry a flash message.
pub fn sign_out(session: &Session) {
    session.clear();
    session.renew();
}

/// Notes, after the handler, where a signed-in session is used from (user agent and client
/// address), so the Security page can show it. The session changes (a write) only when
/// either differs from what it holds, e.g. at sign-in or when the address changes.
pub async fn record_client(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    note_client(res.request());
    Ok(res)
}

fn note_client(req: &HttpRequest) {
    let session = req.get_session();
    if user_id(&session).is_none() {
        return;
    }
    let Some(state) = req.app_data::<web::Data<crate::startup::AppState>>() else { return };
    let ua: String = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes()).chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX).collect()
        })
        .unwrap_or_default();
    let ip =
        super::client_ip::client_ip(req, &state.settings.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_default();
    for (key, value) in [(USER_AGENT, ua), (CLIENT_IP, ip)] {
        if session.get::<String>(key).ok().flatten().as_deref() != Some(value.as_str()) {
            let _ = session.insert(key, value);
        }
    }
}

/// The session's CSRF token, made on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(CSRF) {
        return t;
    }
    let t = new_token();
    let _ = session.insert(CSRF, &t);
    t
}

pub fn stored_csrf_token(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
    Info,
}

impl Flash {
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash-success",
            FlashKind::Error => "flash-error",
            FlashKind::Info => "flash-info",
        }
    }
}

pub fn flash(session: &Session, kind: FlashKind, message: impl Into<String>) {
    let _ = session.insert(FLASH, Flash { kind, message: message.into() });
}

/// The flash message, once. A session without one is left unchanged: actix-session marks
/// a session changed by any `remove`, and a changed session is written back, so removing
/// an absent key would make every page view a database write.
pub fn take_flash(session: &Session) -> Option<Flash> {
    session.get::<serde_json::Value>(FLASH).ok().flatten()?;
    session.remove_as::<Flash>(FLASH).and_then(Result::ok)
}

// ---- signing in with two-factor ------------------------------------------------------

pub(crate) const TWO_FACTOR_PENDING: &str = "2fa_pending";
/// How long the password step holds before a code must follow.
const TWO_FACTOR_HOLD_SECONDS: i64 = 5 * 60;

#[derive(Serialize, Deserialize)]
struct TwoFactorPending {
    uid: i64,
    until: i64,
}

/// The password was right and the account has two-factor on: not signed in, but the session
/// remembers whose code it waits for, for a few minutes.
pub fn hold_for_two_factor(session: &Session, user: UserId) {
    let flash = session.get::<Flash>(FLASH).ok().flatten();
    session.clear();
    session.renew();
    let until = chrono::Utc::now().timestamp() + TWO_FACTOR_HOLD_SECONDS;
    let _ = session.insert(TWO_FACTOR_PENDING, TwoFactorPending { uid: user.0, until });
    let _ = session.insert(CSRF, new_token());
    if let Some(f) = flash {
        let _ = session.insert(FLASH, f);
    }
}

/// Whose code the session waits for, if the hold has not run out.
pub fn pending_two_factor(session: &Session) -> Option<UserId> {
    let p = session.get::<TwoFactorPending>(TWO_FACTOR_PENDING).ok().flatten()?;
    (p.until > chrono::Utc::now().timestamp()).then_some(UserId(p.uid))
}

pub fn end_two_factor_hold(session: &Session) {
    session.remove(TWO_FACTOR_PENDING);
}
