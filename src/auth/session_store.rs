//! Sessions kept in the database (`sessions` table), behind actix-session's `SessionStore`.
//!
//! The cookie (encrypted, as before) carries a random 256-bit key; the table keeps only its
//! SHA-256, so a database dump opens no session. A session ends when its row is deleted:
//! sign-out, "Sign out other sessions", a password change, removal from one's last
//! workspace. `load` also refuses, and deletes, a session idle longer than
//! SESSION_IDLE_MINUTES or older than SESSION_LIFETIME_HOURS.
//!
//! Three values of the session's state live in columns instead of the JSON: the row's id
//! ("sid", so the Security page knows which session is this one), the user agent ("ua")
//! and the client address ("ip"). `load` puts them into the state and `save`/`update` take
//! them out again; `session::record_client` sets "ua" and "ip" when they change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieTtl;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};

use super::session::{CLIENT_IP, SESSION_ID, TWO_FACTOR_PENDING, USER, USER_AGENT};
use crate::db::models::now;
use crate::db::models::sessions::{self, NewSession, SessionValues};
use crate::db::Db;
use crate::domain::{SessionId, UserId};

type State = HashMap<String, String>;

/// last_seen_at is written at most this often: a page view is not a write.
const TOUCH_EVERY: Duration = Duration::seconds(60);
/// Ended sessions are swept out at most this often (by whichever instance saves one).
const PRUNE_EVERY_SECONDS: i64 = 600;
/// A visitor's session (no one signed in: it holds a CSRF token, a flash, a pending
/// two-factor step) ends after this long without a request, however long signed-in
/// sessions may idle: anyone can make one with a GET, so they must not pile up.
const VISITOR_IDLE: Duration = Duration::minutes(60);

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    idle: Duration,
    lifetime: Duration,
    last_prune: Arc<AtomicI64>,
}

impl DbSessionStore {
    pub fn new(db: Db, idle_minutes: u32, lifetime_hours: u32) -> DbSessionStore {
        DbSessionStore {
            db,
            idle: Duration::minutes(i64::from(idle_minutes)),
            lifetime: Duration::hours(i64::from(lifetime_hours)),
            last_prune: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Whether this save should also sweep out ended sessions (once per PRUNE_EVERY_SECONDS).
    fn prune_due(&self, at: NaiveDateTime) -> bool {
        let t = at.and_utc().timestamp();
        let last = self.last_prune.load(Ordering::Relaxed);
        t - last >= PRUNE_EVERY_SECONDS
            && self.last_prune.compare_exchange(last, t, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// SHA-256 of the cookie's key, hex: what the table keeps.
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_key() -> Result<SessionKey, SaveError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| SaveError::Other(anyhow::anyhow!("random source: {e}")))?;
    SessionKey::try_from(URL_SAFE_NO_PAD.encode(bytes)).map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))
}

/// The state without the values kept in columns, as JSON, and those values.
struct Split {
    json: String,
    user: Option<UserId>,
    /// Signed in (not only past the password, waiting for a two-factor code).
    signed_in: bool,
    user_agent: String,
    ip: String,
    empty: bool,
}

fn split(mut state: State) -> Result<Split, serde_json::Error> {
    let text = |v: Option<String>| v.and_then(|v| serde_json::from_str::<String>(&v).ok()).unwrap_or_default();
    state.remove(SESSION_ID);
    let user_agent = text(state.remove(USER_AGENT));
    let ip = text(state.remove(CLIENT_IP));
    // A session waiting for a two-factor code belongs to that account too: ending the
    // account's sessions (a password reset, say) must end its half-done sign-in as well.
    let pending = || {
        state
            .get(TWO_FACTOR_PENDING)
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            .and_then(|v| v.get("uid").and_then(serde_json::Value::as_i64))
    };
    let signed_in = state.get(USER).and_then(|v| serde_json::from_str::<i64>(v).ok());
    let user = signed_in.or_else(pending).map(UserId);
    let signed_in = signed_in.is_some();
    Ok(Split { json: serde_json::to_string(&state)?, user, signed_in, user_agent, ip, empty: state.is_empty() })
}

fn json_text(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let hash = key_hash(session_key.as_ref());
        let row = {
            let hash = hash.clone();
            self.db.read(move |c| sessions::find_by_key(c, &hash)).await.map_err(|e| LoadError::Other(e.into()))?
        };
        let Some(row) = row else { return Ok(None) };
        let at = now();
        let idle = if row.user_id.is_some() { self.idle } else { self.idle.min(VISITOR_IDLE) };
        if row.expires_at <= at || row.last_seen_at + idle <= at {
            self.db.write(move |c| sessions::delete_by_key(c, &hash)).await.map_err(|e| LoadError::Other(e.into()))?;
            return Ok(None);
        }
        if at - row.last_seen_at >= TOUCH_EVERY {
            let id = SessionId(row.id);
            // A page view must not fail because the database cannot be written just now
            // (disk full): a missed touch only moves idleness a minute earlier.
            if let Err(e) = self.db.write(move |c| sessions::touch(c, id, at)).await {
                tracing::warn!(error = %e, "could not record a session's last use; answering anyway");
            }
        }
        let mut state: State = serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        state.insert(SESSION_ID.into(), row.id.to_string());
        state.insert(USER_AGENT.into(), json_text(&row.user_agent));
        state.insert(CLIENT_IP.into(), json_text(&row.ip));
        Ok(Some(state))
    }

    async fn save(&self, session_state: State, _ttl: &CookieTtl) -> Result<SessionKey, SaveError> {
        let key = new_key()?;
        let s = split(session_state).map_err(|e| SaveError::Serialization(e.into()))?;
        if s.empty {
            // Nothing worth a row: the cookie's key simply finds nothing next time.
            return Ok(key);
        }
        let hash = key_hash(key.as_ref());
        let at = now();
        let expires_at = at + self.lifetime;
        let prune = self.prune_due(at).then(|| (at - self.idle, at - self.idle.min(VISITOR_IDLE)));
        self.db
            .write(move |c| {
                if let Some((idle_since, visitor_idle_since)) = prune {
                    sessions::prune(c, at, idle_since, visitor_idle_since)?;
                }
                let new = NewSession {
                    key_hash: &hash,
                    user: s.user,
                    signed_in: s.signed_in,
                    state: &s.json,
                    user_agent: &s.user_agent,
                    ip: &s.ip,
                    now: at,
                    expires_at,
                };
                sessions::insert(c, &new)
            })
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        _ttl: &CookieTtl,
    ) -> Result<SessionKey, UpdateError> {
        let s = split(session_state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let hash = key_hash(session_key.as_ref());
        let written = self
            .db
            .write(move |c| {
                let values = SessionValues { user: s.user, state: &s.json, user_agent: &s.user_agent, ip: &s.ip };
                sessions::update(c, &hash, &values)
            })
            .await;
        match written {
            Ok(_) => Ok(session_key),
            // An update carries only a flash message, a new CSRF token or where the session
            // is used from (sign-in and sign-out make new sessions: `save`). When the
            // database cannot be written (disk full), the page is still worth showing: the
            // flash shows again, a form without a stored token is refused as expired.
            Err(e) if crate::error::cannot_write(&e) => {
                tracing::warn!(error = %e, "could not save a session's change; answering anyway");
                Ok(session_key)
            }
            Err(e) => Err(UpdateError::Other(e.into())),
        }
    }

    async fn update_ttl(&self, _session_key: &SessionKey, _ttl: &CookieTtl) -> Result<(), anyhow::Error> {
        // Idleness is judged from last_seen_at, which `load` keeps; the absolute end never moves.
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let hash = key_hash(session_key.as_ref());
        self.db.write(move |c| sessions::delete_by_key(c, &hash)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_out_of_the_state() {
        let mut state = State::new();
        state.insert(USER.into(), "42".into());
        state.insert("csrf".into(), "\"t\"".into());
        state.insert(SESSION_ID.into(), "7".into());
        state.insert(USER_AGENT.into(), "\"Firefox\"".into());
        state.insert(CLIENT_IP.into(), "\"203.0.113.9\"".into());
        let s = split(state).unwrap();
        assert_eq!(s.user, Some(UserId(42)));
        assert_eq!((s.user_agent.as_str(), s.ip.as_str()), ("Firefox", "203.0.113.9"));
        let back: State = serde_json::from_str(&s.json).unwrap();
        assert_eq!(back.len(), 2);
        assert!(!back.contains_key(SESSION_ID) && !back.contains_key(USER_AGENT));
        assert!(split(State::new()).unwrap().empty);
    }

    #[test]
    fn keys_are_256_bits_and_only_their_hash_is_kept() {
        let key = new_key().ok().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(key.as_ref()).unwrap().len(), 32);
        let hash = key_hash(key.as_ref());
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(key.as_ref()));
    }
}
