//! The facts the rules (`crate::domain::access`) decide from, loaded from the database on
//! every request: a person's place on a firm's team and their row in a client's workspace.
//! Nothing here decides who may do what; it only reads what is stored.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    org_client_grants, org_memberships, organizations, workspace_entity_grants, workspace_memberships, workspaces,
};
use crate::db::DbConnection;
use crate::domain::access::{self, Access, PersonFacts, SeatFacts, StaffFacts, Standing};
use crate::domain::two_factor::{Demand, Requirement};
use crate::domain::{EntityId, MembershipId, OrgId, OrgRole, UserId, WorkspaceId, WorkspaceRole};

#[derive(Clone, Debug)]
pub struct WorkspaceInfo {
    pub id: WorkspaceId,
    pub name: String,
    pub org_id: OrgId,
    pub org_name: String,
}

/// The caller inside a workspace: who they are there, and on the firm's team.
#[derive(Clone, Debug)]
pub struct WorkspaceAccess {
    pub workspace: WorkspaceInfo,
    pub user: UserId,
    pub standing: Standing,
    /// Their place on the team of the firm that owns the workspace, if any.
    pub staff: Option<StaffFacts>,
    /// The workspace's own "Require two-factor authentication", if on.
    pub require_2fa: Option<Requirement>,
    /// What the workspace's and (for staff who came through the firm) the firm's
    /// requirements ask of the caller, each with its deadline.
    pub two_factor: Vec<Demand>,
}

impl WorkspaceAccess {
    pub fn can_see_entity(&self, id: EntityId) -> bool {
        access::may_read_entity(&self.standing, id)
    }
}

pub fn workspace_info(conn: &mut DbConnection, ws: WorkspaceId) -> QueryResult<Option<WorkspaceInfo>> {
    Ok(workspace_with_requirements(conn, ws)?.map(|(info, _)| info))
}

/// The two-factor requirements of a workspace and of its firm.
struct Requirements {
    workspace: Option<Requirement>,
    firm: Option<Requirement>,
}

/// The workspace, with its own and its firm's two-factor requirements (the same one query).
fn workspace_with_requirements(
    conn: &mut DbConnection,
    ws: WorkspaceId,
) -> QueryResult<Option<(WorkspaceInfo, Requirements)>> {
    let row = workspaces::table
        .inner_join(organizations::table)
        .filter(workspaces::id.eq(ws.0))
        .select((
            workspaces::id,
            workspaces::name,
            organizations::id,
            organizations::name,
            workspaces::require_2fa_since,
            workspaces::require_2fa_grace_days,
            organizations::require_2fa_since,
            organizations::require_2fa_grace_days,
        ))
        .first::<(i64, String, i64, String, Option<NaiveDateTime>, i32, Option<NaiveDateTime>, i32)>(conn)
        .optional()?;
    Ok(row.map(|(id, name, org_id, org_name, ws_since, ws_grace, org_since, org_grace)| {
        (
            WorkspaceInfo { id: WorkspaceId(id), name, org_id: OrgId(org_id), org_name },
            Requirements {
                workspace: Requirement::from_columns(ws_since, ws_grace),
                firm: Requirement::from_columns(org_since, org_grace),
            },
        )
    }))
}

/// A person's team membership of a firm, with every client granted to them.
pub fn staff_facts(
    conn: &mut DbConnection,
    user: UserId,
    org: OrgId,
) -> QueryResult<Option<(MembershipId, StaffFacts)>> {
    Ok(staff_facts_since(conn, user, org)?.map(|(mid, facts, _)| (mid, facts)))
}

/// The same, with when they joined the team.
fn staff_facts_since(
    conn: &mut DbConnection,
    user: UserId,
    org: OrgId,
) -> QueryResult<Option<(MembershipId, StaffFacts, NaiveDateTime)>> {
    let row = org_memberships::table
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::user_id.eq(user.0))
        .select((
            org_memberships::id,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::created_at,
            org_memberships::clients_until,
        ))
        .first::<(i64, String, bool, NaiveDateTime, Option<NaiveDateTime>)>(conn)
        .optional()?;
    let Some((mid, role, new_clients, joined, until)) = row else {
        return Ok(None);
    };
    let Some(role) = OrgRole::parse(&role) else {
        return Ok(None);
    };
    // Client access past its end date is gone from that moment, swept or not.
    if lapsed(until) {
        return Ok(Some((MembershipId(mid), StaffFacts::new(role, [], false), joined)));
    }
    let granted = client_grants(conn, MembershipId(mid))?;
    Ok(Some((MembershipId(mid), StaffFacts::new(role, granted, new_clients), joined)))
}

/// The clients (workspaces) a team membership was granted.
pub fn client_grants(conn: &mut DbConnection, membership: MembershipId) -> QueryResult<Vec<WorkspaceId>> {
    Ok(org_client_grants::table
        .filter(org_client_grants::membership_id.eq(membership.0))
        .select(org_client_grants::workspace_id)
        .load::<i64>(conn)?
        .into_iter()
        .map(WorkspaceId)
        .collect())
}

/// A person's own row in a workspace, with its entities.
pub fn seat_facts(
    conn: &mut DbConnection,
    user: UserId,
    ws: WorkspaceId,
) -> QueryResult<Option<(MembershipId, SeatFacts)>> {
    Ok(seat_facts_since(conn, user, ws)?.map(|(mid, facts, _)| (mid, facts)))
}

/// The same, with when the row was made (they joined the workspace).
fn seat_facts_since(
    conn: &mut DbConnection,
    user: UserId,
    ws: WorkspaceId,
) -> QueryResult<Option<(MembershipId, SeatFacts, NaiveDateTime)>> {
    let row = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.0))
        .filter(workspace_memberships::user_id.eq(user.0))
        .filter(seat_is_live(super::now()))
        .select((
            workspace_memberships::id,
            workspace_memberships::role,
            workspace_memberships::all_entities,
            workspace_memberships::created_at,
        ))
        .first::<(i64, String, bool, NaiveDateTime)>(conn)
        .optional()?;
    let Some((mid, role, all, joined)) = row else {
        return Ok(None);
    };
    let Some(role) = WorkspaceRole::parse(&role) else {
        return Ok(None);
    };
    let entities = if all { Access::All } else { Access::only(entity_grants(conn, MembershipId(mid))?) };
    Ok(Some((MembershipId(mid), SeatFacts::with(role, entities), joined)))
}

pub fn entity_grants(conn: &mut DbConnection, membership: MembershipId) -> QueryResult<Vec<EntityId>> {
    Ok(workspace_entity_grants::table
        .filter(workspace_entity_grants::membership_id.eq(membership.0))
        .select(workspace_entity_grants::entity_id)
        .load::<i64>(conn)?
        .into_iter()
        .map(EntityId)
        .collect())
}

/// Everything stored about one person and one workspace.
pub fn person(conn: &mut DbConnection, user: UserId, ws: &WorkspaceInfo) -> QueryResult<PersonFacts> {
    Ok(PersonFacts {
        staff: staff_facts(conn, user, ws.org_id)?.map(|(_, s)| s),
        seat: seat_facts(conn, user, ws.id)?.map(|(_, s)| s),
    })
}

/// The caller's access to a workspace. None when they may not enter it, or it does not
/// exist: both are "not found".
/// Loaded with the same queries: the two-factor requirements that apply to them there.
pub fn load(conn: &mut DbConnection, user: UserId, ws: WorkspaceId) -> QueryResult<Option<WorkspaceAccess>> {
    let Some((workspace, required)) = workspace_with_requirements(conn, ws)? else {
        return Ok(None);
    };
    let staff = staff_facts_since(conn, user, workspace.org_id)?;
    let seat = seat_facts_since(conn, user, ws)?;
    let (staff_joined, seat_joined) = (staff.as_ref().map(|s| s.2), seat.as_ref().map(|s| s.2));
    let facts = PersonFacts { staff: staff.map(|s| s.1), seat: seat.map(|s| s.1) };
    let Some(standing) = access::standing(ws, &facts) else {
        return Ok(None);
    };
    let mut two_factor = Vec::new();
    // The firm's requirement: its staff, in every client they open through the firm.
    if let (Some(r), Some(joined), true) = (required.firm, staff_joined, standing.kind != access::Kind::Client) {
        two_factor.push(r.demand(&workspace.org_name, joined));
    }
    // The workspace's: everyone in it, from when they joined it (or the firm's team).
    if let (Some(r), Some(joined)) = (required.workspace, seat_joined.or(staff_joined)) {
        two_factor.push(r.demand(&workspace.name, joined));
    }
    Ok(Some(WorkspaceAccess {
        workspace,
        user,
        standing,
        staff: facts.staff,
        require_2fa: required.workspace,
        two_factor,
    }))
}

/// One person who can enter a workspace, with what the Members page tells of them.
#[derive(Clone, Debug)]
pub struct Person {
    pub user: UserId,
    pub facts: PersonFacts,
    pub standing: Standing,
    /// Their row in the workspace, if they have one.
    pub seat: Option<MembershipId>,
    pub invited_by: Option<UserId>,
    /// When they joined the workspace, or the firm's team when they have no row.
    pub since: NaiveDateTime,
    /// When their access here ends by itself (their row's end date, or a firm Member's
    /// client access end date), if it does.
    pub until: Option<NaiveDateTime>,
}

/// Everyone who can enter the workspace: its own people and the firm's staff who reach it.
/// Six queries, whatever the number of people; joined in memory through hash maps.
pub fn people_of(conn: &mut DbConnection, ws: &WorkspaceInfo) -> QueryResult<Vec<Person>> {
    Ok(people_in(conn, ws.org_id, Some(ws.id), &[ws.id])?.remove(&ws.id).unwrap_or_default())
}

/// The same for every client of a firm at once (the firm-wide access report): five queries,
/// whatever the number of clients and people.
pub fn people_of_firm(conn: &mut DbConnection, org: OrgId) -> QueryResult<HashMap<WorkspaceId, Vec<Person>>> {
    let clients: Vec<WorkspaceId> = workspaces::table
        .filter(workspaces::organization_id.eq(org.0))
        .select(workspaces::id)
        .load::<i64>(conn)?
        .into_iter()
        .map(WorkspaceId)
        .collect();
    people_in(conn, org, None, &clients)
}

/// The people of `clients` (all of them in firm `org`): of the one workspace `only`, or of
/// every workspace of the firm.
fn people_in(
    conn: &mut DbConnection,
    org: OrgId,
    only: Option<WorkspaceId>,
    clients: &[WorkspaceId],
) -> QueryResult<HashMap<WorkspaceId, Vec<Person>>> {
    let firm_team = || {
        org_memberships::table
            .filter(org_memberships::organization_id.eq(org.0))
            .select((
                org_memberships::id,
                org_memberships::user_id,
                org_memberships::role,
                org_memberships::new_clients,
                org_memberships::created_at,
                org_memberships::clients_until,
            ))
            .into_boxed()
    };
    let team: Vec<TeamRow> = match only {
        // Of a 5,000-strong team, only those who may be in this workspace: Admins and
        // Managers (every client), those granted it, and those with a row of their own in
        // it (which, staff as they are, gives them nothing: they must be known as staff).
        // Three index lookups (by role, by grant, by seat): one query OR-ing them would
        // read the whole team.
        Some(ws) => {
            let granted_here = org_client_grants::table
                .filter(org_client_grants::workspace_id.eq(ws.0))
                .select(org_client_grants::membership_id);
            let seated_here = workspace_memberships::table
                .filter(workspace_memberships::workspace_id.eq(ws.0))
                .select(workspace_memberships::user_id);
            let mut team = firm_team()
                .filter(
                    // Not IN (…): a statement with a list of binds is parsed again each time.
                    org_memberships::role
                        .eq(OrgRole::Admin.as_str())
                        .or(org_memberships::role.eq(OrgRole::Manager.as_str())),
                )
                .load::<TeamRow>(conn)?;
            team.extend(firm_team().filter(org_memberships::id.eq_any(granted_here)).load::<TeamRow>(conn)?);
            team.extend(firm_team().filter(org_memberships::user_id.eq_any(seated_here)).load::<TeamRow>(conn)?);
            team.sort_unstable_by_key(|t| t.0);
            team.dedup_by_key(|t| t.0);
            team
        }
        None => firm_team().load::<TeamRow>(conn)?,
    };
    let firm_workspaces = workspaces::table.filter(workspaces::organization_id.eq(org.0)).select(workspaces::id);
    let mut granted = org_client_grants::table
        .select((org_client_grants::workspace_id, org_client_grants::membership_id))
        .into_boxed();
    let mut seats = workspace_memberships::table
        .filter(seat_is_live(super::now()))
        .select((
            workspace_memberships::workspace_id,
            workspace_memberships::id,
            workspace_memberships::user_id,
            workspace_memberships::role,
            workspace_memberships::invited_by,
            workspace_memberships::created_at,
            workspace_memberships::all_entities,
            workspace_memberships::ends_at,
        ))
        .into_boxed();
    let mut entity_grants = workspace_entity_grants::table
        .inner_join(workspace_memberships::table)
        .select((workspace_entity_grants::membership_id, workspace_entity_grants::entity_id))
        .into_boxed();
    match only {
        Some(ws) => {
            granted = granted.filter(org_client_grants::workspace_id.eq(ws.0));
            seats = seats.filter(workspace_memberships::workspace_id.eq(ws.0));
            entity_grants = entity_grants.filter(workspace_memberships::workspace_id.eq(ws.0));
        }
        None => {
            granted = granted.filter(org_client_grants::workspace_id.eq_any(firm_workspaces));
            seats = seats.filter(workspace_memberships::workspace_id.eq_any(firm_workspaces));
            entity_grants = entity_grants.filter(workspace_memberships::workspace_id.eq_any(firm_workspaces));
        }
    }
    let mut granted_in: HashMap<i64, HashSet<i64>> = HashMap::new();
    for (ws, mid) in granted.load::<(i64, i64)>(conn)? {
        granted_in.entry(ws).or_default().insert(mid);
    }
    let mut seats_in: HashMap<i64, Vec<SeatRow>> = HashMap::new();
    for (ws, mid, uid, role, invited_by, since, all, until) in
        seats.load::<(i64, i64, i64, String, Option<i64>, NaiveDateTime, bool, Option<NaiveDateTime>)>(conn)?
    {
        seats_in.entry(ws).or_default().push((mid, uid, role, invited_by, since, all, until));
    }
    let mut grants: HashMap<i64, Vec<EntityId>> = HashMap::new();
    for (mid, entity) in entity_grants.load::<(i64, i64)>(conn)? {
        grants.entry(mid).or_default().push(EntityId(entity));
    }
    let no_grants = HashSet::new();
    Ok(clients
        .iter()
        .map(|ws| {
            let granted = granted_in.get(&ws.0).unwrap_or(&no_grants);
            let seats = seats_in.remove(&ws.0).unwrap_or_default();
            (*ws, assemble(*ws, &team, granted, seats, &mut grants))
        })
        .collect())
}

type TeamRow = (i64, i64, String, bool, NaiveDateTime, Option<NaiveDateTime>);
type SeatRow = (i64, i64, String, Option<i64>, NaiveDateTime, bool, Option<NaiveDateTime>);

/// The people of one workspace from its rows: the firm's team (and which of them were
/// granted this client), and the workspace's own rows with their entity grants.
fn assemble(
    ws: WorkspaceId,
    team: &[TeamRow],
    granted: &HashSet<i64>,
    seats: Vec<SeatRow>,
    grants: &mut HashMap<i64, Vec<EntityId>>,
) -> Vec<Person> {
    let mut people: HashMap<i64, Person> = HashMap::new();
    for (mid, uid, role, new_clients, since, until) in team {
        let Some(role) = OrgRole::parse(role) else { continue };
        // As far as this workspace goes: granted it (until its end date), or not.
        let live = !lapsed(*until);
        let clients = (live && granted.contains(mid)).then_some(ws);
        let mut p = blank(*uid, *since, Some(StaffFacts::new(role, clients, live && *new_clients)));
        p.until = until.filter(|_| clients.is_some());
        people.insert(*uid, p);
    }
    for (mid, uid, role, invited_by, since, all, until) in seats {
        let Some(role) = WorkspaceRole::parse(&role) else {
            continue;
        };
        let seat = SeatFacts::with(role, stored_access(all, grants.remove(&mid)));
        let p = people.entry(uid).or_insert_with(|| blank(uid, since, None));
        p.facts.seat = Some(seat);
        p.seat = Some(MembershipId(mid));
        // A firm Admin's or Manager's row (left from before) says nothing about them here.
        if !p.facts.staff.as_ref().is_some_and(|s| access::sees_all_clients(s.role)) {
            p.invited_by = invited_by.map(UserId);
            p.since = since;
            // A firm Member's access here ends with their client access; a client's, with the row.
            if p.facts.staff.is_none() {
                p.until = until;
            }
        }
    }
    people
        .into_values()
        .filter_map(|mut p| {
            p.standing = access::standing(ws, &p.facts)?;
            Some(p)
        })
        .collect()
}

/// A person before their standing is worked out (it is, from their facts, before any is returned).
fn blank(uid: i64, since: NaiveDateTime, staff: Option<StaffFacts>) -> Person {
    Person {
        user: UserId(uid),
        facts: PersonFacts { staff, seat: None },
        standing: Standing { role: WorkspaceRole::Member, entities: Access::none(), kind: access::Kind::Client },
        seat: None,
        invited_by: None,
        since,
        until: None,
    }
}

/// How many people are effective Admins of the workspace.
pub fn count_admins(conn: &mut DbConnection, ws: &WorkspaceInfo) -> QueryResult<usize> {
    Ok(people_of(conn, ws)?.iter().filter(|p| access::is_admin(&p.standing)).count())
}

/// A person's standing in every workspace of a firm they can enter, or in those of `only`
/// (for firm-wide views: a page's rows).
/// `staff`: their place on the firm's team, as `staff_facts` read it (None: not on it).
pub fn standings_in_firm(
    conn: &mut DbConnection,
    user: UserId,
    org: OrgId,
    staff: Option<StaffFacts>,
    only: Option<&[WorkspaceId]>,
) -> QueryResult<HashMap<WorkspaceId, Standing>> {
    let mut q = workspaces::table.filter(workspaces::organization_id.eq(org.0)).select(workspaces::id).into_boxed();
    if let Some(ids) = only {
        q = q.filter(workspaces::id.eq_any(ids.iter().map(|w| w.0).collect::<Vec<_>>()));
    }
    let org_workspaces: Vec<i64> = q.load(conn)?;
    let seats = workspace_memberships::table
        .inner_join(workspaces::table)
        .filter(workspace_memberships::user_id.eq(user.0))
        .filter(workspaces::organization_id.eq(org.0))
        .filter(seat_is_live(super::now()))
        .select((
            workspace_memberships::id,
            workspace_memberships::workspace_id,
            workspace_memberships::role,
            workspace_memberships::all_entities,
        ))
        .load::<(i64, i64, String, bool)>(conn)?;
    let mut grants: HashMap<i64, Vec<EntityId>> = HashMap::new();
    for (mid, e) in workspace_entity_grants::table
        .inner_join(workspace_memberships::table.inner_join(workspaces::table))
        .filter(workspace_memberships::user_id.eq(user.0))
        .filter(workspaces::organization_id.eq(org.0))
        .select((workspace_entity_grants::membership_id, workspace_entity_grants::entity_id))
        .load::<(i64, i64)>(conn)?
    {
        grants.entry(mid).or_default().push(EntityId(e));
    }
    let mut seat_of: HashMap<i64, SeatFacts> = HashMap::new();
    for (mid, ws, role, all) in seats {
        if let Some(role) = WorkspaceRole::parse(&role) {
            seat_of.insert(ws, SeatFacts::with(role, stored_access(all, grants.remove(&mid))));
        }
    }
    Ok(org_workspaces
        .into_iter()
        .filter_map(|ws| {
            let facts = PersonFacts { staff: staff.clone(), seat: seat_of.remove(&ws) };
            access::standing(WorkspaceId(ws), &facts).map(|s| (WorkspaceId(ws), s))
        })
        .collect())
}

/// A workspace row still gives access: no end date, or one still ahead.
#[diesel::dsl::auto_type]
pub fn seat_is_live(now: NaiveDateTime) -> _ {
    workspace_memberships::ends_at.is_null().or(workspace_memberships::ends_at.gt(now))
}

/// An end date that has come: the access is gone from that moment.
pub fn lapsed(until: Option<NaiveDateTime>) -> bool {
    until.is_some_and(|u| u <= super::now())
}

/// A row's entity access as stored: "all" (a flag), or its grant rows.
fn stored_access(all: bool, grants: Option<Vec<EntityId>>) -> Access<EntityId> {
    if all {
        Access::All
    } else {
        Access::only(grants.unwrap_or_default())
    }
}
