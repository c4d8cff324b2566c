//! Account → Security: one's own sessions (list, sign out one, sign out the others) and the
//! password change. Everything here concerns the caller's own account only.

use chrono::Duration;

use super::{ActionError, Outcome};
use crate::auth::password;
use crate::db::models::sessions::{self, SessionLine};
use crate::db::models::{limits, now, user};
use crate::db::Db;
use crate::domain::limits::Limit;
use crate::domain::{Password, SessionId, UserId};

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

/// Checks `given` against the account's password, counted against `limit` first: the
/// attempt is recorded (in its own transaction, one per account at a time on PostgreSQL)
/// before the slow hash is checked, so parallel guesses cannot slip past the limit; a right
/// password takes its attempt back. Some(the hash checked) when right; None when wrong.
pub(super) async fn check_password(db: &Db, me: UserId, given: String, limit: Limit) -> Outcome<Option<String>> {
    let (subject, at) = (me.0.to_string(), now());
    let key = subject.clone();
    let hash = db
        .transaction(move |c| {
            limits::take(c, &limit, &key, 1, at)??;
            Ok::<_, ActionError>(user::find(c, me)?.ok_or(ActionError::NotFound)?.password_hash)
        })
        .await?;
    let checked = hash.clone();
    let right = super::off_thread(move || password::verify(&given, &checked)).await?;
    if !right {
        return Ok(None);
    }
    db.write(move |c| limits::forget_one(c, &limit, &subject, at)).await?;
    Ok(Some(hash))
}

/// Changes the caller's password when `current` is right, and ends every other session, in
/// one transaction. The current password is checked (and counted against `limit`) before
/// the new one is hashed, so wrong guesses cost no hashing of the new one.
pub async fn change_password(
    db: &Db,
    me: UserId,
    current: String,
    new: Password,
    keep: SessionId,
    limit: Limit,
) -> Outcome<PasswordChange> {
    let Some(old_hash) = check_password(db, me, current, limit).await? else {
        return Ok(PasswordChange::WrongPassword);
    };
    let new_hash = super::hash_password(new).await?;
    db.transaction(move |c| {
        // Only over the password just checked: a change made meanwhile (another tab) wins.
        if !user::set_password_if(c, me, &old_hash, &new_hash)? {
            return Ok(PasswordChange::WrongPassword);
        }
        Ok(PasswordChange::Changed(sessions::end_others(c, me, keep)?))
    })
    .await
}
