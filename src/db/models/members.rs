//! Rows of a client's workspace (`workspace_memberships` and their entity grants), and the
//! names and emails of people. Queries only: who may change what is decided by the rules.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{users, workspace_entity_grants, workspace_memberships};
use crate::db::DbConnection;
use crate::domain::access::{Access, SeatFacts};
use crate::domain::{EntityId, MembershipId, UserId, WorkspaceId};

/// Sets a person's own row in a workspace: its role and entities ("all, current and future"
/// is a flag on the row; chosen entities are rows of their own).
pub fn set_seat(
    conn: &mut DbConnection,
    ws: WorkspaceId,
    user: UserId,
    seat: &SeatFacts,
    invited_by: Option<UserId>,
) -> QueryResult<MembershipId> {
    let existing = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws.0))
        .filter(workspace_memberships::user_id.eq(user.0))
        .select(workspace_memberships::id)
        .first::<i64>(conn)
        .optional()?;
    let id = match existing {
        Some(id) => {
            diesel::update(workspace_memberships::table.find(id))
                .set((
                    workspace_memberships::role.eq(seat.role.as_str()),
                    workspace_memberships::all_entities.eq(seat.entities.is_all()),
                ))
                .execute(conn)?;
            diesel::delete(workspace_entity_grants::table.filter(workspace_entity_grants::membership_id.eq(id)))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(workspace_memberships::table)
            .values((
                workspace_memberships::workspace_id.eq(ws.0),
                workspace_memberships::user_id.eq(user.0),
                workspace_memberships::role.eq(seat.role.as_str()),
                workspace_memberships::all_entities.eq(seat.entities.is_all()),
                workspace_memberships::invited_by.eq(invited_by.map(|u| u.0)),
                workspace_memberships::created_at.eq(super::now()),
            ))
            .returning(workspace_memberships::id)
            .get_result::<i64>(conn)?,
    };
    // Row by row: batch inserts are not available through the two-backend connection.
    for e in stored(&seat.entities) {
        diesel::insert_into(workspace_entity_grants::table)
            .values((workspace_entity_grants::membership_id.eq(id), workspace_entity_grants::entity_id.eq(e.0)))
            .execute(conn)?;
    }
    Ok(MembershipId(id))
}

/// Ends a person's own row in a workspace (their past work and the audit trail stay).
pub fn remove_seat(conn: &mut DbConnection, ws: WorkspaceId, user: UserId) -> QueryResult<usize> {
    diesel::delete(
        workspace_memberships::table
            .filter(workspace_memberships::workspace_id.eq(ws.0))
            .filter(workspace_memberships::user_id.eq(user.0)),
    )
    .execute(conn)
}

/// The stored entity list of an access: None for "all" (stored as no rows, on an Admin row).
pub fn stored(access: &Access<EntityId>) -> Vec<EntityId> {
    access.chosen().map(|s| s.iter().copied().collect()).unwrap_or_default()
}

/// Names and emails of people, by id (one query).
pub fn people(conn: &mut DbConnection, ids: &[UserId]) -> QueryResult<HashMap<UserId, (String, String)>> {
    let ids: Vec<i64> = ids.iter().map(|u| u.0).collect();
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name, users::email))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, email)| (UserId(id), (name, email)))
        .collect())
}

/// Names, emails and whether two-factor authentication is on, by id (one query).
pub fn people_with_two_factor(
    conn: &mut DbConnection,
    ids: &[UserId],
) -> QueryResult<HashMap<UserId, (String, String, bool)>> {
    let ids: Vec<i64> = ids.iter().map(|u| u.0).collect();
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name, users::email, users::totp_enabled_at.is_not_null()))
        .load::<(i64, String, String, bool)>(conn)?
        .into_iter()
        .map(|(id, name, email, on)| (UserId(id), (name, email, on)))
        .collect())
}

/// What the access report tells of a person besides their access.
#[derive(Clone, Debug, Default)]
pub struct PersonInfo {
    pub name: String,
    pub email: String,
    pub two_factor: bool,
    pub last_sign_in: Option<chrono::NaiveDateTime>,
}

/// Names, emails, two-factor and last sign-in of `ids`: one query, whatever their number.
pub fn people_for_report(conn: &mut DbConnection, ids: &[UserId]) -> QueryResult<HashMap<UserId, PersonInfo>> {
    let ids: Vec<i64> = ids.iter().map(|u| u.0).collect();
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name, users::email, users::totp_enabled_at.is_not_null(), users::last_sign_in_at))
        .load::<(i64, String, String, bool, Option<chrono::NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, name, email, two_factor, last_sign_in)| {
            (UserId(id), PersonInfo { name, email, two_factor, last_sign_in })
        })
        .collect())
}
