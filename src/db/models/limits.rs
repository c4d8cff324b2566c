//! Abuse limits counted in the database: one `rate_events` row per counted event.
//! Call `take` inside the transaction that does the counted thing, so that the count and
//! the change commit together (on PostgreSQL, under the firm's lock where there is one).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::rate_events;
use crate::db::DbConnection;
use crate::domain::limits::{check, Limit, Reached};

/// Counts `weight` events for `subject` if they fit; otherwise records nothing and says
/// when they would.
pub fn take(
    conn: &mut DbConnection,
    limit: &Limit,
    subject: &str,
    weight: u32,
    now: NaiveDateTime,
) -> QueryResult<Result<(), Reached>> {
    if let Err(reached) = would_take(conn, limit, subject, weight, now)? {
        return Ok(Err(reached));
    }
    record(conn, limit, subject, weight, now)?;
    Ok(Ok(()))
}

/// On PostgreSQL (READ COMMITTED), two transactions counting for the same subject at once
/// would each see room for one more and both record: the count of one (scope, subject) is
/// taken one transaction at a time, under a lock held until commit. (SQLite's writes are
/// serialised already.)
fn serialise(conn: &mut DbConnection, limit: &Limit, subject: &str) -> QueryResult<()> {
    use diesel::sql_types::Text;
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(format!("{} {subject}", limit.scope))
            .execute(pg)?;
    }
    Ok(())
}

/// Whether `weight` events would fit, recording nothing. Inside a transaction, the
/// subject's count stays this transaction's until it commits (see `serialise`).
pub fn would_take(
    conn: &mut DbConnection,
    limit: &Limit,
    subject: &str,
    weight: u32,
    now: NaiveDateTime,
) -> QueryResult<Result<(), Reached>> {
    serialise(conn, limit, subject)?;
    let in_window = || {
        rate_events::table
            .filter(rate_events::scope.eq(limit.scope))
            .filter(rate_events::subject.eq(subject))
            .filter(rate_events::at.gt(now - limit.window))
    };
    // Usually there is room: one sum says so without reading the events.
    let used: Option<i64> = in_window().select(diesel::dsl::sum(rate_events::weight)).first(conn)?;
    if used.unwrap_or(0) + i64::from(weight) <= i64::from(limit.max) {
        return Ok(Ok(()));
    }
    // Full: the events say when enough of them leave the window.
    let events = rate_events::table
        .filter(rate_events::scope.eq(limit.scope))
        .filter(rate_events::subject.eq(subject))
        .filter(rate_events::at.gt(now - limit.window))
        .order(rate_events::at.asc())
        .select((rate_events::at, rate_events::weight))
        .load::<(NaiveDateTime, i32)>(conn)?;
    Ok(check(limit, &events, weight, now))
}

/// Counts `weight` events, whatever the limit (e.g. a failed sign-in).
pub fn record(
    conn: &mut DbConnection,
    limit: &Limit,
    subject: &str,
    weight: u32,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(rate_events::table)
        .values((
            rate_events::scope.eq(limit.scope),
            rate_events::subject.eq(subject),
            rate_events::weight.eq(i32::try_from(weight).unwrap_or(i32::MAX)),
            rate_events::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets every event for `subject` in `limit`'s scope (e.g. after a successful sign-in).
pub fn forget(conn: &mut DbConnection, limit: &Limit, subject: &str) -> QueryResult<usize> {
    diesel::delete(
        rate_events::table.filter(rate_events::scope.eq(limit.scope)).filter(rate_events::subject.eq(subject)),
    )
    .execute(conn)
}

/// Forgets one event counted at `at` (an attempt that turned out not to count).
pub fn forget_one(conn: &mut DbConnection, limit: &Limit, subject: &str, at: NaiveDateTime) -> QueryResult<()> {
    let id = rate_events::table
        .filter(rate_events::scope.eq(limit.scope))
        .filter(rate_events::subject.eq(subject))
        .filter(rate_events::at.eq(at))
        .select(rate_events::id)
        .first::<i64>(conn)
        .optional()?;
    if let Some(id) = id {
        diesel::delete(rate_events::table.filter(rate_events::id.eq(id))).execute(conn)?;
    }
    Ok(())
}

/// Deletes events older than any window (the longest is a day).
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_events::table.filter(rate_events::at.lt(before))).execute(conn)
}
