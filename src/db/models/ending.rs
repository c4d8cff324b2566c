//! Access that ends by itself. The readers (`access`, `places`) already treat an end date
//! that has come as no access at all, from that moment; this sweep then removes the rows,
//! with an audit event each, and sends the "access ends in 7 days" notices. Both are safe to
//! run from several instances at once: each row is ended (or noticed) by one statement
//! that only one of them wins.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{org_client_grants, org_memberships, users, workspace_memberships, workspaces};
use crate::db::DbConnection;
use crate::domain::{EndDate, OrgId, UserId, WorkspaceId};

use super::access::{self, WorkspaceInfo};
use super::audit::{self, AuditAction, NewEvent};
use super::outbox;

/// The workspace's Admins hear this long before someone's access there ends.
pub const NOTICE_DAYS: i64 = 7;

/// Anything to sweep or notify: one cheap indexed read, so that the sweep writes only when
/// there is something to write.
pub fn anything_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let seat = diesel::select(diesel::dsl::exists(
        workspace_memberships::table
            .filter(workspace_memberships::ends_at.le(now + Duration::days(NOTICE_DAYS)))
            .filter(workspace_memberships::ends_at.le(now).or(workspace_memberships::end_notice_sent_at.is_null())),
    ))
    .get_result::<bool>(conn)?;
    if seat {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        org_memberships::table
            .filter(org_memberships::clients_until.le(now + Duration::days(NOTICE_DAYS)))
            .filter(org_memberships::clients_until.le(now).or(org_memberships::end_notice_sent_at.is_null())),
    ))
    .get_result::<bool>(conn)
}

/// Ends every access whose end date has come: workspace rows go (with their entities), a
/// firm Member's client access goes (with their own roles in those clients). Returns how
/// many accesses ended.
pub fn end_lapsed(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let seats = workspace_memberships::table
        .inner_join(users::table)
        .inner_join(workspaces::table)
        .filter(workspace_memberships::ends_at.le(now))
        .select((
            workspace_memberships::id,
            workspace_memberships::workspace_id,
            workspaces::organization_id,
            users::email,
            workspace_memberships::ends_at,
        ))
        .load::<(i64, i64, i64, String, Option<NaiveDateTime>)>(conn)?;
    let mut ended = 0;
    for (mid, ws, org, email, until) in seats {
        // Only this row, and only while its end date is still one that has come: a sweep
        // on another instance, or an "Extend" a moment ago, wins. Its entity grants go with
        // it (ON DELETE CASCADE).
        let gone =
            diesel::delete(workspace_memberships::table.find(mid).filter(workspace_memberships::ends_at.le(now)))
                .execute(conn)?;
        if gone == 1 {
            ended += 1;
            record(conn, OrgId(org), Some(WorkspaceId(ws)), &email, until)?;
        }
    }
    let staff = org_memberships::table
        .inner_join(users::table)
        .filter(org_memberships::clients_until.le(now))
        .select((
            org_memberships::id,
            org_memberships::organization_id,
            users::id,
            users::email,
            org_memberships::clients_until,
        ))
        .load::<(i64, i64, i64, String, Option<NaiveDateTime>)>(conn)?;
    for (mid, org, user, email, until) in staff {
        let won = diesel::update(org_memberships::table.find(mid).filter(org_memberships::clients_until.le(now)))
            .set((
                org_memberships::clients_until.eq(None::<NaiveDateTime>),
                org_memberships::end_notice_sent_at.eq(None::<NaiveDateTime>),
                org_memberships::new_clients.eq(false),
            ))
            .execute(conn)?;
        if won == 1 {
            diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(mid))).execute(conn)?;
            super::team::drop_workspace_roles(conn, OrgId(org), UserId(user), None)?;
            ended += 1;
            record(conn, OrgId(org), None, &email, until)?;
        }
    }
    Ok(ended)
}

fn record(
    conn: &mut DbConnection,
    org: OrgId,
    ws: Option<WorkspaceId>,
    email: &str,
    until: Option<NaiveDateTime>,
) -> QueryResult<()> {
    let what = if ws.is_some() { "end date" } else { "client access end date" };
    let detail = until.map(|u| format!("{what} {}", EndDate::of(u).words())).unwrap_or_default();
    audit::record(
        conn,
        NewEvent { org, workspace: ws, actor: None, action: AuditAction::AccessEnded, target: email, detail },
    )
}

/// Queues the "access ends in 7 days" emails, once per end date: for a workspace row, to
/// each of the workspace's Admins; for a firm Member's client access, to the firm's Admins
/// and Managers (who set it on the Team page). Returns how many emails.
pub fn send_notices(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let soon = now + Duration::days(NOTICE_DAYS);
    let due = workspace_memberships::table
        .filter(workspace_memberships::ends_at.gt(now))
        .filter(workspace_memberships::ends_at.le(soon))
        .filter(workspace_memberships::end_notice_sent_at.is_null())
        .select((workspace_memberships::id, workspace_memberships::workspace_id, workspace_memberships::user_id))
        .load::<(i64, i64, i64)>(conn)?;
    let mut queued = 0;
    for (mid, ws, user) in due {
        let won = diesel::update(
            workspace_memberships::table.find(mid).filter(workspace_memberships::end_notice_sent_at.is_null()),
        )
        .set(workspace_memberships::end_notice_sent_at.eq(Some(now)))
        .execute(conn)?;
        if won == 0 {
            continue;
        }
        let Some(info) = access::workspace_info(conn, WorkspaceId(ws))? else { continue };
        for to in workspace_admin_emails(conn, &info, UserId(user))? {
            outbox::enqueue_membership(conn, outbox::KIND_ACCESS_ENDING, mid, &to)?;
            queued += 1;
        }
    }
    let staff = org_memberships::table
        .filter(org_memberships::clients_until.gt(now))
        .filter(org_memberships::clients_until.le(soon))
        .filter(org_memberships::end_notice_sent_at.is_null())
        .select((org_memberships::id, org_memberships::organization_id, org_memberships::user_id))
        .load::<(i64, i64, i64)>(conn)?;
    for (mid, org, user) in staff {
        let won =
            diesel::update(org_memberships::table.find(mid).filter(org_memberships::end_notice_sent_at.is_null()))
                .set(org_memberships::end_notice_sent_at.eq(Some(now)))
                .execute(conn)?;
        if won == 0 {
            continue;
        }
        for to in firm_lead_emails(conn, OrgId(org), UserId(user))? {
            outbox::enqueue_membership(conn, outbox::KIND_CLIENT_ACCESS_ENDING, mid, &to)?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// The emails of a workspace's effective Admins (its own and the firm's), but `except`.
fn workspace_admin_emails(conn: &mut DbConnection, ws: &WorkspaceInfo, except: UserId) -> QueryResult<Vec<String>> {
    let admins: Vec<i64> = access::people_of(conn, ws)?
        .into_iter()
        .filter(|p| p.user != except && crate::domain::access::is_admin(&p.standing))
        .map(|p| p.user.0)
        .collect();
    let mut emails: Vec<String> =
        users::table.filter(users::id.eq_any(admins)).select(users::email).load::<String>(conn)?;
    emails.sort();
    Ok(emails)
}

/// The emails of a firm's Admins and Managers (who manage its staff's client access).
fn firm_lead_emails(conn: &mut DbConnection, org: OrgId, except: UserId) -> QueryResult<Vec<String>> {
    let leads = [crate::domain::OrgRole::Admin.as_str(), crate::domain::OrgRole::Manager.as_str()];
    org_memberships::table
        .inner_join(users::table)
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::role.eq_any(leads))
        .filter(org_memberships::user_id.ne(except.0))
        .order(users::email.asc())
        .select(users::email)
        .load::<String>(conn)
}

/// Where an access that ends soon is.
pub enum NoticePlace {
    Workspace {
        id: WorkspaceId,
        name: String,
    },
    /// A firm Member's access to the firm's clients.
    Firm(OrgId),
}

/// What an "access ends soon" email says, read when it is sent.
pub struct EndingNotice {
    pub place: NoticePlace,
    pub org_name: String,
    pub user: UserId,
    pub name: String,
    pub email: String,
    pub ends: EndDate,
}

/// The notice about workspace row `membership` (or, `staff`, team membership), if its end
/// date is still ahead. None: it was removed, cleared, or has ended (the email is dropped).
pub fn notice(
    conn: &mut DbConnection,
    membership: i64,
    staff: bool,
    now: NaiveDateTime,
) -> QueryResult<Option<EndingNotice>> {
    if staff {
        return staff_notice(conn, membership, now);
    }
    let row = workspace_memberships::table
        .inner_join(users::table)
        .filter(workspace_memberships::id.eq(membership))
        .filter(workspace_memberships::end_notice_sent_at.is_not_null())
        .select((
            workspace_memberships::workspace_id,
            users::id,
            users::name,
            users::email,
            workspace_memberships::ends_at,
        ))
        .first::<(i64, i64, String, String, Option<NaiveDateTime>)>(conn)
        .optional()?;
    let Some((ws, user, name, email, Some(until))) = row else { return Ok(None) };
    if until <= now {
        return Ok(None);
    }
    let Some(info) = access::workspace_info(conn, WorkspaceId(ws))? else { return Ok(None) };
    Ok(Some(EndingNotice {
        place: NoticePlace::Workspace { id: info.id, name: info.name },
        org_name: info.org_name,
        user: UserId(user),
        name,
        email,
        ends: EndDate::of(until),
    }))
}

fn staff_notice(conn: &mut DbConnection, membership: i64, now: NaiveDateTime) -> QueryResult<Option<EndingNotice>> {
    use crate::db::schema::organizations;
    let row = org_memberships::table
        .inner_join(users::table)
        .inner_join(organizations::table)
        .filter(org_memberships::id.eq(membership))
        .filter(org_memberships::end_notice_sent_at.is_not_null())
        .select((
            organizations::id,
            organizations::name,
            users::id,
            users::name,
            users::email,
            org_memberships::clients_until,
        ))
        .first::<(i64, String, i64, String, String, Option<NaiveDateTime>)>(conn)
        .optional()?;
    let Some((org, org_name, user, name, email, Some(until))) = row else { return Ok(None) };
    if until <= now {
        return Ok(None);
    }
    Ok(Some(EndingNotice {
        place: NoticePlace::Firm(OrgId(org)),
        org_name,
        user: UserId(user),
        name,
        email,
        ends: EndDate::of(until),
    }))
}

/// Sets (or clears) the end date of someone's row in a workspace; a new date may be noticed
/// again. Returns whether they have a row.
pub fn set_seat_end(
    conn: &mut DbConnection,
    ws: WorkspaceId,
    user: UserId,
    ends: Option<EndDate>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        workspace_memberships::table
            .filter(workspace_memberships::workspace_id.eq(ws.0))
            .filter(workspace_memberships::user_id.eq(user.0)),
    )
    .set((
        workspace_memberships::ends_at.eq(ends.map(EndDate::starts_at)),
        workspace_memberships::end_notice_sent_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// The end date of someone's row in a workspace.
pub fn seat_end(conn: &mut DbConnection, ws: WorkspaceId, user: UserId) -> QueryResult<Option<EndDate>> {
    Ok(workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.0))
        .filter(workspace_memberships::user_id.eq(user.0))
        .select(workspace_memberships::ends_at)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten()
        .map(EndDate::of))
}

/// Sets (or clears) when a firm Member's client access ends.
pub fn set_client_access_end(
    conn: &mut DbConnection,
    org: OrgId,
    user: UserId,
    ends: Option<EndDate>,
) -> QueryResult<()> {
    diesel::update(
        org_memberships::table
            .filter(org_memberships::organization_id.eq(org.0))
            .filter(org_memberships::user_id.eq(user.0)),
    )
    .set((
        org_memberships::clients_until.eq(ends.map(EndDate::starts_at)),
        org_memberships::end_notice_sent_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}
