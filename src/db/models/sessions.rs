//! Server-side sessions. The cookie carries a random key; a row keeps only its SHA-256
//! (`key_hash`), the session's values as JSON, whose session it is, and where it was last
//! used from. Deleting a row ends that session at once, on every instance.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_memberships, sessions, workspace_memberships};
use crate::db::DbConnection;
use crate::domain::{SessionId, UserId};

/// A row as the session store reads it.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct StoredSession {
    pub id: i64,
    pub user_id: Option<i64>,
    pub state: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What a new session is saved with.
pub struct NewSession<'a> {
    pub key_hash: &'a str,
    pub user: Option<UserId>,
    /// Signed in: not a session held at the two-factor code step.
    pub signed_in: bool,
    pub state: &'a str,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// The values of a session that change during its life.
pub struct SessionValues<'a> {
    pub user: Option<UserId>,
    pub state: &'a str,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

pub fn find_by_key(conn: &mut DbConnection, key_hash: &str) -> QueryResult<Option<StoredSession>> {
    sessions::table.filter(sessions::key_hash.eq(key_hash)).select(StoredSession::as_select()).first(conn).optional()
}

pub fn insert(conn: &mut DbConnection, new: &NewSession<'_>) -> QueryResult<SessionId> {
    // A new signed-in session is a sign-in (sign-in always starts a new session): the
    // access report's "last signed in". A session held at the two-factor code step is not.
    if let (Some(user), true) = (new.user, new.signed_in) {
        diesel::update(crate::db::schema::users::table.find(user.0))
            .set(crate::db::schema::users::last_sign_in_at.eq(Some(new.now)))
            .execute(conn)?;
    }
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(new.key_hash),
            sessions::user_id.eq(new.user.map(|u| u.0)),
            sessions::state.eq(new.state),
            sessions::user_agent.eq(new.user_agent),
            sessions::ip.eq(new.ip),
            sessions::created_at.eq(new.now),
            sessions::last_seen_at.eq(new.now),
            sessions::expires_at.eq(new.expires_at),
        ))
        .returning(sessions::id)
        .get_result(conn)
        .map(SessionId)
}

/// Saves a session's values. Changes nothing (0) when the session has ended meanwhile: an
/// ended session is never brought back by a request that was under way.
pub fn update(conn: &mut DbConnection, key_hash: &str, values: &SessionValues<'_>) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash)))
        .set((
            sessions::user_id.eq(values.user.map(|u| u.0)),
            sessions::state.eq(values.state),
            sessions::user_agent.eq(values.user_agent),
            sessions::ip.eq(values.ip),
        ))
        .execute(conn)
}

pub fn touch(conn: &mut DbConnection, id: SessionId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id.0)).set(sessions::last_seen_at.eq(now)).execute(conn)
}

pub fn delete_by_key(conn: &mut DbConnection, key_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)
}

pub fn delete(conn: &mut DbConnection, id: SessionId) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id.0)).execute(conn)
}

/// Ends every session of `user`.
pub fn end_all(conn: &mut DbConnection, user: UserId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0))).execute(conn)
}

/// Ends every session of `user` but `keep`.
pub fn end_others(conn: &mut DbConnection, user: UserId, keep: SessionId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0)).filter(sessions::id.ne(keep.0))).execute(conn)
}

/// Ends one session of `user`; 0 when `user` has no session of that id.
pub fn end_one(conn: &mut DbConnection, user: UserId, id: SessionId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0)).filter(sessions::id.eq(id.0))).execute(conn)
}

/// Ends every session of `user` when they belong to no firm and no workspace any more
/// (called after a removal, in its transaction). Returns how many ended.
pub fn end_all_if_nowhere(conn: &mut DbConnection, user: UserId) -> QueryResult<usize> {
    let firms = org_memberships::table.filter(org_memberships::user_id.eq(user.0)).count().get_result::<i64>(conn)?;
    let workspaces = workspace_memberships::table
        .filter(workspace_memberships::user_id.eq(user.0))
        .count()
        .get_result::<i64>(conn)?;
    if firms == 0 && workspaces == 0 {
        end_all(conn, user)
    } else {
        Ok(0)
    }
}

/// A session as the Security page lists it.
#[derive(Clone, Debug, Queryable)]
pub struct SessionLine {
    pub id: SessionId,
    pub user_agent: String,
    pub ip: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// The live sessions of `user`, most recently used first.
pub fn list_for_user(
    conn: &mut DbConnection,
    user: UserId,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> QueryResult<Vec<SessionLine>> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user.0))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(idle_since))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .select((sessions::id, sessions::user_agent, sessions::ip, sessions::created_at, sessions::last_seen_at))
        .load::<(i64, String, String, NaiveDateTime, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, user_agent, ip, created_at, last_seen_at)| SessionLine {
            id: SessionId(id),
            user_agent,
            ip,
            created_at,
            last_seen_at,
        })
        .collect())
}

/// Deletes sessions past their absolute end or idle since before `idle_since`.
pub fn prune(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
    visitor_idle_since: NaiveDateTime,
) -> QueryResult<usize> {
    let visitor_idle = sessions::user_id.is_null().and(sessions::last_seen_at.le(visitor_idle_since));
    diesel::delete(
        sessions::table.filter(sessions::expires_at.le(now).or(sessions::last_seen_at.le(idle_since)).or(visitor_idle)),
    )
    .execute(conn)
}
