//! A firm's team: its members (organization role, client access, "New clients"), their
//! pending invites, and the changes a team Admin or Manager can make.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_client_grants, org_memberships, users, workspace_memberships, workspaces};
use crate::db::DbConnection;
use crate::domain::access::StaffFacts;
use crate::domain::listing::{page_of, Bound, Cursor, ListQuery, Status};
use crate::domain::{InviteId, MembershipId, OrgId, OrgRole, UserId, WorkspaceId};

use super::invite::{self, Invite};
use super::invite_list::{self, InviteCounts, InviteList};
use super::lower;
use super::outbox::{self, Delivery};

#[derive(Clone, Debug)]
pub struct Client {
    pub id: WorkspaceId,
    pub name: String,
}

/// Every client of the firm, by name.
pub fn clients_of(conn: &mut DbConnection, org: OrgId) -> QueryResult<Vec<Client>> {
    clients_among(conn, org, None)
}

/// The names of those of `ids` that are clients of firm `org` (one query).
pub fn clients_named(conn: &mut DbConnection, org: OrgId, ids: &[WorkspaceId]) -> QueryResult<Vec<Client>> {
    clients_among(conn, org, Some(ids))
}

/// The firm's clients (of `only`, if given), by name.
fn clients_among(conn: &mut DbConnection, org: OrgId, only: Option<&[WorkspaceId]>) -> QueryResult<Vec<Client>> {
    let mut q = workspaces::table.filter(workspaces::organization_id.eq(org.0)).into_boxed();
    if let Some(ids) = only {
        q = q.filter(workspaces::id.eq_any(ids.iter().map(|w| w.0).collect::<Vec<_>>()));
    }
    Ok(q.order(workspaces::name.asc())
        .select((workspaces::id, workspaces::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| Client { id: WorkspaceId(id), name })
        .collect())
}

pub struct TeamMemberRow {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: OrgRole,
    pub new_clients: bool,
    /// None: all clients (Admins and Managers).
    pub clients: Option<Vec<Client>>,
    pub since: NaiveDateTime,
    /// Two-factor authentication is on for their account.
    pub two_factor: bool,
    /// When their client access ends by itself (firm Members).
    pub clients_until: Option<NaiveDateTime>,
}

pub struct TeamInviteRow {
    pub id: InviteId,
    pub email: String,
    pub role: OrgRole,
    pub new_clients: bool,
    pub clients: Option<Vec<Client>>,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub delivery: Delivery,
    pub nonce: String,
    pub reminder_sent: bool,
}

/// One page of the Team page: its members (section 0, in the order they joined), then
/// its pending invites (section 1, newest first); and how many of each there are.
pub struct TeamList {
    pub members: Vec<TeamMemberRow>,
    pub invites: Vec<TeamInviteRow>,
    pub previous: Option<Cursor>,
    pub next: Option<Cursor>,
    /// Team members matching the search and role.
    pub active: i64,
    pub invite_counts: InviteCounts,
}

enum TeamRow {
    Member(TeamMemberRow),
    Invite(Box<Invite>),
}

type MemberRow = (i64, i64, String, String, String, bool, NaiveDateTime, bool, Option<NaiveDateTime>);

/// The team's members matching the query (its search and role).
fn members_matching(org: OrgId, query: &ListQuery) -> MembersQuery {
    let mut q =
        org_memberships::table.inner_join(users::table).filter(org_memberships::organization_id.eq(org.0)).into_boxed();
    if let Some(s) = &query.search {
        q = q.filter(lower(users::name).like(s.pattern()).escape('\\').or(users::email.like(s.pattern()).escape('\\')));
    }
    if let Some(role) = &query.role {
        q = q.filter(org_memberships::role.eq(role.clone()));
    }
    q
}

type MembersQuery = diesel::helper_types::IntoBoxed<
    'static,
    diesel::helper_types::Filter<
        diesel::helper_types::InnerJoin<org_memberships::table, users::table>,
        diesel::helper_types::Eq<org_memberships::organization_id, i64>,
    >,
    <DbConnection as diesel::Connection>::Backend,
>;

/// The Team page's rows, in a fixed number of queries whatever the size of the team, the
/// number of invites or of clients.
pub fn list(conn: &mut DbConnection, org: OrgId, query: &ListQuery) -> QueryResult<TeamList> {
    let invites = InviteList::Team(org);
    let sections: &[u8] = match query.status {
        None => &[0, 1],
        Some(Status::Active) => &[0],
        Some(_) => &[1],
    };
    let page = page_of(sections, &query.direction, |section, bound, n| {
        if section == 1 {
            let rows = invite_list::section(conn, &invites, query, 1, bound, n)?;
            return Ok(rows.into_iter().map(|(i, c)| (TeamRow::Invite(Box::new(i)), c)).collect());
        }
        let q = members_matching(org, query);
        let q = match bound {
            Bound::Start => q.order(org_memberships::id.asc()),
            Bound::After(c) => q.filter(org_memberships::id.gt(c.id)).order(org_memberships::id.asc()),
            Bound::Before(c) => q.filter(org_memberships::id.lt(c.id)).order(org_memberships::id.desc()),
            Bound::End => q.order(org_memberships::id.desc()),
        };
        let rows = q
            .limit(n as i64)
            .select((
                org_memberships::id,
                users::id,
                users::name,
                users::email,
                org_memberships::role,
                org_memberships::new_clients,
                org_memberships::created_at,
                users::totp_enabled_at.is_not_null(),
                org_memberships::clients_until,
            ))
            .load::<MemberRow>(conn)?;
        Ok::<_, diesel::result::Error>(
            rows.into_iter()
                .filter_map(|r| {
                    let c = Cursor::new(0, "", r.0);
                    member_row(r).map(|m| (TeamRow::Member(m), c))
                })
                .collect(),
        )
    })?;
    let (mut members, mut pending) = (Vec::new(), Vec::new());
    for row in page.rows {
        match row {
            TeamRow::Member(m) => members.push(m),
            TeamRow::Invite(i) => pending.push(*i),
        }
    }
    let mids: Vec<i64> = members.iter().map(|m| m.membership_id.0).collect();
    let mut grants: HashMap<i64, Vec<i64>> = HashMap::new();
    for (mid, ws) in org_client_grants::table
        .filter(org_client_grants::membership_id.eq_any(&mids))
        .select((org_client_grants::membership_id, org_client_grants::workspace_id))
        .load::<(i64, i64)>(conn)?
    {
        grants.entry(mid).or_default().push(ws);
    }
    let ids: Vec<i64> = pending.iter().map(|i| i.id).collect();
    let mut invite_clients: HashMap<i64, Vec<i64>> = HashMap::new();
    for (i, ws) in invite::client_ids_of(conn, &ids)? {
        invite_clients.entry(i).or_default().push(ws);
    }
    // The names of the clients this page mentions, and no others.
    let named: Vec<WorkspaceId> =
        grants.values().chain(invite_clients.values()).flatten().map(|w| WorkspaceId(*w)).collect();
    let by_id: HashMap<i64, Client> = clients_named(conn, org, &named)?.into_iter().map(|c| (c.id.0, c)).collect();
    // Which clients the rules say a role reaches: all, or the chosen ones by name.
    let reach = |role: OrgRole, ids: Vec<i64>, new_clients: bool| -> Option<Vec<Client>> {
        let facts = StaffFacts::new(role, ids.into_iter().map(WorkspaceId), new_clients);
        facts.clients.chosen().map(|set| {
            let mut v: Vec<Client> = set.iter().filter_map(|i| by_id.get(&i.0).cloned()).collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        })
    };
    for m in &mut members {
        // Past its end date their client access is gone, whether or not it was swept yet.
        let lapsed = super::access::lapsed(m.clients_until);
        let granted = if lapsed { Vec::new() } else { grants.remove(&m.membership_id.0).unwrap_or_default() };
        m.new_clients = m.new_clients && !lapsed;
        m.clients = reach(m.role, granted, m.new_clients);
        m.clients_until = m.clients_until.filter(|_| !lapsed && !crate::domain::access::sees_all_clients(m.role));
    }
    let delivery = outbox::delivery_for(conn, &ids)?;
    let inviter_ids: Vec<i64> = pending.iter().map(|i| i.invited_by).collect();
    let inviters: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&inviter_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let invites_rows = pending
        .into_iter()
        .filter_map(|i| {
            let role = OrgRole::parse(&i.role)?;
            Some(TeamInviteRow {
                id: i.invite_id(),
                role,
                new_clients: i.new_clients,
                clients: reach(role, invite_clients.remove(&i.id).unwrap_or_default(), i.new_clients),
                invited_by: inviters.get(&i.invited_by).cloned().unwrap_or_default(),
                delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
                email: i.email,
                created_at: i.created_at,
                expires_at: i.expires_at,
                nonce: i.token_nonce,
                reminder_sent: i.reminder_sent_at.is_some(),
            })
        })
        .collect();
    // Counted as the invites are, up to COUNT_CAP and one more ("100+"), so that the tab
    // costs the same for a team of 5,000; without a search, the team's rows alone (through
    // the organization_id index, no join).
    let cap = invite_list::COUNT_CAP + 1;
    let active = match (&query.search, &query.role) {
        (None, None) => org_memberships::table
            .filter(org_memberships::organization_id.eq(org.0))
            .select(org_memberships::id)
            .limit(cap)
            .load::<i64>(conn)?
            .len(),
        _ => members_matching(org, query).select(org_memberships::id).limit(cap).load::<i64>(conn)?.len(),
    } as i64;
    let invite_counts = invite_list::counts(conn, &invites, query)?;
    Ok(TeamList { members, invites: invites_rows, previous: page.previous, next: page.next, active, invite_counts })
}

/// A member's row as read, before their client access is named (`clients` is None).
fn member_row(
    (mid, uid, name, email, role, new_clients, since, two_factor, until): MemberRow,
) -> Option<TeamMemberRow> {
    Some(TeamMemberRow {
        membership_id: MembershipId(mid),
        user_id: UserId(uid),
        name,
        email,
        role: OrgRole::parse(&role)?,
        new_clients,
        clients: None,
        since,
        two_factor,
        clients_until: until,
    })
}

pub struct TeamMember {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: OrgRole,
    pub new_clients: bool,
    pub clients: Vec<WorkspaceId>,
    /// When their client access ends by itself (firm Members).
    pub clients_until: Option<NaiveDateTime>,
}

pub fn find(conn: &mut DbConnection, org: OrgId, user: UserId) -> QueryResult<Option<TeamMember>> {
    let row = org_memberships::table
        .inner_join(users::table)
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::user_id.eq(user.0))
        .select((
            org_memberships::id,
            users::name,
            users::email,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::clients_until,
        ))
        .first::<(i64, String, String, String, bool, Option<NaiveDateTime>)>(conn)
        .optional()?;
    let Some((mid, name, email, role, new_clients, clients_until)) = row else {
        return Ok(None);
    };
    let Some(role) = OrgRole::parse(&role) else {
        return Ok(None);
    };
    // Past its end date their client access is gone, whether or not it was swept yet.
    let (clients, new_clients) = if super::access::lapsed(clients_until) {
        (Vec::new(), false)
    } else {
        (super::access::client_grants(conn, MembershipId(mid))?, new_clients)
    };
    Ok(Some(TeamMember {
        membership_id: MembershipId(mid),
        user_id: user,
        name,
        email,
        role,
        new_clients,
        clients,
        clients_until,
    }))
}

pub fn count_admins(conn: &mut DbConnection, org: OrgId) -> QueryResult<i64> {
    org_memberships::table
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::role.eq(OrgRole::Admin.as_str()))
        .count()
        .get_result(conn)
}

/// Ends a team member's own rows in the workspaces of clients they no longer reach: their
/// workspace role there (if a workspace Admin set one) goes with the access. `only`: just
/// these clients; None: every client of the firm.
pub fn drop_workspace_roles(
    conn: &mut DbConnection,
    org: OrgId,
    user: UserId,
    only: Option<&[WorkspaceId]>,
) -> QueryResult<()> {
    let org_workspaces = workspaces::table.filter(workspaces::organization_id.eq(org.0)).select(workspaces::id);
    let mut q = diesel::delete(
        workspace_memberships::table
            .filter(workspace_memberships::user_id.eq(user.0))
            .filter(workspace_memberships::workspace_id.eq_any(org_workspaces)),
    )
    .into_boxed();
    if let Some(only) = only {
        if only.is_empty() {
            return Ok(());
        }
        let only: Vec<i64> = only.iter().map(|w| w.0).collect();
        q = q.filter(workspace_memberships::workspace_id.eq_any(only));
    }
    q.execute(conn)?;
    Ok(())
}

/// Sets a team membership's role, chosen clients and "New clients".
pub fn set_access(
    conn: &mut DbConnection,
    membership: MembershipId,
    role: OrgRole,
    clients: &[WorkspaceId],
    new_clients: bool,
) -> QueryResult<()> {
    diesel::update(org_memberships::table.find(membership.0))
        .set((org_memberships::role.eq(role.as_str()), org_memberships::new_clients.eq(new_clients)))
        .execute(conn)?;
    diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(membership.0))).execute(conn)?;
    // Row by row: batch inserts are not available through the two-backend connection.
    for c in clients {
        diesel::insert_into(org_client_grants::table)
            .values((org_client_grants::membership_id.eq(membership.0), org_client_grants::workspace_id.eq(c.0)))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes a team membership and the person's own rows in the firm's client workspaces.
pub fn remove_member(conn: &mut DbConnection, org: OrgId, member: &TeamMember) -> QueryResult<()> {
    diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(member.membership_id.0)))
        .execute(conn)?;
    diesel::delete(org_memberships::table.find(member.membership_id.0)).execute(conn)?;
    drop_workspace_roles(conn, org, member.user_id, None)
}

/// Everything removing a team member ends, and the invites they sent (which stay).
pub struct Offboarding {
    /// Their own roles in the firm's clients: (client, role).
    pub workspace_roles: Vec<(String, String)>,
    /// Their pending invites from the firm, by place: None for the team, else the client.
    pub invites_to_them: Vec<Option<String>>,
    /// Pending invites they sent: these stay valid (the firm sent them).
    pub invites_they_sent: i64,
}

pub fn offboarding(conn: &mut DbConnection, org: OrgId, member: &TeamMember) -> QueryResult<Offboarding> {
    let workspace_roles = workspace_memberships::table
        .inner_join(workspaces::table)
        .filter(workspace_memberships::user_id.eq(member.user_id.0))
        .filter(workspaces::organization_id.eq(org.0))
        .order(workspaces::name.asc())
        .select((workspaces::name, workspace_memberships::role))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(ws, role)| {
            let role = crate::domain::WorkspaceRole::parse(&role).map_or(role.clone(), |r| r.label().to_string());
            (ws, role)
        })
        .collect();
    let invites_to_them = invite::pending_places_of(conn, org, &member.email)?;
    let invites_they_sent = crate::db::schema::invites::table
        .filter(crate::db::schema::invites::organization_id.eq(org.0))
        .filter(crate::db::schema::invites::invited_by.eq(member.user_id.0))
        .filter(crate::db::schema::invites::state.eq(invite::PENDING))
        .count()
        .get_result::<i64>(conn)?;
    Ok(Offboarding { workspace_roles, invites_to_them, invites_they_sent })
}
