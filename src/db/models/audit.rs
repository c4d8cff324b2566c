use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{audit_events, users};
use crate::db::DbConnection;
use crate::domain::listing::{page_of, Bound, Cursor, ListQuery, Page};
use crate::domain::{OrgId, UserId, WorkspaceId};

use super::{lower, lower_opt};

/// What happened, as stored (and shown, through `label`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Invited,
    Resent,
    Cancelled,
    /// A pending invite now offers another role or access ("Edit invite").
    UpdatedInvite,
    /// A pending invite's expiry was renewed without an email ("Renew and copy link").
    Renewed,
    Accepted,
    ChangedPermissions,
    Removed,
    AddedClient,
    AddedEntity,
    /// "Require two-factor authentication" was turned on, changed or off.
    ChangedTwoFactorRequirement,
    /// Access reached its end date and ended by itself (no actor).
    AccessEnded,
    /// An access end date was moved later ("Extend").
    Extended,
    /// Someone holding an expired invite link asked for a new one: it went to the invited
    /// address (no actor).
    NewLinkRequested,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Invited => "invited",
            AuditAction::Resent => "resent",
            AuditAction::Cancelled => "cancelled",
            AuditAction::UpdatedInvite => "updated_invite",
            AuditAction::Renewed => "renewed_invite",
            AuditAction::Accepted => "accepted",
            AuditAction::ChangedPermissions => "changed_permissions",
            AuditAction::Removed => "removed",
            AuditAction::AddedClient => "added_client",
            AuditAction::AddedEntity => "added_entity",
            AuditAction::ChangedTwoFactorRequirement => "changed_2fa_requirement",
            AuditAction::AccessEnded => "access_ended",
            AuditAction::Extended => "extended",
            AuditAction::NewLinkRequested => "new_link_requested",
        }
    }

    /// The verb shown in the Activity list: "ACTOR invited TARGET".
    pub fn label_of(s: &str) -> &'static str {
        match s {
            "invited" => "invited",
            "resent" => "resent the invite to",
            "cancelled" => "cancelled the invite to",
            "updated_invite" => "changed the invite to",
            "renewed_invite" => "renewed the invite to",
            "accepted" => "accepted the invite as",
            "changed_permissions" => "changed the permissions of",
            "removed" => "removed",
            "added_client" => "added the client",
            "added_entity" => "added the entity",
            "changed_2fa_requirement" => "changed the two-factor requirement of",
            "access_ended" => "ended, on its end date, the access of",
            "extended" => "extended the access of",
            "new_link_requested" => "sent a new invite link, as asked on the expired one, to",
            _ => "changed",
        }
    }
}

pub struct NewEvent<'a> {
    pub org: OrgId,
    pub workspace: Option<WorkspaceId>,
    pub actor: Option<UserId>,
    pub action: AuditAction,
    pub target: &'a str,
    pub detail: String,
}

pub fn record(conn: &mut DbConnection, e: NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::organization_id.eq(e.org.0),
            audit_events::workspace_id.eq(e.workspace.map(|w| w.0)),
            audit_events::actor_id.eq(e.actor.map(|a| a.0)),
            audit_events::action.eq(e.action.as_str()),
            audit_events::target_email.eq(e.target),
            audit_events::detail.eq(e.detail),
            audit_events::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub struct EventRow {
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub at: NaiveDateTime,
}

/// One page of a workspace's events, newest first, with the actor's name in the same
/// query: the search matches who did it (name or email) or whom it was done to. One query
/// per page, served by the (workspace_id, id) index.
pub fn page(conn: &mut DbConnection, org: OrgId, ws: WorkspaceId, query: &ListQuery) -> QueryResult<Page<EventRow>> {
    type Row = (i64, Option<String>, Option<String>, String, String, String, NaiveDateTime);
    page_of(&[0], &query.direction, |_, bound, n| {
        let mut q = audit_events::table
            .left_join(users::table.on(users::id.nullable().eq(audit_events::actor_id)))
            .filter(audit_events::organization_id.eq(org.0))
            .filter(audit_events::workspace_id.eq(ws.0))
            .into_boxed();
        if let Some(s) = &query.search {
            let p = s.pattern();
            let actor =
                lower_opt(users::name.nullable())
                    .like(p.clone())
                    .escape('\\')
                    .or(lower_opt(users::email.nullable()).like(p.clone()).escape('\\'));
            q = q.filter(lower(audit_events::target_email).like(p).escape('\\').nullable().or(actor).assume_not_null());
        }
        // Newest first: "after" a row is older than it.
        q = match bound {
            Bound::Start => q.order(audit_events::id.desc()),
            Bound::After(c) => q.filter(audit_events::id.lt(c.id)).order(audit_events::id.desc()),
            Bound::Before(c) => q.filter(audit_events::id.gt(c.id)).order(audit_events::id.asc()),
            Bound::End => q.order(audit_events::id.asc()),
        };
        let rows = q
            .limit(n as i64)
            .select((
                audit_events::id,
                users::name.nullable(),
                users::email.nullable(),
                audit_events::action,
                audit_events::target_email,
                audit_events::detail,
                audit_events::created_at,
            ))
            .load::<Row>(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, actor_name, actor_email, action, target, detail, at)| {
                (EventRow { actor_name, actor_email, action, target, detail, at }, Cursor::new(0, "", id))
            })
            .collect())
    })
}
