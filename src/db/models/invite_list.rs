//! The lists of pending invites (a workspace's Members page, the Team page, the firm's
//! Pending invites page): one page at a time, newest first, with a search, a role and a
//! status, and the count of each status. Every query is served by an index on
//! (workspace_id, state, id) or (organization_id, state, id), or for a status, on
//! (…, state, expires_at) or (…, state, delivery_failing, id).

use diesel::prelude::*;

use crate::db::schema::invites;
use crate::db::DbConnection;
use crate::domain::listing::{Bound, Cursor, ListQuery, Status};
use crate::domain::{InviteId, OrgId, WorkspaceId};

use super::invite::{Invite, PENDING};
use super::lower;

type Backend = <DbConnection as diesel::Connection>::Backend;

/// Which invites a list holds.
#[derive(Clone, Debug)]
pub enum InviteList {
    /// Invites onto the firm's team.
    Team(OrgId),
    /// Invites into one client's workspace.
    Workspace(WorkspaceId),
    /// The firm's Pending invites page: its team invites of `team_roles`, and its clients'
    /// invites (all of them, or those of the chosen clients).
    Firm { org: OrgId, team_roles: Vec<String>, clients: Option<Vec<i64>> },
}

/// How many invites of each status match a list's search and role.
#[derive(Clone, Copy, Debug, Default)]
pub struct InviteCounts {
    pub pending: i64,
    pub expired: i64,
    pub failed: i64,
}

impl InviteCounts {
    /// Pending and expired: every invite still waiting for an answer.
    pub fn all(&self) -> i64 {
        self.pending + self.expired
    }

    pub fn of(&self, s: Status) -> i64 {
        match s {
            Status::Active => 0,
            Status::Pending => self.pending,
            Status::Expired => self.expired,
            Status::DeliveryFailed => self.failed,
        }
    }
}

/// The list's invites with the search, role and status applied (None: pending and expired).
fn listed(list: &InviteList, query: &ListQuery, status: Option<Status>) -> invites::BoxedQuery<'static, Backend> {
    let now = super::now();
    let mut q = invites::table.filter(invites::state.eq(PENDING)).into_boxed();
    q = match list {
        InviteList::Team(org) => q.filter(invites::organization_id.eq(org.0)).filter(invites::workspace_id.is_null()),
        // A workspace is of one firm: its id alone picks its invites, through the
        // (workspace_id, state, id) index.
        InviteList::Workspace(ws) => q.filter(invites::workspace_id.eq(ws.0)),
        InviteList::Firm { org, team_roles, clients } => {
            let team = invites::workspace_id.is_null().and(invites::role.eq_any(team_roles.clone()));
            let q = q.filter(invites::organization_id.eq(org.0));
            match clients {
                None => q.filter(team.or(invites::workspace_id.is_not_null())),
                Some(ids) => q.filter(team.or(invites::workspace_id.eq_any(ids.clone()).assume_not_null())),
            }
        }
    };
    if let Some(s) = &query.search {
        q = q.filter(lower(invites::email).like(s.pattern()).escape('\\'));
    }
    if let Some(role) = &query.role {
        q = q.filter(invites::role.eq(role.clone()));
    }
    match status {
        None | Some(Status::Active) => q,
        Some(Status::Pending) => q.filter(invites::expires_at.gt(now)),
        Some(Status::Expired) => q.filter(invites::expires_at.le(now)),
        // The invite's newest email (dropped ones aside) is failing or was given up: the
        // outbox keeps this flag (`outbox::set_delivery_failing`).
        Some(Status::DeliveryFailed) => q.filter(invites::delivery_failing.eq(true)),
    }
}

/// At most `n` invites of the list from `bound`, newest first ("after" an invite is older).
pub fn section(
    conn: &mut DbConnection,
    list: &InviteList,
    query: &ListQuery,
    section: u8,
    bound: Bound<'_>,
    n: usize,
) -> QueryResult<Vec<(Invite, Cursor)>> {
    let q = listed(list, query, query.status);
    let q = match bound {
        Bound::Start => q.order(invites::id.desc()),
        Bound::After(c) => q.filter(invites::id.lt(c.id)).order(invites::id.desc()),
        Bound::Before(c) => q.filter(invites::id.gt(c.id)).order(invites::id.asc()),
        Bound::End => q.order(invites::id.asc()),
    };
    Ok(q.limit(n as i64)
        .select(Invite::as_select())
        .load::<Invite>(conn)?
        .into_iter()
        .map(|i| {
            let c = Cursor::new(section, "", i.id);
            (i, c)
        })
        .collect())
}

/// Counts stop here ("100+"): a tab's count then reads at most this many index entries
/// (and one more), whatever the size of the list.
pub const COUNT_CAP: i64 = 100;

/// How many of the list's invites are pending, expired and failing, each exact up to
/// `COUNT_CAP` and `COUNT_CAP` + 1 past it: one query each, served by the index on
/// (workspace or firm, state, expires_at) or (…, state, delivery_failing, id), which
/// holds the rows of that status together.
pub fn counts(conn: &mut DbConnection, list: &InviteList, query: &ListQuery) -> QueryResult<InviteCounts> {
    let mut count = |s: Status| -> QueryResult<i64> {
        let ids = listed(list, query, Some(s)).select(invites::id).limit(COUNT_CAP + 1).load::<i64>(conn)?;
        Ok(ids.len() as i64)
    };
    Ok(InviteCounts {
        pending: count(Status::Pending)?,
        expired: count(Status::Expired)?,
        failed: count(Status::DeliveryFailed)?,
    })
}

/// The firm's pending invites among `ids` (a bulk action's selection).
pub fn pending_among(conn: &mut DbConnection, org: OrgId, ids: &[InviteId]) -> QueryResult<Vec<Invite>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::state.eq(PENDING))
        .filter(invites::id.eq_any(ids))
        .order(invites::id.asc())
        .select(Invite::as_select())
        .load(conn)
}
