//! Account → Security: one's own sessions (list, sign out one, sign out the others) and the
//! password change. Everything here concerns the caller's own account only.

use chrono::Duration;

use super::{ActionError, Outcome};
use crate::auth::password;
use crate::db::models::sessions::{self, SessionLine};
use crate::db::models::{limits, now, user};
use crate::db::{Db, DbError};
use crate::domain::limits::Limit;
use crate::domain::{SessionId, UserId};

/// The caller's live sessions, most recently used first.
pub async fn sessions_of(db: &Db, me: UserId, idle: Duration) -> Outcome<Vec<SessionLine>> {
    let at = now();
    Ok(db.read(move |c| sessions::list_for_user(c, me, at, at - idle)).await?)
}

/// Ends one of the caller's sessions. Another person's session is "not found".
pub async fn end_session(db: &Db, me: UserId, id: SessionId) -> Outcome<()> {
    match db.write(move |c| sessions::end_one(c, me, id)).await? {
        0 => Err(ActionError::NotFound),
        _ => Ok(()),
    }
}

/// "Sign out other sessions": every session of the caller but `keep` (this one) ends.
/// Returns how many ended.
pub async fn end_other_sessions(db: &Db, me: UserId, keep: SessionId) -> Outcome<usize> {
    Ok(db.write(move |c| sessions::end_others(c, me, keep)).await?)
}

#[derive(Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// Changed; this many other sessions ended.
    Changed(usize),
    /// The current password given is not the account's.
    WrongPassword,
}

/// Wrong current passwords allowed per account: a stolen session must not become a way to
/// guess the password.
pub fn wrong_password_limit(per_15_minutes: u32) -> Limit {
    Limit::per_minutes("password-change/user", "wrong current passwords", per_15_minutes.max(1), 15)
}

/// Changes the caller's password when `current` is right, and ends every other session, in
/// one transaction. `new_hash` is the new password's hash (made off-thread by the caller).
/// Wrong current passwords count against `limit`.
pub async fn change_password(
    db: &Db,
    me: UserId,
    current: String,
    new_hash: String,
    keep: SessionId,
    limit: Limit,
) -> Outcome<PasswordChange> {
    let subject = me.0.to_string();
    let key = subject.clone();
    db.read(move |c| limits::would_take(c, &limit, &key, 1, now())).await??;
    let account = db.read(move |c| user::find(c, me)).await?.ok_or(ActionError::NotFound)?;
    let old_hash = account.password_hash;
    let checked = old_hash.clone();
    let right = tokio::task::spawn_blocking(move || password::verify(&current, &checked))
        .await
        .map_err(|e| ActionError::Db(DbError::Task(e.to_string())))?;
    if !right {
        db.write(move |c| limits::record(c, &limit, &subject, 1, now())).await?;
        return Ok(PasswordChange::WrongPassword);
    }
    db.transaction(move |c| {
        // Only over the password just checked: a change made meanwhile (another tab) wins.
        if !user::set_password_if(c, me, &old_hash, &new_hash)? {
            return Ok(PasswordChange::WrongPassword);
        }
        Ok(PasswordChange::Changed(sessions::end_others(c, me, keep)?))
    })
    .await
}
