//! A workspace's members (client users and firm staff) and what can be done to them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{users, workspace_entity_grants, workspace_memberships};
use crate::db::DbConnection;
use crate::domain::permissions::{workspace_allows, WorkspaceAction};
use crate::domain::{EntityId, InviteId, MembershipId, OrgRole, UserId, WorkspaceRole};

use super::access::{self, WorkspaceAccess, WorkspaceInfo};
use super::audit::{self, AuditAction, NewEvent};
use super::entity::{self, Entity};
use super::invite::{self, Invite};
use super::outbox::{self, Delivery};
use super::{lock_row, LockTable};

pub struct MemberRow {
    pub user_id: UserId,
    pub membership_id: Option<MembershipId>,
    pub name: String,
    pub email: String,
    pub role: WorkspaceRole,
    /// None: all entities (Admins).
    pub entities: Option<Vec<Entity>>,
    /// On the firm's team, with this organization role.
    pub staff: Option<OrgRole>,
    pub invited_by: Option<String>,
    pub since: NaiveDateTime,
}

pub struct InviteRow {
    pub id: InviteId,
    pub email: String,
    pub role: WorkspaceRole,
    pub entities: Option<Vec<Entity>>,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub delivery: Delivery,
    /// Lets the server derive the link again ("Copy invite link"); not the link itself.
    pub nonce: String,
}

pub struct MembersList {
    pub members: Vec<MemberRow>,
    pub invites: Vec<InviteRow>,
    pub entities: Vec<Entity>,
}

/// Everything the Members page shows, in a fixed number of queries.
pub fn list(conn: &mut DbConnection, ws: &WorkspaceInfo) -> QueryResult<MembersList> {
    let all_entities = entity::all_in(conn, ws.id)?;
    let entity_by_id: HashMap<i64, Entity> = all_entities.iter().map(|e| (e.id.0, e.clone())).collect();
    let rows = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.id.0))
        .select((
            workspace_memberships::id,
            workspace_memberships::user_id,
            workspace_memberships::role,
            workspace_memberships::invited_by,
            workspace_memberships::created_at,
        ))
        .load::<(i64, i64, String, Option<i64>, NaiveDateTime)>(conn)?;
    let grants: Vec<(i64, i64)> = workspace_entity_grants::table
        .inner_join(workspace_memberships::table)
        .filter(workspace_memberships::workspace_id.eq(ws.id.0))
        .select((
            workspace_entity_grants::membership_id,
            workspace_entity_grants::entity_id,
        ))
        .load(conn)?;
    let staff = access::staff_of(conn, ws)?;
    let pending = invite::pending_for(conn, ws.org_id, Some(ws.id))?;
    let invite_ids: Vec<i64> = pending.iter().map(|i| i.id).collect();
    let invite_entities = invite::entity_ids_of(conn, &invite_ids)?;
    let delivery = outbox::delivery_for(conn, &invite_ids)?;

    let mut wanted: Vec<i64> = rows.iter().flat_map(|r| [Some(r.1), r.3]).flatten().collect();
    wanted.extend(staff.iter().map(|s| s.0 .0));
    wanted.extend(pending.iter().map(|i| i.invited_by));
    wanted.sort_unstable();
    wanted.dedup();
    let people: HashMap<i64, (String, String)> = users::table
        .filter(users::id.eq_any(&wanted))
        .select((users::id, users::name, users::email))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, email)| (id, (name, email)))
        .collect();
    let person = |id: i64| people.get(&id).cloned().unwrap_or_default();
    let names_of = |ids: Vec<i64>| -> Vec<Entity> {
        let mut v: Vec<Entity> = ids.iter().filter_map(|i| entity_by_id.get(i).cloned()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };

    let mut members = Vec::new();
    for (mid, uid, role, invited_by, since) in &rows {
        let Some(role) = WorkspaceRole::parse(role) else {
            continue;
        };
        let (name, email) = person(*uid);
        let entities = (role != WorkspaceRole::Admin)
            .then(|| names_of(grants.iter().filter(|g| g.0 == *mid).map(|g| g.1).collect()));
        members.push(MemberRow {
            user_id: UserId(*uid),
            membership_id: Some(MembershipId(*mid)),
            name,
            email,
            role,
            entities,
            staff: staff.iter().find(|s| s.0 .0 == *uid).map(|s| s.2),
            invited_by: invited_by.map(|i| person(i).0),
            since: *since,
        });
    }
    for (uid, since, org_role) in &staff {
        if rows.iter().any(|r| r.1 == uid.0) {
            continue;
        }
        let (name, email) = person(uid.0);
        members.push(MemberRow {
            user_id: *uid,
            membership_id: None,
            name,
            email,
            role: WorkspaceRole::Admin,
            entities: None,
            staff: Some(*org_role),
            invited_by: None,
            since: *since,
        });
    }
    members.sort_by_key(|m| (m.staff.is_none(), m.name.to_lowercase()));

    let invites = pending
        .into_iter()
        .filter_map(|i: Invite| {
            let role = WorkspaceRole::parse(&i.role)?;
            Some(InviteRow {
                id: i.invite_id(),
                entities: (role != WorkspaceRole::Admin)
                    .then(|| names_of(invite_entities.iter().filter(|g| g.0 == i.id).map(|g| g.1).collect())),
                invited_by: person(i.invited_by).0,
                delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
                email: i.email,
                role,
                created_at: i.created_at,
                expires_at: i.expires_at,
                nonce: i.token_nonce,
            })
        })
        .collect();
    Ok(MembersList {
        members,
        invites,
        entities: all_entities,
    })
}

/// One member, for the Configure and Remove pages.
pub struct Member {
    pub user_id: UserId,
    pub membership_id: Option<MembershipId>,
    pub name: String,
    pub email: String,
    pub role: WorkspaceRole,
    pub entities: Option<Vec<EntityId>>,
    pub is_staff: bool,
}

pub fn find(conn: &mut DbConnection, ws: &WorkspaceInfo, user: UserId) -> QueryResult<Option<Member>> {
    let Some(access) = access::load(conn, user, ws.id)? else {
        return Ok(None);
    };
    let (name, email) = users::table
        .find(user.0)
        .select((users::name, users::email))
        .first::<(String, String)>(conn)?;
    Ok(Some(Member {
        user_id: user,
        membership_id: access.membership_id,
        name,
        email,
        role: access.role,
        entities: access.entities,
        is_staff: access.is_staff,
    }))
}

#[derive(Debug)]
pub enum MemberError {
    NotFound,
    NotAllowed(&'static str),
    LastAdmin,
    UnknownEntity,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for MemberError {
    fn from(e: diesel::result::Error) -> Self {
        MemberError::Db(e)
    }
}

/// Sets a member's role and entities. Entities outside the actor's own access are left
/// as they were: an Accountant can neither grant nor take away what they cannot see.
pub fn configure(
    conn: &mut DbConnection,
    actor: &WorkspaceAccess,
    actor_id: UserId,
    target: UserId,
    role: WorkspaceRole,
    requested: &[EntityId],
) -> Result<(), MemberError> {
    let ws = &actor.workspace;
    lock_row(conn, LockTable::Workspace, ws.id.0)?;
    // The caller's access as it is now, under the lock: a change made a moment ago by
    // someone else (a demotion, a removal) counts.
    let actor = &access::load(conn, actor_id, ws.id)?.ok_or(MemberError::NotFound)?;
    let member = find(conn, ws, target)?.ok_or(MemberError::NotFound)?;
    if !workspace_allows(actor.role, WorkspaceAction::ManageMember(member.role)) {
        return Err(MemberError::NotAllowed(
            "Only a workspace Admin can change an Admin's permissions.",
        ));
    }
    if !workspace_allows(actor.role, WorkspaceAction::GrantRole(role)) {
        return Err(MemberError::NotAllowed(
            "Only a workspace Admin can make someone an Admin.",
        ));
    }
    let all: Vec<EntityId> = entity::all_in(conn, ws.id)?.into_iter().map(|e| e.id).collect();
    if requested.iter().any(|e| !all.contains(e)) {
        return Err(MemberError::UnknownEntity);
    }
    if let Some(own) = &actor.entities {
        if requested.iter().any(|e| !own.contains(e)) {
            return Err(MemberError::NotAllowed(
                "You can only give access to entities you have access to yourself.",
            ));
        }
    }
    if member.role == WorkspaceRole::Admin && role != WorkspaceRole::Admin && access::count_admins(conn, ws)? <= 1 {
        return Err(MemberError::LastAdmin);
    }
    let mut grants: Vec<EntityId> = if role == WorkspaceRole::Admin {
        Vec::new()
    } else {
        requested.to_vec()
    };
    if let (Some(own), Some(existing)) = (&actor.entities, &member.entities) {
        grants.extend(existing.iter().filter(|e| !own.contains(e)).copied());
    }
    grants.sort_unstable();
    grants.dedup();
    let membership = match member.membership_id {
        Some(m) => {
            diesel::update(workspace_memberships::table.find(m.0))
                .set(workspace_memberships::role.eq(role.as_str()))
                .execute(conn)?;
            diesel::delete(workspace_entity_grants::table.filter(workspace_entity_grants::membership_id.eq(m.0)))
                .execute(conn)?;
            m.0
        }
        // Firm staff get a row of their own the first time their workspace role changes.
        None => diesel::insert_into(workspace_memberships::table)
            .values((
                workspace_memberships::workspace_id.eq(ws.id.0),
                workspace_memberships::user_id.eq(target.0),
                workspace_memberships::role.eq(role.as_str()),
                workspace_memberships::invited_by.eq(None::<i64>),
                workspace_memberships::created_at.eq(super::now()),
            ))
            .returning(workspace_memberships::id)
            .get_result::<i64>(conn)?,
    };
    if !grants.is_empty() {
        let rows: Vec<_> = grants
            .iter()
            .map(|e| {
                (
                    workspace_entity_grants::membership_id.eq(membership),
                    workspace_entity_grants::entity_id.eq(e.0),
                )
            })
            .collect();
        // Row by row: batch inserts are not available through the two-backend connection.
        for row in rows {
            diesel::insert_into(workspace_entity_grants::table)
                .values(row)
                .execute(conn)?;
        }
    }
    let names: Vec<String> = entity::all_in(conn, ws.id)?
        .into_iter()
        .filter(|e| grants.contains(&e.id))
        .map(|e| e.name)
        .collect();
    let detail = if role == WorkspaceRole::Admin {
        "Admin, all entities".to_string()
    } else if names.is_empty() {
        format!("{}, no entities", role.label())
    } else {
        format!("{}, {}", role.label(), names.join(", "))
    };
    audit::record(
        conn,
        NewEvent {
            org: ws.org_id,
            workspace: Some(ws.id),
            actor: Some(actor_id),
            action: AuditAction::ChangedPermissions,
            target: &member.email,
            detail,
        },
    )?;
    Ok(())
}

/// Ends a client member's access to the workspace. Their past work and the audit trail stay.
pub fn remove(
    conn: &mut DbConnection,
    actor: &WorkspaceAccess,
    actor_id: UserId,
    target: UserId,
) -> Result<String, MemberError> {
    let ws = &actor.workspace;
    lock_row(conn, LockTable::Workspace, ws.id.0)?;
    let actor = &access::load(conn, actor_id, ws.id)?.ok_or(MemberError::NotFound)?;
    let member = find(conn, ws, target)?.ok_or(MemberError::NotFound)?;
    if member.is_staff {
        return Err(MemberError::NotAllowed(
            "Firm staff reach this workspace through their client access on the Team page.",
        ));
    }
    if !workspace_allows(actor.role, WorkspaceAction::ManageMember(member.role)) {
        return Err(MemberError::NotAllowed("Only a workspace Admin can remove an Admin."));
    }
    if member.role == WorkspaceRole::Admin && access::count_admins(conn, ws)? <= 1 {
        return Err(MemberError::LastAdmin);
    }
    let Some(m) = member.membership_id else {
        return Err(MemberError::NotFound);
    };
    diesel::delete(workspace_entity_grants::table.filter(workspace_entity_grants::membership_id.eq(m.0)))
        .execute(conn)?;
    diesel::delete(workspace_memberships::table.find(m.0)).execute(conn)?;
    audit::record(
        conn,
        NewEvent {
            org: ws.org_id,
            workspace: Some(ws.id),
            actor: Some(actor_id),
            action: AuditAction::Removed,
            target: &member.email,
            detail: String::new(),
        },
    )?;
    Ok(member.name)
}
