//! What the session cookie holds: the user's id, the CSRF token, a flash message.
//! Never roles or access: those are read from the database on every request.

use actix_session::Session;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::domain::UserId;

const USER: &str = "uid";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";

pub fn user_id(session: &Session) -> Option<UserId> {
    session.get::<i64>(USER).ok().flatten().map(UserId)
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

pub fn take_flash(session: &Session) -> Option<Flash> {
    session.remove_as::<Flash>(FLASH).and_then(Result::ok)
}

// ---- signing in with two-factor ------------------------------------------------------

const TWO_FACTOR_PENDING: &str = "2fa_pending";
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
