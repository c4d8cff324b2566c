//! The sign-in limit, kept in the database (so it holds across instances and its memory is
//! bounded by pruning): failed sign-ins are counted per (account, client address) pair and
//! per client address. A wrong password typed elsewhere never locks a user out; one address
//! cannot guess at one account, nor across many. A successful sign-in forgets its pair.
//!
//! Each attempt is counted before the password is checked (in one transaction with the
//! check of the limit), so parallel guesses cannot slip past it; a success takes it back.

use chrono::{Duration, NaiveDateTime};

use actix_web::HttpRequest;

use super::client_ip::limit_subject;
use crate::config::Settings;
use crate::db::models::{limits, now};
use crate::domain::limits::{Limit, Reached};
use crate::error::AppError;
use crate::startup::AppState;

pub struct LoginLimits {
    pub pair: Limit,
    pub address: Limit,
}

impl LoginLimits {
    pub fn from_settings(s: &Settings) -> LoginLimits {
        let minutes = i64::from(s.login_window_minutes);
        LoginLimits {
            pair: Limit::per_minutes(
                "login/account+address",
                "failed sign-ins",
                s.login_failures_per_account_and_address,
                minutes,
            ),
            address: Limit::per_minutes(
                "login/address",
                "failed sign-ins from your address",
                s.login_failures_per_address,
                minutes,
            ),
        }
    }
}

/// One sign-in attempt, counted.
pub struct Attempt {
    pair: String,
    address: String,
    at: NaiveDateTime,
}

/// Counts an attempt from the request's client address (see `client_ip`: behind a trusted
/// proxy, the address it forwarded; an IPv6 address counts as its /64, see `limit_key`) at the account `email` (as typed: trimmed, lower-cased),
/// or says which limit stops it (counting nothing).
pub async fn begin(state: &AppState, req: &HttpRequest, email: &str) -> Result<Result<Attempt, Reached>, AppError> {
    let address = limit_subject(req, &state.settings.trusted_proxies);
    let (db, counted) = (&state.db, state.login_limits());
    let email: String = email.trim().to_lowercase().chars().take(254).collect();
    let attempt = Attempt { pair: format!("{email} {address}"), address, at: now() };
    let outcome = db
        .transaction(move |c| {
            // Both or neither: the address's count is kept only if the pair's fits too.
            if let Err(r) = limits::take(c, &counted.address, &attempt.address, 1, attempt.at)? {
                return Err(Stop::Limit(r));
            }
            if let Err(r) = limits::take(c, &counted.pair, &attempt.pair, 1, attempt.at)? {
                return Err(Stop::Limit(r));
            }
            Ok(attempt)
        })
        .await;
    match outcome {
        Ok(attempt) => Ok(Ok(attempt)),
        Err(Stop::Limit(r)) => Ok(Err(r)),
        Err(Stop::Db(e)) => Err(e.into()),
    }
}

/// The attempt opened the account: its pair's failures are forgotten, and it no longer
/// counts against the address.
pub async fn succeeded(state: &AppState, attempt: Attempt) -> Result<(), AppError> {
    let counted = state.login_limits();
    state
        .db
        .write(move |c| {
            limits::forget(c, &counted.pair, &attempt.pair)?;
            limits::forget_one(c, &counted.address, &attempt.address, attempt.at)
        })
        .await?;
    Ok(())
}

/// How long rows are kept: longer than any window (the longest is a day).
pub fn keep_for() -> Duration {
    Duration::days(1) + Duration::hours(1)
}

enum Stop {
    Limit(Reached),
    Db(crate::db::DbError),
}

impl From<crate::db::DbError> for Stop {
    fn from(e: crate::db::DbError) -> Self {
        Stop::Db(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Db(crate::db::DbError::Query(e))
    }
}
