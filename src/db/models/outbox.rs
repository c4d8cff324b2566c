//! The email outbox. A row is written in the same transaction as the change that needs
//! the email; the worker (`crate::email::worker`) claims due rows, sends them with no
//! transaction open, and records the result. Nothing is lost on a restart: a row claimed
//! by a worker that died is claimed again when its lease runs out.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use crate::db::schema::outbox;
use crate::db::DbConnection;
use crate::domain::InviteId;

pub const KIND_INVITE: &str = "invite";
/// A pending invite's reminder, a set time before it expires.
pub const KIND_INVITE_REMINDER: &str = "invite_reminder";
pub const KIND_VERIFY_EMAIL: &str = "verify_email";
pub const KIND_RESET_PASSWORD: &str = "reset_password";
/// "Someone's access ends in 7 days" to a workspace Admin: rendered from the membership.
pub const KIND_ACCESS_ENDING: &str = "access_ending";
/// "A firm Member's client access ends in 7 days" to the firm's Admins and Managers.
pub const KIND_CLIENT_ACCESS_ENDING: &str = "client_access_ending";

pub fn enqueue_invite(conn: &mut DbConnection, invite: InviteId, to: &str) -> QueryResult<()> {
    enqueue(conn, KIND_INVITE, Some(invite.0), None, to)
}

/// The one reminder of a pending invite: the invite email again, said as a reminder.
pub fn enqueue_reminder(conn: &mut DbConnection, invite: InviteId, to: &str) -> QueryResult<()> {
    enqueue(conn, KIND_INVITE_REMINDER, Some(invite.0), None, to)
}

/// An email verification or password reset email: rendered at send time from its link's
/// row (`account_tokens`), and dropped if the link was used or replaced meanwhile.
pub fn enqueue_account(conn: &mut DbConnection, kind: &'static str, token: i64, to: &str) -> QueryResult<()> {
    enqueue(conn, kind, None, Some(token), to)
}

/// An email about a workspace membership (its end date): rendered at send time from it.
pub fn enqueue_membership(conn: &mut DbConnection, kind: &'static str, membership: i64, to: &str) -> QueryResult<()> {
    enqueue_about(conn, kind, None, None, Some(membership), to)
}

fn enqueue(conn: &mut DbConnection, kind: &str, invite: Option<i64>, token: Option<i64>, to: &str) -> QueryResult<()> {
    enqueue_about(conn, kind, invite, token, None, to)
}

fn enqueue_about(
    conn: &mut DbConnection,
    kind: &str,
    invite: Option<i64>,
    token: Option<i64>,
    membership: Option<i64>,
    to: &str,
) -> QueryResult<()> {
    let now = super::now();
    diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(kind),
            outbox::invite_id.eq(invite),
            outbox::token_id.eq(token),
            outbox::membership_id.eq(membership),
            outbox::to_email.eq(to),
            outbox::state.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    if let Some(invite) = invite {
        // The invite's newest email is this one, not sent yet: not failing.
        set_delivery_failing(conn, invite, None, false)?;
    }
    Ok(())
}

/// Keeps `invites.delivery_failing` what the invite's newest email (dropped ones aside)
/// says: the email `id` has just failed or gone out, and decides only when no newer email
/// of the invite was queued meanwhile. A statement that changes nothing when the flag is
/// already right.
fn set_delivery_failing(conn: &mut DbConnection, invite: i64, id: Option<i64>, failing: bool) -> QueryResult<()> {
    use crate::db::schema::invites;
    let row = invites::table.find(invite).filter(invites::delivery_failing.ne(failing));
    match id {
        None => diesel::update(row).set(invites::delivery_failing.eq(failing)).execute(conn)?,
        Some(id) => {
            let newer = outbox::table
                .filter(outbox::invite_id.eq(invite))
                .filter(outbox::id.gt(id))
                .filter(outbox::state.ne("dropped"));
            diesel::update(row.filter(diesel::dsl::not(diesel::dsl::exists(newer))))
                .set(invites::delivery_failing.eq(failing))
                .execute(conn)?
        }
    };
    Ok(())
}

/// Emails for an invite that is no longer pending are not sent.
pub fn drop_pending_for_invite(conn: &mut DbConnection, invite: InviteId) -> QueryResult<()> {
    diesel::update(outbox::table.filter(outbox::invite_id.eq(invite.0)).filter(outbox::state.eq("pending")))
        .set(outbox::state.eq("dropped"))
        .execute(conn)?;
    Ok(())
}

#[derive(Clone, Debug, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub invite_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub token_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub membership_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub to_email: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamp)]
    pub created_at: NaiveDateTime,
}

/// Claims up to `limit` due emails for `lease`, atomically: on PostgreSQL with
/// `FOR UPDATE SKIP LOCKED` (so several app instances never send one email twice); on
/// SQLite the caller holds the single writer lock.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let until = now + lease;
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "UPDATE outbox SET locked_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
                          AND (locked_until IS NULL OR locked_until <= $2) \
                          ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, invite_id, token_id, membership_id, to_email, attempts, created_at",
        )
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(pg),
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "UPDATE outbox SET locked_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? \
                          AND (locked_until IS NULL OR locked_until <= ?) \
                          ORDER BY id LIMIT ?) \
             RETURNING id, kind, invite_id, token_id, membership_id, to_email, attempts, created_at",
        )
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(lite),
    }
}

/// Lets claimed emails go unsent (the process is stopping): due again at once, for any
/// instance, and the claim does not count as an attempt.
pub fn release(conn: &mut DbConnection, claimed: &[(i64, i32)]) -> QueryResult<()> {
    for &(id, attempts) in claimed {
        diesel::update(outbox::table.find(id).filter(outbox::state.eq("pending")))
            .set((outbox::locked_until.eq(None::<NaiveDateTime>), outbox::attempts.eq(attempts - 1)))
            .execute(conn)?;
    }
    Ok(())
}

/// Records that the email `id` (about `invite`, if it is an invite's) went out.
pub fn mark_sent(conn: &mut DbConnection, id: i64, invite: Option<i64>) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::state.eq("sent"),
            outbox::sent_at.eq(Some(super::now())),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    if let Some(invite) = invite {
        set_delivery_failing(conn, invite, Some(id), false)?;
    }
    Ok(())
}

pub fn mark_dropped(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((outbox::state.eq("dropped"), outbox::locked_until.eq(None::<NaiveDateTime>)))
        .execute(conn)?;
    Ok(())
}

diesel::define_sql_function! {
    /// SQL's COALESCE of two timestamps.
    fn coalesce(x: Nullable<Timestamp>, y: Nullable<Timestamp>) -> Nullable<Timestamp>;
}

/// Records a failed attempt: the mail server's answer, when to try again, and (the first
/// time) since when the email has been failing. After `max_attempts` it is given up.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: i64,
    invite: Option<i64>,
    attempts: i32,
    error: &str,
    next_attempt: NaiveDateTime,
    max_attempts: i32,
) -> QueryResult<()> {
    let state = if attempts >= max_attempts { "failed" } else { "pending" };
    let error: String = error.chars().take(500).collect();
    diesel::update(outbox::table.find(id))
        .set((
            outbox::state.eq(state),
            outbox::last_error.eq(Some(error)),
            outbox::next_attempt_at.eq(next_attempt),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::first_failed_at.eq(coalesce(outbox::first_failed_at, Some(super::now()))),
        ))
        .execute(conn)?;
    if let Some(invite) = invite {
        set_delivery_failing(conn, invite, Some(id), true)?;
    }
    Ok(())
}

/// What the Members and Team pages say about an invite's email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    NotSentYet,
    /// Failed at least once, tried again later; failing since then.
    Retrying {
        since: Option<NaiveDateTime>,
    },
    Failed,
    Sent(NaiveDateTime),
}

/// The state of the newest email of each invite (one query).
pub fn delivery_for(conn: &mut DbConnection, invites: &[i64]) -> QueryResult<HashMap<i64, Delivery>> {
    type Row = (Option<i64>, String, i32, Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>);
    let rows = outbox::table
        .filter(outbox::invite_id.eq_any(invites))
        .filter(outbox::state.ne("dropped"))
        .order(outbox::id.desc())
        .select((
            outbox::invite_id,
            outbox::state,
            outbox::attempts,
            outbox::last_error,
            outbox::sent_at,
            outbox::first_failed_at,
        ))
        .load::<Row>(conn)?;
    let mut out = HashMap::new();
    for (invite, state, attempts, error, sent_at, since) in rows {
        let Some(invite) = invite else { continue };
        out.entry(invite).or_insert_with(|| match (state.as_str(), sent_at) {
            ("sent", Some(at)) => Delivery::Sent(at),
            ("failed", _) => Delivery::Failed,
            _ if attempts > 0 && error.is_some() => Delivery::Retrying { since },
            _ => Delivery::NotSentYet,
        });
    }
    Ok(out)
}

/// One of a firm's emails that has not gone out: failing and retried, or given up.
#[derive(Clone, Debug)]
pub struct FailingEmail {
    pub id: i64,
    pub to_email: String,
    /// The client the invite is to; None for a Team invite.
    pub workspace: Option<String>,
    /// True when given up (no more attempts).
    pub given_up: bool,
    pub attempts: i32,
    pub first_failed_at: Option<NaiveDateTime>,
    /// The mail server's last answer (or why the email could not be handed to it).
    pub last_error: String,
    pub next_attempt_at: NaiveDateTime,
}

/// A firm's emails still waiting to be sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FirmQueue {
    pub waiting: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// The Email delivery page of a firm: its invite emails (Team invites and invites to its
/// clients) that have failed and are retried or were given up, longest failing first, up
/// to `limit`; and how many of its emails wait and since when. Two queries, whatever the
/// number of emails.
pub fn failing_for_firm(
    conn: &mut DbConnection,
    org: crate::domain::OrgId,
    limit: i64,
) -> QueryResult<(Vec<FailingEmail>, FirmQueue)> {
    use crate::db::schema::{invites as i, workspaces as w};
    use diesel::dsl::{count_star, min};
    type Row = (i64, String, Option<String>, String, i32, Option<NaiveDateTime>, Option<String>, NaiveDateTime);
    let rows = outbox::table
        .inner_join(i::table.on(i::id.nullable().eq(outbox::invite_id)))
        .left_join(w::table.on(w::id.nullable().eq(i::workspace_id)))
        .filter(i::organization_id.eq(org.0))
        .filter(outbox::state.eq("failed").or(outbox::state.eq("pending").and(outbox::last_error.is_not_null())))
        .order((outbox::first_failed_at.asc(), outbox::id.asc()))
        .limit(limit)
        .select((
            outbox::id,
            outbox::to_email,
            w::name.nullable(),
            outbox::state,
            outbox::attempts,
            outbox::first_failed_at,
            outbox::last_error,
            outbox::next_attempt_at,
        ))
        .load::<Row>(conn)?;
    let failing = rows
        .into_iter()
        .map(|(id, to_email, workspace, state, attempts, first_failed_at, last_error, next_attempt_at)| FailingEmail {
            id,
            to_email,
            workspace,
            given_up: state == "failed",
            attempts,
            first_failed_at,
            last_error: last_error.unwrap_or_default(),
            next_attempt_at,
        })
        .collect();
    let (waiting, oldest) = outbox::table
        .inner_join(i::table.on(i::id.nullable().eq(outbox::invite_id)))
        .filter(i::organization_id.eq(org.0))
        .filter(outbox::state.eq("pending"))
        .select((count_star(), min(outbox::created_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok((failing, FirmQueue { waiting, oldest }))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct MailboxRow {
    pub id: i64,
    pub kind: String,
    pub invite_id: Option<i64>,
    pub token_id: Option<i64>,
    pub membership_id: Option<i64>,
    pub to_email: String,
    pub state: String,
    pub created_at: NaiveDateTime,
}

/// For the local mailbox page (development, no SMTP): the newest emails to one address.
pub fn recent_to(conn: &mut DbConnection, to: &str, limit: i64) -> QueryResult<Vec<MailboxRow>> {
    outbox::table
        .filter(outbox::to_email.eq(to))
        .order(outbox::id.desc())
        .limit(limit)
        .select(MailboxRow::as_select())
        .load(conn)
}

/// What an invite email's subject names: the inviter, the workspace (None for a Team
/// invite) and the firm.
pub struct InviteSubjectParts {
    pub inviter: String,
    pub workspace: Option<String>,
    pub org: String,
}

/// The local mailbox's list: the newest emails to `to`, and what their invite emails'
/// subjects name. Three queries, whatever the number of emails.
pub fn mailbox_of(
    conn: &mut DbConnection,
    to: &str,
    limit: i64,
) -> QueryResult<(Vec<MailboxRow>, HashMap<i64, InviteSubjectParts>)> {
    let rows = recent_to(conn, to, limit)?;
    let invites: Vec<i64> = rows.iter().filter_map(|r| r.invite_id).collect();
    let parts = invite_subject_parts(conn, &invites)?;
    Ok((rows, parts))
}

/// What each of `invites`' email subject names. Two queries, whatever their number.
pub fn invite_subject_parts(conn: &mut DbConnection, invites: &[i64]) -> QueryResult<HashMap<i64, InviteSubjectParts>> {
    use crate::db::schema::{invites as i, organizations as o, users as u, workspaces as w};
    let rows = i::table
        .inner_join(u::table)
        .inner_join(o::table)
        .filter(i::id.eq_any(invites))
        .select((i::id, u::name, i::workspace_id, o::name))
        .load::<(i64, String, Option<i64>, String)>(conn)?;
    let ws_ids: Vec<i64> = rows.iter().filter_map(|r| r.2).collect();
    let ws_names: HashMap<i64, String> = w::table
        .filter(w::id.eq_any(&ws_ids))
        .select((w::id, w::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, inviter, ws, org)| {
            (id, InviteSubjectParts { inviter, workspace: ws.and_then(|w| ws_names.get(&w).cloned()), org })
        })
        .collect())
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<MailboxRow>> {
    outbox::table.find(id).select(MailboxRow::as_select()).first(conn).optional()
}

/// The outbox as an operator sees it (for /metrics): one query, over the `state` index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboxStats {
    /// Emails waiting to be sent.
    pub queued: i64,
    /// Of those, the ones whose last attempt failed.
    pub failing: i64,
    /// Emails given up on.
    pub failed: i64,
    /// Seconds since the oldest waiting email was queued (0 when none waits).
    pub oldest_queued_age_seconds: f64,
}

pub fn stats(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<OutboxStats> {
    use diesel::dsl::{count_star, min, sql};
    let rows = outbox::table
        .filter(outbox::state.eq_any(["pending", "failed"]))
        .group_by(outbox::state)
        .select((outbox::state, count_star(), sql::<BigInt>("COUNT(last_error)"), min(outbox::created_at)))
        .load::<(String, i64, i64, Option<NaiveDateTime>)>(conn)?;
    let mut out = OutboxStats::default();
    for (state, n, with_error, oldest) in rows {
        if state == "pending" {
            out.queued = n;
            out.failing = with_error;
            out.oldest_queued_age_seconds = oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
        } else {
            out.failed = n;
        }
    }
    Ok(out)
}
