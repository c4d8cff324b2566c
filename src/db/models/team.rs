//! A firm's team: its members (organization role, client access, "New clients"), their
//! pending invites, and the changes a team Admin or Manager can make.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_client_grants, org_memberships, users, workspace_memberships, workspaces};
use crate::db::DbConnection;
use crate::domain::permissions::{org_allows, OrgAction};
use crate::domain::{InviteId, MembershipId, OrgId, OrgRole, UserId, WorkspaceId};

use super::audit::{self, AuditAction, NewEvent};
use super::invite;
use super::organization::OrgMembership;
use super::outbox::{self, Delivery};
use super::{lock_row, LockTable};

#[derive(Clone, Debug)]
pub struct Client {
    pub id: WorkspaceId,
    pub name: String,
}

/// Every client of the firm, by name.
pub fn clients_of(conn: &mut DbConnection, org: OrgId) -> QueryResult<Vec<Client>> {
    Ok(workspaces::table
        .filter(workspaces::organization_id.eq(org.0))
        .order(workspaces::name.asc())
        .select((workspaces::id, workspaces::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| Client {
            id: WorkspaceId(id),
            name,
        })
        .collect())
}

pub struct TeamMemberRow {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: OrgRole,
    pub new_clients: bool,
    /// None: all clients (Admins and Managers).
    pub clients: Option<Vec<Client>>,
    pub since: NaiveDateTime,
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
}

pub struct TeamList {
    pub members: Vec<TeamMemberRow>,
    pub invites: Vec<TeamInviteRow>,
}

/// The Team page's rows, in a fixed number of queries.
pub fn list(conn: &mut DbConnection, org: OrgId) -> QueryResult<TeamList> {
    let clients = clients_of(conn, org)?;
    let by_id: HashMap<i64, Client> = clients.iter().map(|c| (c.id.0, c.clone())).collect();
    let pick = |ids: Vec<i64>| -> Vec<Client> {
        let mut v: Vec<Client> = ids.iter().filter_map(|i| by_id.get(i).cloned()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    let rows = org_memberships::table
        .inner_join(users::table)
        .filter(org_memberships::organization_id.eq(org.0))
        .order(users::name.asc())
        .select((
            org_memberships::id,
            users::id,
            users::name,
            users::email,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::created_at,
        ))
        .load::<(i64, i64, String, String, String, bool, NaiveDateTime)>(conn)?;
    let grants: Vec<(i64, i64)> = org_client_grants::table
        .inner_join(org_memberships::table)
        .filter(org_memberships::organization_id.eq(org.0))
        .select((org_client_grants::membership_id, org_client_grants::workspace_id))
        .load(conn)?;
    let members = rows
        .into_iter()
        .filter_map(|(mid, uid, name, email, role, new_clients, since)| {
            let role = OrgRole::parse(&role)?;
            Some(TeamMemberRow {
                user_id: UserId(uid),
                name,
                email,
                role,
                new_clients,
                clients: (!role.sees_all_clients())
                    .then(|| pick(grants.iter().filter(|g| g.0 == mid).map(|g| g.1).collect())),
                since,
            })
        })
        .collect();
    let pending = invite::pending_for(conn, org, None)?;
    let ids: Vec<i64> = pending.iter().map(|i| i.id).collect();
    let invite_clients = invite::client_ids_of(conn, &ids)?;
    let delivery = outbox::delivery_for(conn, &ids)?;
    let inviter_ids: Vec<i64> = pending.iter().map(|i| i.invited_by).collect();
    let inviters: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&inviter_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let invites = pending
        .into_iter()
        .filter_map(|i| {
            let role = OrgRole::parse(&i.role)?;
            Some(TeamInviteRow {
                id: i.invite_id(),
                role,
                new_clients: i.new_clients,
                clients: (!role.sees_all_clients())
                    .then(|| pick(invite_clients.iter().filter(|g| g.0 == i.id).map(|g| g.1).collect())),
                invited_by: inviters.get(&i.invited_by).cloned().unwrap_or_default(),
                delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
                email: i.email,
                created_at: i.created_at,
                expires_at: i.expires_at,
                nonce: i.token_nonce,
            })
        })
        .collect();
    Ok(TeamList { members, invites })
}

pub struct TeamMember {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: OrgRole,
    pub new_clients: bool,
    pub clients: Vec<WorkspaceId>,
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
        ))
        .first::<(i64, String, String, String, bool)>(conn)
        .optional()?;
    let Some((mid, name, email, role, new_clients)) = row else {
        return Ok(None);
    };
    let Some(role) = OrgRole::parse(&role) else {
        return Ok(None);
    };
    let clients = super::organization::client_grants(conn, MembershipId(mid))?;
    Ok(Some(TeamMember {
        membership_id: MembershipId(mid),
        user_id: user,
        name,
        email,
        role,
        new_clients,
        clients,
    }))
}

#[derive(Debug)]
pub enum TeamError {
    NotFound,
    NotAllowed(&'static str),
    LastAdmin,
    UnknownClient,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TeamError {
    fn from(e: diesel::result::Error) -> Self {
        TeamError::Db(e)
    }
}

fn count_admins(conn: &mut DbConnection, org: OrgId) -> QueryResult<i64> {
    org_memberships::table
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::role.eq(OrgRole::Admin.as_str()))
        .count()
        .get_result(conn)
}

/// Ends a team member's presence in the workspaces of clients they no longer reach: their
/// own workspace role there (if a workspace Admin set one) goes with the access. `only`:
/// just these clients (the ones they lose); None: every client of the firm.
fn drop_workspace_roles(
    conn: &mut DbConnection,
    org: OrgId,
    user: UserId,
    only: Option<&[WorkspaceId]>,
) -> QueryResult<()> {
    let org_workspaces = workspaces::table
        .filter(workspaces::organization_id.eq(org.0))
        .select(workspaces::id);
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

pub struct NewPermissions<'a> {
    pub role: OrgRole,
    pub clients: &'a [WorkspaceId],
    pub new_clients: bool,
}

/// Sets a team member's role, clients and "New clients"; takes effect on their next request.
pub fn configure(
    conn: &mut DbConnection,
    actor: &OrgMembership,
    actor_id: UserId,
    target: UserId,
    p: NewPermissions<'_>,
) -> Result<(), TeamError> {
    let org = actor.org_id;
    lock_row(conn, LockTable::Organization, org.0)?;
    // The caller's role as it is now, under the lock: a change made a moment ago counts.
    let actor = &super::organization::membership(conn, actor_id, org)?.ok_or(TeamError::NotFound)?;
    let member = find(conn, org, target)?.ok_or(TeamError::NotFound)?;
    if !org_allows(actor.role, OrgAction::ManageMember(member.role)) {
        return Err(TeamError::NotAllowed(
            "Only a firm Admin can change an Admin's permissions.",
        ));
    }
    if !org_allows(actor.role, OrgAction::GrantRole(p.role)) {
        return Err(TeamError::NotAllowed("Only a firm Admin can make someone an Admin."));
    }
    let all: Vec<WorkspaceId> = clients_of(conn, org)?.into_iter().map(|c| c.id).collect();
    if p.clients.iter().any(|c| !all.contains(c)) {
        return Err(TeamError::UnknownClient);
    }
    if member.role == OrgRole::Admin && p.role != OrgRole::Admin && count_admins(conn, org)? <= 1 {
        return Err(TeamError::LastAdmin);
    }
    let clients: Vec<WorkspaceId> = if p.role.sees_all_clients() {
        Vec::new()
    } else {
        p.clients.to_vec()
    };
    let new_clients = p.new_clients && !p.role.sees_all_clients();
    diesel::update(org_memberships::table.find(member.membership_id.0))
        .set((
            org_memberships::role.eq(p.role.as_str()),
            org_memberships::new_clients.eq(new_clients),
        ))
        .execute(conn)?;
    diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(member.membership_id.0)))
        .execute(conn)?;
    // Row by row: batch inserts are not available through the two-backend connection.
    for c in &clients {
        diesel::insert_into(org_client_grants::table)
            .values((
                org_client_grants::membership_id.eq(member.membership_id.0),
                org_client_grants::workspace_id.eq(c.0),
            ))
            .execute(conn)?;
    }
    // Only the clients they lose as staff: a workspace they joined as a client user (a
    // workspace invite) is not the Team page's to take away.
    let reached: Vec<WorkspaceId> = if member.role.sees_all_clients() {
        all.clone()
    } else {
        member.clients.clone()
    };
    let lost: Vec<WorkspaceId> = if p.role.sees_all_clients() {
        Vec::new()
    } else {
        reached.into_iter().filter(|w| !clients.contains(w)).collect()
    };
    drop_workspace_roles(conn, org, target, Some(&lost))?;
    let names: Vec<String> = clients_of(conn, org)?
        .into_iter()
        .filter(|c| clients.contains(&c.id))
        .map(|c| c.name)
        .collect();
    let detail = if p.role.sees_all_clients() {
        format!("{}, all clients", p.role.label())
    } else {
        let mut d = format!(
            "{}, {}",
            p.role.label(),
            if names.is_empty() {
                "no clients".to_string()
            } else {
                names.join(", ")
            }
        );
        if new_clients {
            d.push_str(", new clients");
        }
        d
    };
    audit::record(
        conn,
        NewEvent {
            org,
            workspace: None,
            actor: Some(actor_id),
            action: AuditAction::ChangedPermissions,
            target: &member.email,
            detail,
        },
    )?;
    Ok(())
}

/// Removes a team member from the firm: all access to its clients ends on their next request.
pub fn remove(
    conn: &mut DbConnection,
    actor: &OrgMembership,
    actor_id: UserId,
    target: UserId,
) -> Result<String, TeamError> {
    let org = actor.org_id;
    lock_row(conn, LockTable::Organization, org.0)?;
    let actor = &super::organization::membership(conn, actor_id, org)?.ok_or(TeamError::NotFound)?;
    let member = find(conn, org, target)?.ok_or(TeamError::NotFound)?;
    if !org_allows(actor.role, OrgAction::ManageMember(member.role)) {
        return Err(TeamError::NotAllowed("Only a firm Admin can remove an Admin."));
    }
    if member.role == OrgRole::Admin && count_admins(conn, org)? <= 1 {
        return Err(TeamError::LastAdmin);
    }
    diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(member.membership_id.0)))
        .execute(conn)?;
    diesel::delete(org_memberships::table.find(member.membership_id.0)).execute(conn)?;
    drop_workspace_roles(conn, org, target, None)?;
    audit::record(
        conn,
        NewEvent {
            org,
            workspace: None,
            actor: Some(actor_id),
            action: AuditAction::Removed,
            target: &member.email,
            detail: String::new(),
        },
    )?;
    Ok(if member.name.is_empty() {
        member.email
    } else {
        member.name
    })
}

/// One pending invite of the firm: to its team, or to one of its clients' workspaces.
pub struct FirmInvite {
    pub invite: invite::Invite,
    /// None: an invite to the team.
    pub client: Option<Client>,
    pub invited_by: String,
    pub delivery: Delivery,
}

/// Every pending invite of the firm that `viewer` may manage (resend, cancel): team
/// invites by their organization role, client invites by their workspace role there.
pub fn pending_manageable(
    conn: &mut DbConnection,
    viewer: &OrgMembership,
    viewer_id: UserId,
) -> QueryResult<Vec<FirmInvite>> {
    use crate::db::schema::invites;
    use crate::domain::permissions::{workspace_allows, WorkspaceAction};
    use crate::domain::WorkspaceRole;

    let org = viewer.org_id;
    let clients = clients_of(conn, org)?;
    let scope = super::organization::client_scope(conn, viewer)?;
    let overrides: Vec<(i64, String)> = workspace_memberships::table
        .inner_join(workspaces::table)
        .filter(workspaces::organization_id.eq(org.0))
        .filter(workspace_memberships::user_id.eq(viewer_id.0))
        .select((workspace_memberships::workspace_id, workspace_memberships::role))
        .load(conn)?;
    // The viewer's workspace role in each client they reach as firm staff.
    let ws_role = |ws: i64| -> Option<WorkspaceRole> {
        if let Some((_, r)) = overrides.iter().find(|(w, _)| *w == ws) {
            return WorkspaceRole::parse(r);
        }
        scope
            .as_ref()
            .is_none_or(|s| s.contains(&WorkspaceId(ws)))
            .then_some(WorkspaceRole::Admin)
    };
    let pending: Vec<invite::Invite> = invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::state.eq(invite::PENDING))
        .order(invites::id.asc())
        .select(invite::Invite::as_select())
        .load(conn)?;
    let manageable: Vec<invite::Invite> = pending
        .into_iter()
        .filter(|i| match i.workspace_id {
            None => OrgRole::parse(&i.role).is_some_and(|r| org_allows(viewer.role, OrgAction::ManageMember(r))),
            Some(ws) => match (ws_role(ws), WorkspaceRole::parse(&i.role)) {
                (Some(mine), Some(theirs)) => workspace_allows(mine, WorkspaceAction::ManageMember(theirs)),
                _ => false,
            },
        })
        .collect();
    let ids: Vec<i64> = manageable.iter().map(|i| i.id).collect();
    let delivery = outbox::delivery_for(conn, &ids)?;
    let inviter_ids: Vec<i64> = manageable.iter().map(|i| i.invited_by).collect();
    let inviters: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&inviter_ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(manageable
        .into_iter()
        .map(|i| FirmInvite {
            client: i
                .workspace_id
                .and_then(|w| clients.iter().find(|c| c.id.0 == w).cloned()),
            invited_by: inviters.get(&i.invited_by).cloned().unwrap_or_default(),
            delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
            invite: i,
        })
        .collect())
}
