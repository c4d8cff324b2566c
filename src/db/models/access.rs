//! Who may enter a workspace, and as what. Loaded from the database on every request.
//!
//! A person is in a client's workspace either as a workspace member (a row in
//! `workspace_memberships`, made by accepting an invite), or as firm staff: a team member
//! of the firm with access to that client (Admins and Managers: every client; Members:
//! the granted ones). Staff work there as workspace Admins unless a workspace Admin gave
//! them another role on the Members page, which is kept as a membership row.

use diesel::prelude::*;

use crate::db::schema::{
    org_client_grants, org_memberships, organizations, workspace_entity_grants, workspace_memberships, workspaces,
};
use crate::db::DbConnection;
use crate::domain::{EntityId, MembershipId, OrgId, OrgRole, UserId, WorkspaceId, WorkspaceRole};

#[derive(Clone, Debug)]
pub struct WorkspaceInfo {
    pub id: WorkspaceId,
    pub name: String,
    pub org_id: OrgId,
    pub org_name: String,
}

#[derive(Clone, Debug)]
pub struct WorkspaceAccess {
    pub workspace: WorkspaceInfo,
    pub role: WorkspaceRole,
    /// None: every entity, now and future (Admins).
    pub entities: Option<Vec<EntityId>>,
    pub membership_id: Option<MembershipId>,
    /// The caller's role in the firm that owns the workspace, if they are on its team.
    pub org_role: Option<OrgRole>,
    pub is_staff: bool,
}

impl WorkspaceAccess {
    pub fn can_see_entity(&self, id: EntityId) -> bool {
        self.entities.as_ref().is_none_or(|e| e.contains(&id))
    }
}

pub fn workspace_info(conn: &mut DbConnection, ws: WorkspaceId) -> QueryResult<Option<WorkspaceInfo>> {
    let row = workspaces::table
        .inner_join(organizations::table)
        .filter(workspaces::id.eq(ws.0))
        .select((workspaces::id, workspaces::name, organizations::id, organizations::name))
        .first::<(i64, String, i64, String)>(conn)
        .optional()?;
    Ok(row.map(|(id, name, org_id, org_name)| WorkspaceInfo {
        id: WorkspaceId(id),
        name,
        org_id: OrgId(org_id),
        org_name,
    }))
}

/// None when the user may not enter the workspace (or it does not exist): both are 404.
pub fn load(conn: &mut DbConnection, user: UserId, ws: WorkspaceId) -> QueryResult<Option<WorkspaceAccess>> {
    let Some(workspace) = workspace_info(conn, ws)? else {
        return Ok(None);
    };
    let org_member = org_memberships::table
        .filter(org_memberships::organization_id.eq(workspace.org_id.0))
        .filter(org_memberships::user_id.eq(user.0))
        .select((org_memberships::id, org_memberships::role))
        .first::<(i64, String)>(conn)
        .optional()?;
    let org_role = org_member.as_ref().and_then(|(_, r)| OrgRole::parse(r));
    let is_staff = match (&org_member, org_role) {
        (Some(_), Some(role)) if role.sees_all_clients() => true,
        (Some((mid, _)), Some(_)) => diesel::select(diesel::dsl::exists(
            org_client_grants::table
                .filter(org_client_grants::membership_id.eq(mid))
                .filter(org_client_grants::workspace_id.eq(ws.0)),
        ))
        .get_result::<bool>(conn)?,
        _ => false,
    };
    let row = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.0))
        .filter(workspace_memberships::user_id.eq(user.0))
        .select((workspace_memberships::id, workspace_memberships::role))
        .first::<(i64, String)>(conn)
        .optional()?;
    let (role, membership_id) = match row {
        Some((mid, role)) => match WorkspaceRole::parse(&role) {
            Some(r) => (r, Some(MembershipId(mid))),
            None => return Ok(None),
        },
        None if is_staff => (WorkspaceRole::Admin, None),
        None => return Ok(None),
    };
    let entities = match (role, membership_id) {
        (WorkspaceRole::Admin, _) | (_, None) => None,
        (_, Some(mid)) => Some(entity_grants(conn, mid)?),
    };
    Ok(Some(WorkspaceAccess {
        workspace,
        role,
        entities,
        membership_id,
        org_role,
        is_staff,
    }))
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

/// The firm's team members who can enter this workspace: (user id, org membership
/// created_at, org role). Three queries, whatever the team's size.
pub fn staff_of(
    conn: &mut DbConnection,
    ws: &WorkspaceInfo,
) -> QueryResult<Vec<(UserId, chrono::NaiveDateTime, OrgRole)>> {
    let team = org_memberships::table
        .filter(org_memberships::organization_id.eq(ws.org_id.0))
        .select((
            org_memberships::id,
            org_memberships::user_id,
            org_memberships::role,
            org_memberships::created_at,
        ))
        .load::<(i64, i64, String, chrono::NaiveDateTime)>(conn)?;
    let granted: Vec<i64> = org_client_grants::table
        .filter(org_client_grants::workspace_id.eq(ws.id.0))
        .select(org_client_grants::membership_id)
        .load(conn)?;
    Ok(team
        .into_iter()
        .filter_map(|(mid, uid, role, at)| {
            let role = OrgRole::parse(&role)?;
            (role.sees_all_clients() || granted.contains(&mid)).then_some((UserId(uid), at, role))
        })
        .collect())
}

/// How many people would be workspace Admins: Admin rows, plus staff without a row.
pub fn count_admins(conn: &mut DbConnection, ws: &WorkspaceInfo) -> QueryResult<usize> {
    let rows = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.id.0))
        .select((workspace_memberships::user_id, workspace_memberships::role))
        .load::<(i64, String)>(conn)?;
    let staff = staff_of(conn, ws)?;
    let admin_rows = rows.iter().filter(|(_, r)| r == WorkspaceRole::Admin.as_str()).count();
    let staff_without_row = staff
        .iter()
        .filter(|(uid, _, _)| !rows.iter().any(|(u, _)| *u == uid.0))
        .count();
    Ok(admin_rows + staff_without_row)
}
