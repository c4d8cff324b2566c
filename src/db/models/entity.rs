use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{entities, transactions, users};
use crate::db::DbConnection;
use crate::domain::{EntityId, OrgId, UserId, WorkspaceId};

use super::audit::{self, AuditAction, NewEvent};

#[derive(Clone, Debug)]
pub struct Entity {
    pub id: EntityId,
    pub name: String,
}

/// All entities of a workspace, by name.
pub fn all_in(conn: &mut DbConnection, ws: WorkspaceId) -> QueryResult<Vec<Entity>> {
    Ok(entities::table
        .filter(entities::workspace_id.eq(ws.0))
        .order(entities::name.asc())
        .select((entities::id, entities::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| Entity { id: EntityId(id), name })
        .collect())
}

pub struct EntitySummary {
    pub id: EntityId,
    pub name: String,
    pub transaction_count: i64,
}

/// The entities a caller may see (None = all), with their transaction counts.
pub fn visible_in(
    conn: &mut DbConnection,
    ws: WorkspaceId,
    scope: Option<&[EntityId]>,
) -> QueryResult<Vec<EntitySummary>> {
    let all = all_in(conn, ws)?;
    let visible: Vec<Entity> = all.into_iter().filter(|e| scope.is_none_or(|s| s.contains(&e.id))).collect();
    let ids: Vec<i64> = visible.iter().map(|e| e.id.0).collect();
    let counts: std::collections::HashMap<i64, i64> = transactions::table
        .filter(transactions::entity_id.eq_any(&ids))
        .group_by(transactions::entity_id)
        .select((transactions::entity_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(visible
        .into_iter()
        .map(|e| EntitySummary { transaction_count: counts.get(&e.id.0).copied().unwrap_or(0), id: e.id, name: e.name })
        .collect())
}

/// An entity, only if it belongs to this workspace.
pub fn find_in(conn: &mut DbConnection, ws: WorkspaceId, id: EntityId) -> QueryResult<Option<Entity>> {
    Ok(entities::table
        .filter(entities::workspace_id.eq(ws.0))
        .filter(entities::id.eq(id.0))
        .select((entities::id, entities::name))
        .first::<(i64, String)>(conn)
        .optional()?
        .map(|(id, name)| Entity { id: EntityId(id), name }))
}

pub enum AddEntityError {
    NameTaken,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for AddEntityError {
    fn from(e: diesel::result::Error) -> Self {
        if super::is_unique_violation(&e) {
            AddEntityError::NameTaken
        } else {
            AddEntityError::Db(e)
        }
    }
}

pub fn add(
    conn: &mut DbConnection,
    org: OrgId,
    ws: WorkspaceId,
    actor: UserId,
    name: &str,
) -> Result<EntityId, AddEntityError> {
    let lower = name.to_lowercase();
    if all_in(conn, ws)?.iter().any(|e| e.name.to_lowercase() == lower) {
        return Err(AddEntityError::NameTaken);
    }
    let id = diesel::insert_into(entities::table)
        .values((entities::workspace_id.eq(ws.0), entities::name.eq(name), entities::created_at.eq(super::now())))
        .returning(entities::id)
        .get_result::<i64>(conn)?;
    audit::record(
        conn,
        NewEvent {
            org,
            workspace: Some(ws),
            actor: Some(actor),
            action: AuditAction::AddedEntity,
            target: name,
            detail: String::new(),
        },
    )?;
    Ok(EntityId(id))
}

pub struct TransactionRow {
    pub occurred_on: String,
    pub description: String,
    pub amount_cents: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// An entity's books, newest first, with who entered each line (one query).
pub fn transactions_of(conn: &mut DbConnection, entity: EntityId) -> QueryResult<Vec<TransactionRow>> {
    Ok(transactions::table
        .inner_join(users::table)
        .filter(transactions::entity_id.eq(entity.0))
        .order((transactions::occurred_on.desc(), transactions::id.desc()))
        .limit(500)
        .select((
            transactions::occurred_on,
            transactions::description,
            transactions::amount_cents,
            users::name,
            transactions::created_at,
        ))
        .load::<(String, String, i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(occurred_on, description, amount_cents, created_by, created_at)| TransactionRow {
            occurred_on,
            description,
            amount_cents,
            created_by,
            created_at,
        })
        .collect())
}

pub fn add_transaction(
    conn: &mut DbConnection,
    entity: EntityId,
    actor: UserId,
    date: NaiveDate,
    description: &str,
    amount_cents: i64,
) -> QueryResult<()> {
    diesel::insert_into(transactions::table)
        .values((
            transactions::entity_id.eq(entity.0),
            transactions::occurred_on.eq(date.format("%Y-%m-%d").to_string()),
            transactions::description.eq(description),
            transactions::amount_cents.eq(amount_cents),
            transactions::created_by.eq(actor.0),
            transactions::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every entity of every client of a firm, with its client, by client name then name.
pub fn all_in_firm(conn: &mut DbConnection, org: OrgId) -> QueryResult<Vec<(WorkspaceId, String, Entity)>> {
    use crate::db::schema::workspaces;
    Ok(entities::table
        .inner_join(workspaces::table)
        .filter(workspaces::organization_id.eq(org.0))
        .order((workspaces::name.asc(), workspaces::id.asc(), entities::name.asc()))
        .select((workspaces::id, workspaces::name, entities::id, entities::name))
        .load::<(i64, String, i64, String)>(conn)?
        .into_iter()
        .map(|(ws, ws_name, id, name)| (WorkspaceId(ws), ws_name, Entity { id: EntityId(id), name }))
        .collect())
}
