use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    entities, invite_clients, invites, org_client_grants, org_memberships, organizations, workspace_memberships,
    workspaces,
};
use crate::db::DbConnection;
use crate::domain::access::Access;
use crate::domain::{OrgId, UserId, WorkspaceId};

use super::audit::{self, AuditAction, NewEvent};

pub struct ClientRow {
    pub id: WorkspaceId,
    pub name: String,
    pub entity_count: i64,
    pub created_at: NaiveDateTime,
}

/// The clients of a firm within `reach` (what the rules say a team member reaches). Two
/// queries whatever the number of clients.
pub fn clients_for(conn: &mut DbConnection, org: OrgId, reach: &Access<WorkspaceId>) -> QueryResult<Vec<ClientRow>> {
    let mut q = workspaces::table.filter(workspaces::organization_id.eq(org.0)).into_boxed();
    if let Some(set) = reach.chosen() {
        let ids: Vec<i64> = set.iter().map(|w| w.0).collect();
        q = q.filter(workspaces::id.eq_any(ids));
    }
    let rows = q
        .order(workspaces::name.asc())
        .select((workspaces::id, workspaces::name, workspaces::created_at))
        .load::<(i64, String, NaiveDateTime)>(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let counts: std::collections::HashMap<i64, i64> = entities::table
        .filter(entities::workspace_id.eq_any(&ids))
        .group_by(entities::workspace_id)
        .select((entities::workspace_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at)| ClientRow {
            id: WorkspaceId(id),
            name,
            entity_count: counts.get(&id).copied().unwrap_or(0),
            created_at,
        })
        .collect())
}

pub enum AddClientError {
    NameTaken,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for AddClientError {
    fn from(e: diesel::result::Error) -> Self {
        if super::is_unique_violation(&e) {
            AddClientError::NameTaken
        } else {
            AddClientError::Db(e)
        }
    }
}

/// Adds a client; every team Member with "New clients" on gets access at once.
pub fn add_client(
    conn: &mut DbConnection,
    org: OrgId,
    actor: UserId,
    name: &str,
) -> Result<WorkspaceId, AddClientError> {
    let lower = name.to_lowercase();
    let existing: Vec<String> =
        workspaces::table.filter(workspaces::organization_id.eq(org.0)).select(workspaces::name).load(conn)?;
    if existing.iter().any(|n| n.to_lowercase() == lower) {
        return Err(AddClientError::NameTaken);
    }
    let id = diesel::insert_into(workspaces::table)
        .values((
            workspaces::organization_id.eq(org.0),
            workspaces::name.eq(name),
            workspaces::created_at.eq(super::now()),
        ))
        .returning(workspaces::id)
        .get_result::<i64>(conn)?;
    let followers: Vec<i64> = org_memberships::table
        .filter(org_memberships::organization_id.eq(org.0))
        .filter(org_memberships::new_clients.eq(true))
        .select(org_memberships::id)
        .load(conn)?;
    let grants: Vec<_> = followers
        .iter()
        .map(|m| (org_client_grants::membership_id.eq(*m), org_client_grants::workspace_id.eq(id)))
        .collect();
    if !grants.is_empty() {
        // Row by row: batch inserts are not available through the two-backend connection.
        for row in grants {
            diesel::insert_into(org_client_grants::table).values(row).execute(conn)?;
        }
    }
    // Pending team invites with "New clients" on cover it too, so whoever accepts later
    // gets it, and their invite page lists it.
    let pending: Vec<i64> = invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::workspace_id.is_null())
        .filter(invites::state.eq(super::invite::PENDING))
        .filter(invites::new_clients.eq(true))
        .select(invites::id)
        .load(conn)?;
    for invite in pending {
        diesel::insert_into(invite_clients::table)
            .values((invite_clients::invite_id.eq(invite), invite_clients::workspace_id.eq(id)))
            .execute(conn)?;
    }
    audit::record(
        conn,
        NewEvent {
            org,
            workspace: None,
            actor: Some(actor),
            action: AuditAction::AddedClient,
            target: name,
            detail: String::new(),
        },
    )?;
    Ok(WorkspaceId(id))
}

pub struct WorkspaceLink {
    pub id: WorkspaceId,
    pub name: String,
    pub org_name: String,
}

/// Workspaces the user was invited into directly (as a client), for their home page.
pub fn direct_workspaces(conn: &mut DbConnection, user: UserId) -> QueryResult<Vec<WorkspaceLink>> {
    let rows = workspace_memberships::table
        .inner_join(workspaces::table.inner_join(organizations::table))
        .filter(workspace_memberships::user_id.eq(user.0))
        .filter(super::access::seat_is_live(super::now()))
        .order(workspaces::name.asc())
        .select((workspaces::id, workspaces::name, organizations::name))
        .load::<(i64, String, String)>(conn)?;
    Ok(rows.into_iter().map(|(id, name, org_name)| WorkspaceLink { id: WorkspaceId(id), name, org_name }).collect())
}
