//! Invites to a workspace (a client) or to the firm's organization (staff): one mechanism,
//! two kinds of target. Every change here writes its audit event and, where an email is
//! due, its outbox row, in the caller's transaction.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{
    entities, invite_clients, invite_entities, invites, org_client_grants, org_memberships, organizations, users,
    workspace_entity_grants, workspace_memberships, workspaces,
};
use crate::db::DbConnection;
use crate::domain::access::Access;
use crate::domain::token::{InviteKey, InviteToken};
use crate::domain::{EmailAddress, EndDate, EntityId, InviteId, OrgId, UserId, WorkspaceId};

use super::access::{self, WorkspaceInfo};
use super::audit::{self, AuditAction, NewEvent};
use super::outbox;
use super::user::User;

pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const CANCELLED: &str = "cancelled";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = invites)]
pub struct Invite {
    pub id: i64,
    pub organization_id: i64,
    pub workspace_id: Option<i64>,
    pub email: String,
    pub role: String,
    pub new_clients: bool,
    pub token_nonce: String,
    pub invited_by: i64,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_sent_at: NaiveDateTime,
    pub accepted_by: Option<i64>,
    pub all_entities: bool,
    /// The access it gives ends on this date (a workspace row's, or a firm Member's client
    /// access).
    pub access_ends_at: Option<NaiveDateTime>,
    /// Its one reminder before it expires went out (cleared when it is sent again).
    pub reminder_sent_at: Option<NaiveDateTime>,
}

/// The entities a workspace invite offers: all (current and future), or its chosen ones.
pub fn offered_entities(invite: &Invite, chosen: Option<Vec<EntityId>>) -> Access<EntityId> {
    if invite.all_entities {
        Access::All
    } else {
        Access::only(chosen.unwrap_or_default())
    }
}

impl Invite {
    pub fn invite_id(&self) -> InviteId {
        InviteId(self.id)
    }

    /// Past its expiry, or the access it gives has already reached its end date.
    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at <= now || self.access_ends_at.is_some_and(|end| end <= now)
    }
}

/// What to invite whom to.
pub struct NewInvite<'a> {
    pub org: OrgId,
    /// None: an invite to the organization (firm staff).
    pub workspace: Option<&'a WorkspaceInfo>,
    pub email: &'a EmailAddress,
    pub role: &'static str,
    pub entities: &'a [EntityId],
    /// All entities of the workspace, current and future.
    pub all_entities: bool,
    pub clients: &'a [WorkspaceId],
    pub new_clients: bool,
    pub inviter: UserId,
    /// When the access it gives ends by itself; None: no end date.
    pub access_ends: Option<EndDate>,
    pub ttl: Duration,
    pub key: &'a InviteKey,
    /// For the audit trail: "as Accountant, for Acme LLC".
    pub detail: String,
}

#[derive(Debug)]
pub enum NewInviteError {
    AlreadyMember,
    /// On the firm's team: their client access is given on the Team page.
    FirmStaff,
    AlreadyInvited(InviteId),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for NewInviteError {
    fn from(e: diesel::result::Error) -> Self {
        NewInviteError::Db(e)
    }
}

pub fn create(conn: &mut DbConnection, n: NewInvite<'_>) -> Result<InviteId, NewInviteError> {
    is_member(conn, &n)?;
    if let Some(existing) = find_pending(conn, n.org, n.workspace.map(|w| w.id), n.email)? {
        return Err(NewInviteError::AlreadyInvited(existing.invite_id()));
    }
    let now = super::now();
    let (nonce, token) = n.key.issue();
    // In a savepoint: on PostgreSQL a failed statement (a unique violation) aborts the
    // whole transaction, and the look-up below would fail with it.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(invites::table)
            .values((
                invites::organization_id.eq(n.org.0),
                invites::workspace_id.eq(n.workspace.map(|w| w.id.0)),
                invites::email.eq(n.email.as_str()),
                invites::role.eq(n.role),
                invites::new_clients.eq(n.new_clients),
                invites::all_entities.eq(n.all_entities),
                invites::token_hash.eq(token.lookup_hash()),
                invites::token_nonce.eq(&nonce),
                invites::invited_by.eq(n.inviter.0),
                invites::state.eq(PENDING),
                invites::created_at.eq(now),
                invites::expires_at.eq(now + n.ttl),
                invites::last_sent_at.eq(now),
                invites::access_ends_at.eq(n.access_ends.map(EndDate::starts_at)),
            ))
            .returning(invites::id)
            .get_result::<i64>(c)
    });
    let id = match inserted {
        Ok(id) => InviteId(id),
        // Another request invited the same address a moment ago.
        Err(e) if super::is_unique_violation(&e) => {
            return match find_pending(conn, n.org, n.workspace.map(|w| w.id), n.email)? {
                Some(existing) => Err(NewInviteError::AlreadyInvited(existing.invite_id())),
                None => Err(NewInviteError::Db(e)),
            }
        }
        Err(e) => return Err(e.into()),
    };
    write_offer(conn, id, n.entities, n.clients)?;
    outbox::enqueue_invite(conn, id, n.email.as_str())?;
    audit::record(
        conn,
        NewEvent {
            org: n.org,
            workspace: n.workspace.map(|w| w.id),
            actor: Some(n.inviter),
            action: AuditAction::Invited,
            target: n.email.as_str(),
            detail: n.detail,
        },
    )?;
    Ok(id)
}

/// The entities (workspace invite) or clients (team invite) an invite offers, as rows.
fn write_offer(
    conn: &mut DbConnection,
    id: InviteId,
    entities: &[EntityId],
    clients: &[WorkspaceId],
) -> QueryResult<()> {
    // Row by row: batch inserts are not available through the two-backend connection.
    for e in entities {
        diesel::insert_into(invite_entities::table)
            .values((invite_entities::invite_id.eq(id.0), invite_entities::entity_id.eq(e.0)))
            .execute(conn)?;
    }
    for w in clients {
        diesel::insert_into(invite_clients::table)
            .values((invite_clients::invite_id.eq(id.0), invite_clients::workspace_id.eq(w.0)))
            .execute(conn)?;
    }
    Ok(())
}

/// What a pending invite offers from now on ("Edit invite"): its role, and its entities
/// (all, or the chosen ones) or its clients and "New clients". Its link and expiry stay.
pub struct NewOffer<'a> {
    pub role: &'static str,
    pub all_entities: bool,
    pub entities: &'a [EntityId],
    pub clients: &'a [WorkspaceId],
    pub new_clients: bool,
    /// For the audit trail: "as Accountant, Acme LLC".
    pub detail: String,
}

/// Replaces what a pending invite offers, with its audit event. Sends nothing: an email
/// still waiting in the outbox is rendered when it goes, so it says the new access.
pub fn set_offer(conn: &mut DbConnection, invite: &Invite, actor: UserId, o: NewOffer<'_>) -> QueryResult<()> {
    let changed = diesel::update(invites::table.find(invite.id).filter(invites::state.eq(PENDING)))
        .set((
            invites::role.eq(o.role),
            invites::all_entities.eq(o.all_entities),
            invites::new_clients.eq(o.new_clients),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    diesel::delete(invite_entities::table.filter(invite_entities::invite_id.eq(invite.id))).execute(conn)?;
    diesel::delete(invite_clients::table.filter(invite_clients::invite_id.eq(invite.id))).execute(conn)?;
    write_offer(conn, invite.invite_id(), o.entities, o.clients)?;
    audit::record(
        conn,
        NewEvent {
            org: OrgId(invite.organization_id),
            workspace: invite.workspace_id.map(WorkspaceId),
            actor: Some(actor),
            action: AuditAction::UpdatedInvite,
            target: &invite.email,
            detail: o.detail,
        },
    )
}

/// Gives a pending invite a new expiry, `ttl` from now, with its audit event; sends nothing
/// (the link stays the same: "Renew and copy link" hands it out).
pub fn renew(conn: &mut DbConnection, invite: &Invite, actor: UserId, ttl: Duration) -> QueryResult<NaiveDateTime> {
    let until = super::now() + ttl;
    let changed = diesel::update(invites::table.find(invite.id).filter(invites::state.eq(PENDING)))
        .set((invites::expires_at.eq(until), invites::reminder_sent_at.eq(None::<NaiveDateTime>)))
        .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    audit::record(
        conn,
        NewEvent {
            org: OrgId(invite.organization_id),
            workspace: invite.workspace_id.map(WorkspaceId),
            actor: Some(actor),
            action: AuditAction::Renewed,
            target: &invite.email,
            detail: format!("until {}", until.format("%Y-%m-%d %H:%M UTC")),
        },
    )?;
    Ok(until)
}

/// Whether the invited address already belongs where the invite leads: a member of the
/// workspace (or of the team), or, for a client's workspace, on the firm's own team (whose
/// client access is given on the Team page, never by a client invite).
fn is_member(conn: &mut DbConnection, n: &NewInvite<'_>) -> Result<(), NewInviteError> {
    let Some(user) =
        users::table.filter(users::email.eq(n.email.as_str())).select(users::id).first::<i64>(conn).optional()?
    else {
        return Ok(());
    };
    let on_team = diesel::select(diesel::dsl::exists(
        org_memberships::table
            .filter(org_memberships::organization_id.eq(n.org.0))
            .filter(org_memberships::user_id.eq(user)),
    ))
    .get_result::<bool>(conn)?;
    match n.workspace {
        Some(ws) if access::load(conn, UserId(user), ws.id)?.is_some() => Err(NewInviteError::AlreadyMember),
        Some(_) if on_team => Err(NewInviteError::FirmStaff),
        None if on_team => Err(NewInviteError::AlreadyMember),
        _ => Ok(()),
    }
}

/// `state = 'pending'` with the word in the SQL, not bound: the partial unique indexes on
/// (workspace_id, email) and (organization_id, email) `WHERE state = 'pending'` then find an
/// address's pending invite (SQLite uses a partial index only when the query says its
/// condition in the same words); with a bound value it walked every pending invite of the
/// workspace on each invite.
fn pending_literally() -> diesel::dsl::Eq<invites::state, diesel::expression::SqlLiteral<diesel::sql_types::Text>> {
    invites::state.eq(diesel::dsl::sql::<diesel::sql_types::Text>("'pending'"))
}

pub fn find_pending(
    conn: &mut DbConnection,
    org: OrgId,
    ws: Option<WorkspaceId>,
    email: &EmailAddress,
) -> QueryResult<Option<Invite>> {
    let mut q = invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::email.eq(email.as_str()))
        .filter(pending_literally())
        .into_boxed();
    q = match ws {
        Some(w) => q.filter(invites::workspace_id.eq(w.0)),
        None => q.filter(invites::workspace_id.is_null()),
    };
    q.select(Invite::as_select()).first(conn).optional()
}

/// The pending invites of a workspace (None: of the organization itself) to these addresses.
pub fn pending_to(
    conn: &mut DbConnection,
    org: OrgId,
    ws: Option<WorkspaceId>,
    emails: &[String],
) -> QueryResult<Vec<Invite>> {
    let mut q = invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::email.eq_any(emails))
        .filter(pending_literally())
        .into_boxed();
    q = match ws {
        Some(w) => q.filter(invites::workspace_id.eq(w.0)),
        None => q.filter(invites::workspace_id.is_null()),
    };
    q.order(invites::id.asc()).select(Invite::as_select()).load(conn)
}

/// A pending invite of this workspace (None: of the organization itself); anything else,
/// including another firm's invite, is not found.
pub fn find_for_target(
    conn: &mut DbConnection,
    org: OrgId,
    ws: Option<WorkspaceId>,
    id: InviteId,
) -> QueryResult<Option<Invite>> {
    let mut q = invites::table
        .filter(invites::id.eq(id.0))
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::state.eq(PENDING))
        .into_boxed();
    q = match ws {
        Some(w) => q.filter(invites::workspace_id.eq(w.0)),
        None => q.filter(invites::workspace_id.is_null()),
    };
    q.select(Invite::as_select()).first(conn).optional()
}

/// All pending invites of a workspace (or of the organization), oldest first.
pub fn pending_for(conn: &mut DbConnection, org: OrgId, ws: Option<WorkspaceId>) -> QueryResult<Vec<Invite>> {
    let mut q =
        invites::table.filter(invites::organization_id.eq(org.0)).filter(invites::state.eq(PENDING)).into_boxed();
    q = match ws {
        Some(w) => q.filter(invites::workspace_id.eq(w.0)),
        None => q.filter(invites::workspace_id.is_null()),
    };
    q.order(invites::id.asc()).select(Invite::as_select()).load(conn)
}

/// Every pending invite of a firm: to its team and to each of its clients, oldest first.
pub fn pending_in_org(conn: &mut DbConnection, org: OrgId) -> QueryResult<Vec<Invite>> {
    invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::state.eq(PENDING))
        .order(invites::id.asc())
        .select(Invite::as_select())
        .load(conn)
}

/// The nonce of the newest pending, unexpired invite to `email`.
pub fn newest_pending_to(conn: &mut DbConnection, email: &str, now: NaiveDateTime) -> QueryResult<Option<String>> {
    invites::table
        .filter(invites::email.eq(email))
        .filter(invites::state.eq(PENDING))
        .filter(invites::expires_at.gt(now))
        .order(invites::id.desc())
        .select(invites::token_nonce)
        .first(conn)
        .optional()
}

pub fn entity_ids_of(conn: &mut DbConnection, invites: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    invite_entities::table
        .filter(invite_entities::invite_id.eq_any(invites))
        .select((invite_entities::invite_id, invite_entities::entity_id))
        .load(conn)
}

pub fn client_ids_of(conn: &mut DbConnection, invites: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    invite_clients::table
        .filter(invite_clients::invite_id.eq_any(invites))
        .select((invite_clients::invite_id, invite_clients::workspace_id))
        .load(conn)
}

#[derive(Debug)]
pub enum ResendError {
    TooSoon,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for ResendError {
    fn from(e: diesel::result::Error) -> Self {
        ResendError::Db(e)
    }
}

/// Sends the email again and renews the expiry; at most once a minute per invite.
pub fn resend(conn: &mut DbConnection, invite: &Invite, actor: UserId, ttl: Duration) -> Result<(), ResendError> {
    let now = super::now();
    if now - invite.last_sent_at < Duration::seconds(60) {
        return Err(ResendError::TooSoon);
    }
    let renewed = diesel::update(invites::table.find(invite.id).filter(invites::state.eq(PENDING)))
        .set((
            invites::expires_at.eq(now + ttl),
            invites::last_sent_at.eq(now),
            invites::reminder_sent_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if renewed == 0 {
        // Cancelled or accepted a moment ago: nothing to send.
        return Err(ResendError::Db(diesel::result::Error::NotFound));
    }
    outbox::drop_pending_for_invite(conn, invite.invite_id())?;
    outbox::enqueue_invite(conn, invite.invite_id(), &invite.email)?;
    audit::record(
        conn,
        NewEvent {
            org: OrgId(invite.organization_id),
            workspace: invite.workspace_id.map(WorkspaceId),
            actor: Some(actor),
            action: AuditAction::Resent,
            target: &invite.email,
            detail: String::new(),
        },
    )?;
    Ok(())
}

pub fn cancel(conn: &mut DbConnection, invite: &Invite, actor: UserId) -> QueryResult<()> {
    cancel_each(conn, std::slice::from_ref(invite), actor, "")
}

/// Everything a person needs to know about an invite: for the landing page and the email.
#[derive(Clone, Debug)]
pub struct InviteDetails {
    pub id: InviteId,
    pub org_name: String,
    pub workspace: Option<(WorkspaceId, String)>,
    pub email: String,
    pub role: String,
    pub new_clients: bool,
    /// A workspace invite to all entities, current and future.
    pub all_entities: bool,
    /// Entity names (workspace invites) or client names (organization invites).
    pub access: Vec<String>,
    pub inviter_name: String,
    pub inviter_email: String,
    pub expires_at: NaiveDateTime,
    pub state: String,
    pub nonce: String,
    pub accepted_by: Option<i64>,
}

pub fn details(conn: &mut DbConnection, invite: Invite) -> QueryResult<InviteDetails> {
    let org_name =
        organizations::table.find(invite.organization_id).select(organizations::name).first::<String>(conn)?;
    let workspace = match invite.workspace_id {
        Some(w) => Some((WorkspaceId(w), workspaces::table.find(w).select(workspaces::name).first::<String>(conn)?)),
        None => None,
    };
    let (inviter_name, inviter_email) =
        users::table.find(invite.invited_by).select((users::name, users::email)).first::<(String, String)>(conn)?;
    let access = if invite.workspace_id.is_some() {
        invite_entities::table
            .inner_join(entities::table)
            .filter(invite_entities::invite_id.eq(invite.id))
            .order(entities::name.asc())
            .select(entities::name)
            .load::<String>(conn)?
    } else {
        invite_clients::table
            .inner_join(workspaces::table)
            .filter(invite_clients::invite_id.eq(invite.id))
            .order(workspaces::name.asc())
            .select(workspaces::name)
            .load::<String>(conn)?
    };
    Ok(InviteDetails {
        id: invite.invite_id(),
        org_name,
        workspace,
        email: invite.email,
        role: invite.role,
        new_clients: invite.new_clients,
        all_entities: invite.all_entities,
        access,
        inviter_name,
        inviter_email,
        expires_at: invite.expires_at,
        state: invite.state,
        nonce: invite.token_nonce,
        accepted_by: invite.accepted_by,
    })
}

pub fn find_by_id(conn: &mut DbConnection, id: InviteId) -> QueryResult<Option<Invite>> {
    invites::table.find(id.0).select(Invite::as_select()).first(conn).optional()
}

pub fn find_by_token(conn: &mut DbConnection, token: &InviteToken) -> QueryResult<Option<Invite>> {
    invites::table
        .filter(invites::token_hash.eq(token.lookup_hash()))
        .select(Invite::as_select())
        .first(conn)
        .optional()
}

/// Where an accepted invite leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    Workspace(WorkspaceId),
    Organization(OrgId),
}

#[derive(Debug)]
pub enum AcceptError {
    Unknown,
    Cancelled,
    Expired,
    /// Accepted before: by this user (they just land where it leads) or someone else.
    AlreadyAccepted {
        by_this_user: bool,
        leads_to: Accepted,
    },
    WrongAccount {
        invited: String,
    },
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for AcceptError {
    fn from(e: diesel::result::Error) -> Self {
        AcceptError::Db(e)
    }
}

pub fn leads_to(invite: &Invite) -> Accepted {
    match invite.workspace_id {
        Some(w) => Accepted::Workspace(WorkspaceId(w)),
        None => Accepted::Organization(OrgId(invite.organization_id)),
    }
}

/// The pending invite behind `token`, if the owner of `email` (user `user_id`, when they
/// have an account) may accept it now; otherwise why not.
pub fn acceptable(
    conn: &mut DbConnection,
    token: &InviteToken,
    email: &str,
    user_id: Option<i64>,
) -> Result<Invite, AcceptError> {
    let invite = find_by_token(conn, token)?.ok_or(AcceptError::Unknown)?;
    match invite.state.as_str() {
        CANCELLED => return Err(AcceptError::Cancelled),
        ACCEPTED => {
            return Err(AcceptError::AlreadyAccepted {
                by_this_user: user_id.is_some() && invite.accepted_by == user_id,
                leads_to: leads_to(&invite),
            })
        }
        _ => {}
    }
    if invite.is_expired(super::now()) {
        return Err(AcceptError::Expired);
    }
    if invite.email != email {
        return Err(AcceptError::WrongAccount { invited: invite.email });
    }
    Ok(invite)
}

/// Accepts an invite as `user`: exactly once, only for the invited address.
pub fn accept(conn: &mut DbConnection, token: &InviteToken, user: &User) -> Result<Accepted, AcceptError> {
    let invite = acceptable(conn, token, &user.email, Some(user.id))?;
    let now = super::now();
    // The state check and the change are one statement: of concurrent accepts, one wins.
    let won = diesel::update(invites::table.find(invite.id).filter(invites::state.eq(PENDING)))
        .set((invites::state.eq(ACCEPTED), invites::accepted_by.eq(Some(user.id)), invites::ended_at.eq(Some(now))))
        .execute(conn)?;
    if won == 0 {
        // Another request changed it a moment ago: perhaps this same person's (a double
        // click), who then simply lands where the invite leads.
        let (state, by) =
            invites::table
                .find(invite.id)
                .select((invites::state, invites::accepted_by))
                .first::<(String, Option<i64>)>(conn)?;
        if state == CANCELLED {
            return Err(AcceptError::Cancelled);
        }
        return Err(AcceptError::AlreadyAccepted { by_this_user: by == Some(user.id), leads_to: leads_to(&invite) });
    }
    // What the invite offers now: read again after winning, as the row is ours from here
    // (an "Edit invite" that committed in between is seen; a later one finds it accepted).
    let invite = invites::table.find(invite.id).select(Invite::as_select()).first(conn)?;
    match invite.workspace_id {
        Some(ws) => join_workspace(conn, &invite, ws, user, now)?,
        None => join_organization(conn, &invite, user, now)?,
    }
    outbox::drop_pending_for_invite(conn, invite.invite_id())?;
    audit::record(
        conn,
        NewEvent {
            org: OrgId(invite.organization_id),
            workspace: invite.workspace_id.map(WorkspaceId),
            actor: Some(user.user_id()),
            action: AuditAction::Accepted,
            target: &invite.email,
            detail: crate::domain::WorkspaceRole::parse(&invite.role)
                .map(|r| r.label())
                .or_else(|| crate::domain::OrgRole::parse(&invite.role).map(|r| r.label()))
                .unwrap_or("")
                .to_string(),
        },
    )?;
    Ok(leads_to(&invite))
}

fn join_workspace(
    conn: &mut DbConnection,
    invite: &Invite,
    ws: i64,
    user: &User,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let existing = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq(ws))
        .filter(workspace_memberships::user_id.eq(user.id))
        .select(workspace_memberships::id)
        .first::<i64>(conn)
        .optional()?;
    let membership = match existing {
        Some(id) => {
            diesel::update(workspace_memberships::table.find(id))
                .set((
                    workspace_memberships::role.eq(&invite.role),
                    workspace_memberships::all_entities.eq(invite.all_entities),
                    workspace_memberships::ends_at.eq(invite.access_ends_at),
                    workspace_memberships::end_notice_sent_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            diesel::delete(workspace_entity_grants::table.filter(workspace_entity_grants::membership_id.eq(id)))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(workspace_memberships::table)
            .values((
                workspace_memberships::workspace_id.eq(ws),
                workspace_memberships::user_id.eq(user.id),
                workspace_memberships::role.eq(&invite.role),
                workspace_memberships::all_entities.eq(invite.all_entities),
                workspace_memberships::invited_by.eq(Some(invite.invited_by)),
                workspace_memberships::created_at.eq(now),
                workspace_memberships::ends_at.eq(invite.access_ends_at),
            ))
            .returning(workspace_memberships::id)
            .get_result::<i64>(conn)?,
    };
    let grants: Vec<_> = entity_ids_of(conn, &[invite.id])?
        .into_iter()
        .map(|(_, e)| (workspace_entity_grants::membership_id.eq(membership), workspace_entity_grants::entity_id.eq(e)))
        .collect();
    if !grants.is_empty() {
        // Row by row: batch inserts are not available through the two-backend connection.
        for row in grants {
            diesel::insert_into(workspace_entity_grants::table).values(row).execute(conn)?;
        }
    }
    Ok(())
}

fn join_organization(conn: &mut DbConnection, invite: &Invite, user: &User, now: NaiveDateTime) -> QueryResult<()> {
    let existing = org_memberships::table
        .filter(org_memberships::organization_id.eq(invite.organization_id))
        .filter(org_memberships::user_id.eq(user.id))
        .select(org_memberships::id)
        .first::<i64>(conn)
        .optional()?;
    let membership = match existing {
        Some(id) => {
            diesel::update(org_memberships::table.find(id))
                .set((
                    org_memberships::role.eq(&invite.role),
                    org_memberships::new_clients.eq(invite.new_clients),
                    org_memberships::clients_until.eq(invite.access_ends_at),
                    org_memberships::end_notice_sent_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            diesel::delete(org_client_grants::table.filter(org_client_grants::membership_id.eq(id))).execute(conn)?;
            id
        }
        None => diesel::insert_into(org_memberships::table)
            .values((
                org_memberships::organization_id.eq(invite.organization_id),
                org_memberships::user_id.eq(user.id),
                org_memberships::role.eq(&invite.role),
                org_memberships::new_clients.eq(invite.new_clients),
                org_memberships::created_at.eq(now),
                org_memberships::clients_until.eq(invite.access_ends_at),
            ))
            .returning(org_memberships::id)
            .get_result::<i64>(conn)?,
    };
    let grants: Vec<_> = client_ids_of(conn, &[invite.id])?
        .into_iter()
        .map(|(_, w)| (org_client_grants::membership_id.eq(membership), org_client_grants::workspace_id.eq(w)))
        .collect();
    if !grants.is_empty() {
        // Row by row: batch inserts are not available through the two-backend connection.
        for row in grants {
            diesel::insert_into(org_client_grants::table).values(row).execute(conn)?;
        }
    }
    Ok(())
}

/// Cancels every pending invite of a firm to `email`: into one workspace (`Some`), or
/// anywhere in the firm, its team and every client (`None`). Each with its audit event,
/// saying why. Returns the cancelled invites.
pub fn cancel_all_to(
    conn: &mut DbConnection,
    org: OrgId,
    ws: Option<WorkspaceId>,
    email: &str,
    actor: UserId,
    why: &str,
) -> QueryResult<Vec<Invite>> {
    let mut q = invites::table
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::email.eq(email))
        .filter(invites::state.eq(PENDING))
        .into_boxed();
    if let Some(w) = ws {
        q = q.filter(invites::workspace_id.eq(w.0));
    }
    let pending: Vec<Invite> = q.order(invites::id.asc()).select(Invite::as_select()).load(conn)?;
    cancel_each(conn, &pending, actor, why)?;
    Ok(pending)
}

/// The pending invites `inviter` sent into workspace `ws`.
pub fn pending_sent_by(conn: &mut DbConnection, ws: WorkspaceId, inviter: UserId) -> QueryResult<Vec<Invite>> {
    invites::table
        .filter(invites::workspace_id.eq(ws.0))
        .filter(invites::invited_by.eq(inviter.0))
        .filter(invites::state.eq(PENDING))
        .order(invites::email.asc())
        .select(Invite::as_select())
        .load(conn)
}

/// Cancels the pending invites `inviter` sent into workspace `ws` (they are leaving it, and
/// no longer vouch for anyone there), each with its audit event.
pub fn cancel_sent_by(
    conn: &mut DbConnection,
    ws: WorkspaceId,
    inviter: UserId,
    actor: UserId,
    why: &str,
) -> QueryResult<Vec<Invite>> {
    let pending = pending_sent_by(conn, ws, inviter)?;
    cancel_each(conn, &pending, actor, why)?;
    Ok(pending)
}

fn cancel_each(conn: &mut DbConnection, pending: &[Invite], actor: UserId, why: &str) -> QueryResult<()> {
    for inv in pending {
        diesel::update(invites::table.find(inv.id).filter(invites::state.eq(PENDING)))
            .set((invites::state.eq(CANCELLED), invites::ended_at.eq(Some(super::now()))))
            .execute(conn)?;
        outbox::drop_pending_for_invite(conn, inv.invite_id())?;
        audit::record(
            conn,
            NewEvent {
                org: OrgId(inv.organization_id),
                workspace: inv.workspace_id.map(WorkspaceId),
                actor: Some(actor),
                action: AuditAction::Cancelled,
                target: &inv.email,
                detail: why.to_string(),
            },
        )?;
    }
    Ok(())
}

/// Where each pending invite of a firm to `email` leads: None for the firm's team, else the
/// client's name (for "what will end" before a removal).
pub fn pending_places_of(conn: &mut DbConnection, org: OrgId, email: &str) -> QueryResult<Vec<Option<String>>> {
    let rows = invites::table
        .left_join(workspaces::table.on(workspaces::id.nullable().eq(invites::workspace_id)))
        .filter(invites::organization_id.eq(org.0))
        .filter(invites::email.eq(email))
        .filter(invites::state.eq(PENDING))
        .order(invites::id.asc())
        .select(workspaces::name.nullable())
        .load::<Option<String>>(conn)?;
    Ok(rows)
}

/// "Send me a new link" on an expired invite: a new link (the old one stops working), a new
/// expiry `ttl` from now, and the invite email again, to the invited address only. Whoever
/// holds the expired link gains nothing but that email being sent. With its audit event.
pub fn renew_on_request(conn: &mut DbConnection, invite: &Invite, key: &InviteKey, ttl: Duration) -> QueryResult<bool> {
    let now = super::now();
    let (nonce, token) = key.issue();
    // Only the link that was read: of two requests at once with it, one renews (and sends);
    // the other finds its link replaced.
    let renewed = diesel::update(
        invites::table
            .find(invite.id)
            .filter(invites::state.eq(PENDING))
            .filter(invites::token_nonce.eq(&invite.token_nonce)),
    )
    .set((
        invites::token_hash.eq(token.lookup_hash()),
        invites::token_nonce.eq(&nonce),
        invites::expires_at.eq(now + ttl),
        invites::last_sent_at.eq(now),
        invites::reminder_sent_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if renewed == 0 {
        return Ok(false);
    }
    outbox::drop_pending_for_invite(conn, invite.invite_id())?;
    outbox::enqueue_invite(conn, invite.invite_id(), &invite.email)?;
    audit::record(
        conn,
        NewEvent {
            org: OrgId(invite.organization_id),
            workspace: invite.workspace_id.map(WorkspaceId),
            actor: None,
            action: AuditAction::NewLinkRequested,
            target: &invite.email,
            detail: "asked for on the expired link; sent to the invited address".into(),
        },
    )?;
    Ok(true)
}

/// Whether any pending invite is due its reminder (one cheap indexed read).
pub fn reminders_due(conn: &mut DbConnection, now: NaiveDateTime, lead: Duration) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        invites::table
            .filter(invites::state.eq(PENDING))
            .filter(invites::expires_at.gt(now))
            .filter(invites::expires_at.le(now + lead))
            .filter(invites::reminder_sent_at.is_null()),
    ))
    .get_result(conn)
}

/// Queues each due reminder, once: a pending invite `lead` or less before it expires, not
/// reminded yet (sending it again clears that). One conditional UPDATE per invite decides,
/// so that two instances never both queue one. Returns how many. (An invite's email goes
/// out a whole INVITE_TTL_DAYS before it expires, so with a lead shorter than that, its
/// reminder never follows its email at once: the caller sees to that.)
pub fn send_reminders(conn: &mut DbConnection, now: NaiveDateTime, lead: Duration) -> QueryResult<usize> {
    let due: Vec<(i64, String)> = invites::table
        .filter(invites::state.eq(PENDING))
        .filter(invites::expires_at.gt(now))
        .filter(invites::expires_at.le(now + lead))
        .filter(invites::reminder_sent_at.is_null())
        .select((invites::id, invites::email))
        .load(conn)?;
    let mut queued = 0;
    for (id, email) in due {
        let won = diesel::update(invites::table.find(id).filter(invites::reminder_sent_at.is_null()))
            .set(invites::reminder_sent_at.eq(Some(now)))
            .execute(conn)?;
        if won == 1 {
            outbox::enqueue_reminder(conn, InviteId(id), &email)?;
            queued += 1;
        }
    }
    Ok(queued)
}
