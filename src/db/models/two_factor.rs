//! Two-factor authentication as stored: the encrypted TOTP secret on `users`, the hashed
//! recovery codes, and the firms' and workspaces' "Require two-factor authentication".
//! Queries only: codes are checked in `crate::domain::two_factor`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{organizations, recovery_codes, users, workspaces};
use crate::db::DbConnection;
use crate::domain::two_factor::Requirement;
use crate::domain::{OrgId, UserId, WorkspaceId};

/// A user's two-factor state.
pub struct TotpState {
    pub email: String,
    /// Sealed (see `TwoFactorKey`); None when two-factor is off and not being set up.
    pub secret: Option<String>,
    pub enabled_at: Option<NaiveDateTime>,
    pub last_step: i64,
}

pub fn state_of(conn: &mut DbConnection, user: UserId) -> QueryResult<Option<TotpState>> {
    let row = users::table
        .find(user.0)
        .select((users::email, users::totp_secret, users::totp_enabled_at, users::totp_last_step))
        .first::<(String, Option<String>, Option<NaiveDateTime>, i64)>(conn)
        .optional()?;
    Ok(row.map(|(email, secret, enabled_at, last_step)| TotpState { email, secret, enabled_at, last_step }))
}

/// Keeps a new secret being set up; never replaces one in use. Rows changed: 0 or 1.
pub fn start_setup(conn: &mut DbConnection, user: UserId, sealed: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user.0).filter(users::totp_enabled_at.is_null()))
        .set(users::totp_secret.eq(sealed))
        .execute(conn)
}

/// Turns two-factor on with the secret being set up; `step` is the code's step (used up).
pub fn enable(conn: &mut DbConnection, user: UserId, step: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        users::table.find(user.0).filter(users::totp_enabled_at.is_null()).filter(users::totp_secret.is_not_null()),
    )
    .set((users::totp_enabled_at.eq(now), users::totp_last_step.eq(step)))
    .execute(conn)
}

/// Uses up a code's step: 1 if it was later than the last one used, else 0 (a code works once,
/// even when two requests bring it at the same moment).
pub fn use_step(conn: &mut DbConnection, user: UserId, step: i64) -> QueryResult<usize> {
    diesel::update(users::table.find(user.0).filter(users::totp_last_step.lt(step)))
        .set(users::totp_last_step.eq(step))
        .execute(conn)
}

/// Turns two-factor off: the secret and the recovery codes go.
pub fn disable(conn: &mut DbConnection, user: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(user.0))
        .set((users::totp_secret.eq(None::<String>), users::totp_enabled_at.eq(None::<NaiveDateTime>)))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.0))).execute(conn)?;
    Ok(())
}

/// Replaces every recovery code of a user with these (hashes only).
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    user: UserId,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.0))).execute(conn)?;
    // Row by row: batch inserts are not available through the two-backend connection.
    for h in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user.0),
                recovery_codes::code_hash.eq(h),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses up a recovery code: 1 if it was the user's and unused, else 0.
pub fn use_recovery_code(conn: &mut DbConnection, user: UserId, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user.0))
            .filter(recovery_codes::code_hash.eq(hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
}

pub fn recovery_codes_left(conn: &mut DbConnection, user: UserId) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user.0))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

pub fn firm_requirement(conn: &mut DbConnection, org: OrgId) -> QueryResult<Option<Requirement>> {
    let row = organizations::table
        .find(org.0)
        .select((organizations::require_2fa_since, organizations::require_2fa_grace_days))
        .first::<(Option<NaiveDateTime>, i32)>(conn)
        .optional()?;
    Ok(row.and_then(|(since, grace)| Requirement::from_columns(since, grace)))
}

pub fn set_firm_requirement(conn: &mut DbConnection, org: OrgId, r: Option<Requirement>) -> QueryResult<usize> {
    diesel::update(organizations::table.find(org.0))
        .set((
            organizations::require_2fa_since.eq(r.map(|r| r.since)),
            organizations::require_2fa_grace_days.eq(r.map_or(0, |r| r.grace_days)),
        ))
        .execute(conn)
}

pub fn workspace_requirement(conn: &mut DbConnection, ws: WorkspaceId) -> QueryResult<Option<Requirement>> {
    let row = workspaces::table
        .find(ws.0)
        .select((workspaces::require_2fa_since, workspaces::require_2fa_grace_days))
        .first::<(Option<NaiveDateTime>, i32)>(conn)
        .optional()?;
    Ok(row.and_then(|(since, grace)| Requirement::from_columns(since, grace)))
}

pub fn set_workspace_requirement(
    conn: &mut DbConnection,
    ws: WorkspaceId,
    r: Option<Requirement>,
) -> QueryResult<usize> {
    diesel::update(workspaces::table.find(ws.0))
        .set((
            workspaces::require_2fa_since.eq(r.map(|r| r.since)),
            workspaces::require_2fa_grace_days.eq(r.map_or(0, |r| r.grace_days)),
        ))
        .execute(conn)
}
