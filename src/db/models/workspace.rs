use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    entities, invite_clients, invites, org_client_grants, org_memberships, organizations, workspace_memberships,
    workspaces,
};
use crate::db::DbConnection;
use crate::domain::access::Access;
use crate::domain::listing::{page_of, Bound, Cursor, ListQuery, Page};
use crate::domain::{OrgId, UserId, WorkspaceId};

use super::audit::{self, AuditAction, NewEvent};
use super::lower;

pub struct ClientRow {
    pub id: WorkspaceId,
    pub name: String,
    pub entity_count: i64,
    pub created_at: NaiveDateTime,
}

/// One page of the clients of a firm within `reach` (what the rules say a team member
/// reaches), by name, with the search applied; and how many clients match. Three queries
/// whatever the number of clients (the page, its entity counts, the count), each served by
/// the (organization_id, name) index.
pub fn clients_page(
    conn: &mut DbConnection,
    org: OrgId,
    reach: &Access<WorkspaceId>,
    query: &ListQuery,
) -> QueryResult<(Page<ClientRow>, i64)> {
    let scoped = || {
        let mut q = workspaces::table.filter(workspaces::organization_id.eq(org.0)).into_boxed();
        if let Some(set) = reach.chosen() {
            let ids: Vec<i64> = set.iter().map(|w| w.0).collect();
            q = q.filter(workspaces::id.eq_any(ids));
        }
        if let Some(s) = &query.search {
            q = q.filter(lower(workspaces::name).like(s.pattern()).escape('\\'));
        }
        q
    };
    let page = page_of(&[0], &query.direction, |_, bound, n| {
        let mut q = scoped();
        q = match bound {
            Bound::Start => q.order((workspaces::name.asc(), workspaces::id.asc())),
            Bound::End => q.order((workspaces::name.desc(), workspaces::id.desc())),
            Bound::After(c) => q
                .filter(
                    workspaces::name
                        .gt(c.key.clone())
                        .or(workspaces::name.eq(c.key.clone()).and(workspaces::id.gt(c.id))),
                )
                .order((workspaces::name.asc(), workspaces::id.asc())),
            Bound::Before(c) => q
                .filter(
                    workspaces::name
                        .lt(c.key.clone())
                        .or(workspaces::name.eq(c.key.clone()).and(workspaces::id.lt(c.id))),
                )
                .order((workspaces::name.desc(), workspaces::id.desc())),
        };
        let rows =
            q.select((workspaces::id, workspaces::name, workspaces::created_at)).limit(n as i64).load::<(
                i64,
                String,
                NaiveDateTime,
            )>(conn)?;
        Ok::<_, diesel::result::Error>(
            rows.into_iter()
                .map(|r| {
                    let c = Cursor::new(0, r.1.clone(), r.0);
                    (r, c)
                })
                .collect(),
        )
    })?;
    let ids: Vec<i64> = page.rows.iter().map(|r| r.0).collect();
    let counts: std::collections::HashMap<i64, i64> = entities::table
        .filter(entities::workspace_id.eq_any(&ids))
        .group_by(entities::workspace_id)
        .select((entities::workspace_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let total = scoped().count().get_result::<i64>(conn)?;
    let page = page.map(|(id, name, created_at)| ClientRow {
        id: WorkspaceId(id),
        name,
        entity_count: counts.get(&id).copied().unwrap_or(0),
        created_at,
    });
    Ok((page, total))
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
