//! Email verification and password reset links (`account_tokens`). As with invite links
//! the link carries HMAC(key, nonce); the database keeps the nonce (so the email can be
//! rendered at send time) and SHA-256 of the token (to find the row): a database dump
//! gives no working link. A link works once, until it expires, and a newer link of the
//! same purpose replaces the older ones.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::account_tokens;
use crate::db::DbConnection;
use crate::domain::token::{InviteKey, InviteToken};
use crate::domain::UserId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "verify_email" => Some(Purpose::VerifyEmail),
            "reset_password" => Some(Purpose::ResetPassword),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = account_tokens)]
pub struct AccountToken {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub email: String,
    pub token_nonce: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

impl AccountToken {
    pub fn user(&self) -> UserId {
        UserId(self.user_id)
    }

    /// Not used, not expired, not replaced by a newer link.
    pub fn is_usable(&self, now: NaiveDateTime) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }
}

/// A new link for `user`, sent to `email`; older unused links of the same purpose stop
/// working. Returns the row's id (for the outbox).
pub fn issue(
    conn: &mut DbConnection,
    user: UserId,
    purpose: Purpose,
    email: &str,
    key: &InviteKey,
    ttl: Duration,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    supersede(conn, user, purpose, now)?;
    let (nonce, token) = key.issue();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::user_id.eq(user.0),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::email.eq(email),
            account_tokens::token_hash.eq(token.lookup_hash()),
            account_tokens::token_nonce.eq(&nonce),
            account_tokens::created_at.eq(now),
            account_tokens::expires_at.eq(now + ttl),
        ))
        .returning(account_tokens::id)
        .get_result::<i64>(conn)
}

/// Ends every unused link of `purpose` of the user (they expire now).
pub fn supersede(conn: &mut DbConnection, user: UserId, purpose: Purpose, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user.0))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::expires_at.eq(now))
    .execute(conn)
}

pub fn find_by_token(
    conn: &mut DbConnection,
    token: &InviteToken,
    purpose: Purpose,
) -> QueryResult<Option<AccountToken>> {
    account_tokens::table
        .filter(account_tokens::token_hash.eq(token.lookup_hash()))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .select(AccountToken::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<AccountToken>> {
    account_tokens::table.find(id).select(AccountToken::as_select()).first(conn).optional()
}

/// Uses the link up: true for exactly one of any number of concurrent callers, and only
/// while it is usable.
pub fn consume(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let won = diesel::update(
        account_tokens::table
            .find(id)
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(won == 1)
}
