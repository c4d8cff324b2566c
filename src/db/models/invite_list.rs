//! The lists of pending invites (a workspace's Members page, the Team page, the firm's
//! Pending invites page): one page at a time, newest first, with a search, a role and a
//! status, and the count of each status. Every query is served by an index on
//! (workspace_id, state, id) or (organization_id, state, id).

use diesel::prelude::*;

use crate::db::schema::{invites, outbox};
use crate::db::DbConnection;
use crate::domain::listing::{Bound, Cursor, ListQuery, Status};
use crate::domain::{InviteId, OrgId, WorkspaceId};

use super::invite::{Invite, PENDING};
use super::lower;
use super::outbox::coalesce;

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

diesel::alias!(outbox as newer: NewerEmail);

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
    // The expiry is compared through COALESCE, which no index serves: the list's own index
    // (workspace or firm, state, id) is then the planner's only choice, rather than the
    // global (state, expires_at) one that would walk every firm's pending invites.
    let expiry = coalesce(invites::expires_at.nullable(), invites::expires_at.nullable());
    match status {
        None | Some(Status::Active) => q,
        Some(Status::Pending) => q.filter(expiry.gt(now).assume_not_null()),
        Some(Status::Expired) => q.filter(expiry.le(now).assume_not_null()),
        Some(Status::DeliveryFailed) => {
            // The invite's newest email (dropped ones aside) is failing or was given up.
            let failing = outbox::table
                .filter(
                    outbox::state.eq("failed").or(outbox::state.eq("pending").and(outbox::last_error.is_not_null())),
                )
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    newer
                        .filter(newer.field(outbox::invite_id).eq(outbox::invite_id))
                        .filter(newer.field(outbox::id).gt(outbox::id))
                        .filter(newer.field(outbox::state).ne("dropped")),
                )))
                .select(outbox::invite_id.assume_not_null());
            q.filter(invites::id.eq_any(failing))
        }
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

diesel::define_sql_function! {
    /// COALESCE of an id that may be NULL (a scalar subquery's) and a default.
    #[sql_name = "coalesce"]
    fn id_or(x: diesel::sql_types::Nullable<diesel::sql_types::BigInt>, y: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}

/// Counts stop here ("100+"): a tab's count then costs at most this many index entries,
/// whatever the size of the list.
pub const COUNT_CAP: i64 = 100;

/// How many of the list's invites are pending, expired and failing, each exact up to
/// `COUNT_CAP` and `COUNT_CAP` + 1 past it: one query each.
pub fn counts(conn: &mut DbConnection, list: &InviteList, query: &ListQuery) -> QueryResult<InviteCounts> {
    let mut count = |s: Status| -> QueryResult<i64> {
        // The id of the row just past the cap (NULL when there is none): the rows from it
        // on are counted, so that the count walks at most COUNT_CAP + 1 index entries.
        let past_cap = listed(list, query, Some(s))
            .select(invites::id)
            .order(invites::id.desc())
            .offset(COUNT_CAP)
            .limit(1)
            .single_value();
        listed(list, query, Some(s)).filter(invites::id.ge(id_or(past_cap, 0))).count().get_result(conn)
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
