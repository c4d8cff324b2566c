//! Sign-up, clients, entities and books: the firm's own actions outside member management.

use chrono::NaiveDate;

use super::{ActionError, Conflict, Outcome};
use crate::db::models::access::WorkspaceAccess;
use crate::db::models::entity::{self, AddEntityError, Entity, EntitySummary, TransactionRow};
use crate::db::models::organization::{self, OrgMembership};
use crate::db::models::user::CreateUserError;
use crate::db::models::workspace::{self, AddClientError, ClientRow};
use crate::db::models::{lock_row, LockTable};
use crate::db::Db;
use crate::domain::access::{self as rules, OrgAction, Refusal, StaffFacts, WorkspaceAction};
use crate::domain::listing::{ListQuery, Page};
use crate::domain::{EmailAddress, EntityId, Name, OrgId, UserId, WorkspaceId};

/// A new account and its firm, with its first Admin: together or not at all.
pub async fn sign_up(db: &Db, email: EmailAddress, name: Name, hash: String, firm: Name) -> Outcome<(UserId, OrgId)> {
    db.transaction(move |c| {
        organization::sign_up(c, &email, name.as_str(), &hash, firm.as_str()).map_err(|e| match e {
            CreateUserError::EmailTaken => ActionError::Conflict(Conflict::EmailTaken),
            CreateUserError::Db(e) => e.into(),
        })
    })
    .await
}

/// A page of the clients a team member can open (all for Admins and Managers, the chosen
/// ones for Members), and how many match the search.
pub async fn clients(db: &Db, m: &OrgMembership, query: ListQuery) -> Outcome<(Page<ClientRow>, i64)> {
    let m = m.clone();
    Ok(db
        .read(move |c| {
            // Admins and Managers reach every client: their grants (if any) change nothing.
            let granted = if rules::sees_all_clients(m.role) {
                Vec::new()
            } else {
                crate::db::models::access::client_grants(c, m.membership_id)?
            };
            let reach = StaffFacts::new(m.role, granted, m.new_clients).clients;
            workspace::clients_page(c, m.org_id, &reach, &query)
        })
        .await?)
}

pub fn may_add_client(m: &OrgMembership) -> Result<(), Refusal> {
    if rules::org_may(m.role, OrgAction::AddClient) {
        Ok(())
    } else {
        Err(Refusal::FirmRole)
    }
}

pub async fn add_client(db: &Db, actor: UserId, org: OrgId, name: Name) -> Outcome<WorkspaceId> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Organization, org.0)?;
        let m = organization::membership(c, actor, org)?.ok_or(ActionError::NotFound)?;
        may_add_client(&m)?;
        workspace::add_client(c, org, actor, name.as_str()).map_err(|e| match e {
            AddClientError::NameTaken => ActionError::Conflict(Conflict::NameTaken),
            AddClientError::Db(e) => e.into(),
        })
    })
    .await
}

/// The entities the caller can open, with their transaction counts.
pub async fn entities(db: &Db, a: &WorkspaceAccess) -> Outcome<Vec<EntitySummary>> {
    let (ws, scope) = (a.workspace.id, a.standing.entities.clone());
    Ok(db
        .read(move |c| {
            let chosen: Option<Vec<EntityId>> = scope.chosen().map(|s| s.iter().copied().collect());
            entity::visible_in(c, ws, chosen.as_deref())
        })
        .await?)
}

pub async fn add_entity(db: &Db, actor: UserId, ws: WorkspaceId, name: Name) -> Outcome<EntityId> {
    db.transaction(move |c| {
        let a = crate::db::models::access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        if !rules::may(&a.standing, WorkspaceAction::AddEntity) {
            return Err(Refusal::Role.into());
        }
        entity::add(c, a.workspace.org_id, ws, actor, name.as_str()).map_err(|e| match e {
            AddEntityError::NameTaken => ActionError::Conflict(Conflict::NameTaken),
            AddEntityError::Db(e) => e.into(),
        })
    })
    .await
}

/// The entity, if the caller may read its books; otherwise not found.
pub async fn entity(db: &Db, a: &WorkspaceAccess, id: EntityId) -> Outcome<Entity> {
    if !rules::may_read_entity(&a.standing, id) {
        return Err(ActionError::NotFound);
    }
    let ws = a.workspace.id;
    db.read(move |c| entity::find_in(c, ws, id)).await?.ok_or(ActionError::NotFound)
}

/// An entity's books, if the caller may read them.
pub async fn books(db: &Db, a: &WorkspaceAccess, id: EntityId) -> Outcome<Vec<TransactionRow>> {
    if !rules::may_read_entity(&a.standing, id) {
        return Err(ActionError::NotFound);
    }
    Ok(db.read(move |c| entity::transactions_of(c, id)).await?)
}

/// A transaction as the books form gives it, parsed.
pub struct NewTransaction {
    pub date: NaiveDate,
    pub description: Name,
    pub amount_cents: i64,
}

pub async fn add_transaction(db: &Db, actor: UserId, ws: WorkspaceId, id: EntityId, t: NewTransaction) -> Outcome<()> {
    db.transaction(move |c| {
        let a = crate::db::models::access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        if !rules::may_read_entity(&a.standing, id) || entity::find_in(c, ws, id)?.is_none() {
            return Err(ActionError::NotFound);
        }
        if !rules::may(&a.standing, WorkspaceAction::AddTransaction) {
            return Err(Refusal::Role.into());
        }
        entity::add_transaction(c, id, actor, t.date, t.description.as_str(), t.amount_cents)?;
        Ok(())
    })
    .await
}

/// How many failing emails the Email delivery page lists.
pub const EMAIL_DELIVERY_LIMIT: i64 = 200;

/// The firm's Email delivery page (firm Admins): its emails that are failing or were given
/// up, longest failing first, and how many of its emails wait to be sent.
pub async fn email_delivery(
    db: &Db,
    m: &OrgMembership,
) -> Outcome<(Vec<crate::db::models::outbox::FailingEmail>, crate::db::models::outbox::FirmQueue)> {
    if !rules::org_may(m.role, OrgAction::ViewEmailDelivery) {
        return Err(ActionError::Refused(Refusal::FirmRole));
    }
    let org = m.org_id;
    Ok(db.read(move |c| crate::db::models::outbox::failing_for_firm(c, org, EMAIL_DELIVERY_LIMIT + 1)).await?)
}
