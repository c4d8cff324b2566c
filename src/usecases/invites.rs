//! One invite lifecycle for both kinds of invite (into a client's workspace, or onto the
//! firm's team): resend, copy link, cancel, the firm-wide pending list with its bulk
//! actions, and accepting (signed in, or creating the account on the invite page).

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::team::StaffOffer;
use super::{ActionError, InviteSettings, Outcome};
use crate::db::models::access;
use crate::db::models::invite::{self, AcceptError, Accepted, Invite, InviteDetails, ResendError};
use crate::db::models::invite_list::{self, InviteCounts, InviteList};
use crate::db::models::outbox::{self, Delivery};
use crate::db::models::team::{self, Client};
use crate::db::models::user::{self, User};
use crate::db::models::{limits, lock_row, members, LockTable};
use crate::db::{Db, DbConnection};
use crate::domain::access::{self as rules, SeatFacts, StaffFacts, Standing};
use crate::domain::limits::Limit;
use crate::domain::listing::{page_of, ListQuery, Page};
use crate::domain::token::{InviteKey, InviteProof, InviteToken};
use crate::domain::{EmailAddress, EntityId, InviteId, Name, OrgId, OrgRole, UserId, WorkspaceId, WorkspaceRole};

/// What the Members and Team pages alike show of a pending invite, for one viewer.
pub struct PendingLine {
    pub id: InviteId,
    pub email: String,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub delivery: Delivery,
    /// Its one reminder before it expires went out.
    pub reminder_sent: bool,
    /// May the viewer resend, copy or cancel it?
    pub can_manage: bool,
    /// Lets the server derive the link again ("Copy invite link"): only for those who may.
    pub nonce: Option<String>,
}

/// Where an invite leads, and so whose page manages it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Workspace(WorkspaceId),
    Team(OrgId),
}

/// The pending invite `id` of `place`, if `actor` may resend, copy or cancel it; another
/// place's invite (or another firm's) is not found.
pub(super) fn manageable(c: &mut DbConnection, actor: UserId, place: Place, id: InviteId) -> Outcome<Invite> {
    let inv = invite::find_by_id(c, id)?.filter(|i| i.state == invite::PENDING).ok_or(ActionError::NotFound)?;
    match (place, inv.workspace_id) {
        (Place::Workspace(ws), Some(w)) if w == ws.0 => {
            let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
            rules::may_manage_invite(&me.standing, &offer_of(c, &inv)?)?;
        }
        (Place::Team(org), None) if inv.organization_id == org.0 => {
            let (_, me) = access::staff_facts(c, actor, org)?.ok_or(ActionError::NotFound)?;
            let role = OrgRole::parse(&inv.role).ok_or(ActionError::NotFound)?;
            rules::may_manage_staff(&me, role)?;
        }
        _ => return Err(ActionError::NotFound),
    }
    Ok(inv)
}

fn offer_of(c: &mut DbConnection, inv: &Invite) -> Outcome<SeatFacts> {
    let role = WorkspaceRole::parse(&inv.role).ok_or(ActionError::NotFound)?;
    let entities: Vec<EntityId> = invite::entity_ids_of(c, &[inv.id])?.into_iter().map(|(_, e)| EntityId(e)).collect();
    Ok(SeatFacts::with(role, invite::offered_entities(inv, Some(entities))))
}

/// The invite behind a ⋯ action, for its page (Copy invite link, Cancel invite).
pub async fn find(db: &Db, actor: UserId, place: Place, id: InviteId) -> Outcome<Invite> {
    db.read_with(move |c| manageable(c, actor, place, id)).await
}

/// What a pending invite offers now, for its "Edit invite" form.
pub enum Offered {
    Workspace(SeatFacts),
    Team(StaffOffer),
}

/// A pending invite the actor may edit: its address and what it offers.
pub struct EditableInvite {
    pub id: InviteId,
    pub email: String,
    pub offer: Offered,
}

/// The invite behind "Edit invite", with what it offers, if `actor` may manage it.
pub async fn editable(db: &Db, actor: UserId, place: Place, id: InviteId) -> Outcome<EditableInvite> {
    db.read_with(move |c| {
        let inv = manageable(c, actor, place, id)?;
        let offer = match inv.workspace_id {
            Some(_) => Offered::Workspace(offer_of(c, &inv)?),
            None => Offered::Team(StaffOffer {
                role: OrgRole::parse(&inv.role).ok_or(ActionError::NotFound)?,
                clients: invite::client_ids_of(c, &[inv.id])?.into_iter().map(|(_, w)| WorkspaceId(w)).collect(),
                new_clients: inv.new_clients,
                ends: inv.access_ends_at.map(crate::domain::EndDate::of),
            }),
        };
        Ok(EditableInvite { id: inv.invite_id(), email: inv.email, offer })
    })
    .await
}

/// What "Edit invite" did: to which address, and what the invite now grants in words
/// ("Accountant · Acme LLC").
pub struct UpdatedInvite {
    pub email: String,
    pub grants: String,
}

/// What "Renew and copy link" did: the address, and until when the link now works.
pub struct Renewed {
    pub email: String,
    pub until: NaiveDateTime,
}

/// Gives the invite a fresh expiry (the configured time from now) without emailing it, so
/// that its link can be handed out by other means. The link itself stays the same.
pub async fn renew(db: &Db, actor: UserId, place: Place, id: InviteId, ttl: chrono::Duration) -> Outcome<Renewed> {
    db.transaction(move |c| {
        lock(c, place)?;
        let inv = manageable(c, actor, place, id)?;
        let until = invite::renew(c, &inv, actor, ttl)?;
        Ok(Renewed { email: inv.email, until })
    })
    .await
}

/// What Resend did, to which address.
pub enum Resent {
    Sent(String),
    /// Its email went out less than a minute ago: nothing was sent.
    TooSoon(String),
}

/// Sends the invite's email again and renews its expiry, at most once a minute.
pub async fn resend(db: &Db, actor: UserId, place: Place, id: InviteId, s: InviteSettings) -> Outcome<Resent> {
    db.transaction(move |c| {
        lock(c, place)?;
        let inv = manageable(c, actor, place, id)?;
        if !resend_one(c, &inv, actor, &s)? {
            return Ok(Resent::TooSoon(inv.email));
        }
        s.limits.take(c, actor, OrgId(inv.organization_id), 1)?;
        Ok(Resent::Sent(inv.email))
    })
    .await
}

/// True when the email was queued again; false when it went out less than a minute ago.
fn resend_one(c: &mut DbConnection, inv: &Invite, actor: UserId, s: &InviteSettings) -> Outcome<bool> {
    match invite::resend(c, inv, actor, s.ttl) {
        Ok(()) => Ok(true),
        Err(ResendError::TooSoon) => Ok(false),
        Err(ResendError::Db(e)) => Err(e.into()),
    }
}

/// Makes the invite's link stop working. Returns the address.
pub async fn cancel(db: &Db, actor: UserId, place: Place, id: InviteId) -> Outcome<String> {
    db.transaction(move |c| {
        lock(c, place)?;
        let inv = manageable(c, actor, place, id)?;
        invite::cancel(c, &inv, actor)?;
        Ok(inv.email)
    })
    .await
}

pub(super) fn lock(c: &mut DbConnection, place: Place) -> Outcome<()> {
    match place {
        Place::Workspace(ws) => lock_row(c, LockTable::Workspace, ws.0)?,
        Place::Team(org) => lock_row(c, LockTable::Organization, org.0)?,
    }
    Ok(())
}

/// One pending invite on the firm-wide list.
pub struct FirmInvite {
    pub id: InviteId,
    pub email: String,
    /// None: an invite onto the team.
    pub client: Option<Client>,
    pub role: &'static str,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub delivery: Delivery,
    pub reminder_sent: bool,
}

/// One page of the firm's pending invites that `viewer` may manage (team invites by their
/// firm role, client invites by their standing in that client), and how many of each status
/// there are.
pub struct FirmInvites {
    pub page: Page<FirmInvite>,
    pub counts: InviteCounts,
}

pub async fn pending_in_firm(db: &Db, viewer: UserId, org: OrgId, query: ListQuery) -> Outcome<FirmInvites> {
    db.read_with(move |c| {
        let Some((_, staff)) = access::staff_facts(c, viewer, org)? else {
            return Err(ActionError::NotFound);
        };
        let team_roles = OrgRole::ALL
            .into_iter()
            .filter(|r| rules::may_manage_staff(&staff, *r).is_ok())
            .map(|r| r.as_str().to_string())
            .collect();
        let clients = staff.clients.chosen().map(|set| set.iter().map(|w| w.0).collect());
        let list = InviteList::Firm { org, team_roles, clients };
        let page = page_of(&[0], &query.direction, |_, bound, n| invite_list::section(c, &list, &query, 0, bound, n))?;
        let counts = invite_list::counts(c, &list, &query)?;
        let Page { rows, previous, next } = page;
        let rows = firm_invites(c, viewer, org, Some(staff), rows)?;
        Ok(FirmInvites { page: Page { rows, previous, next }, counts })
    })
    .await
}

/// The rows of the firm-wide list, of the invites `viewer` may manage among `invites`: a
/// fixed number of queries whatever their number.
fn firm_invites(
    c: &mut DbConnection,
    viewer: UserId,
    org: OrgId,
    staff: Option<StaffFacts>,
    invites: Vec<Invite>,
) -> Outcome<Vec<FirmInvite>> {
    let picked = manageable_in_firm(c, viewer, org, staff, invites)?;
    let ids: Vec<i64> = picked.iter().map(|i| i.id).collect();
    let delivery = outbox::delivery_for(c, &ids)?;
    let workspaces: Vec<WorkspaceId> = picked.iter().filter_map(|i| i.workspace_id).map(WorkspaceId).collect();
    let clients: HashMap<i64, Client> =
        team::clients_named(c, org, &workspaces)?.into_iter().map(|k| (k.id.0, k)).collect();
    let inviters: Vec<UserId> = picked.iter().map(|i| UserId(i.invited_by)).collect();
    let who = members::people(c, &inviters)?;
    Ok(picked
        .into_iter()
        .map(|i| FirmInvite {
            id: i.invite_id(),
            client: i.workspace_id.and_then(|w| clients.get(&w).cloned()),
            role: role_label(&i),
            invited_by: who.get(&UserId(i.invited_by)).map(|p| p.0.clone()).unwrap_or_default(),
            delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
            created_at: i.created_at,
            expires_at: i.expires_at,
            reminder_sent: i.reminder_sent_at.is_some(),
            email: i.email,
        })
        .collect())
}

fn role_label(i: &Invite) -> &'static str {
    match i.workspace_id {
        Some(_) => WorkspaceRole::parse(&i.role).map_or("", |r| r.label()),
        None => OrgRole::parse(&i.role).map_or("", |r| r.label()),
    }
}

/// Those of `invites` (pending, of firm `org`) that `viewer` (on the team as `staff`) may
/// manage: team invites by their firm role, client invites by their standing in that client.
fn manageable_in_firm(
    c: &mut DbConnection,
    viewer: UserId,
    org: OrgId,
    staff: Option<StaffFacts>,
    invites: Vec<Invite>,
) -> Outcome<Vec<Invite>> {
    let places: Vec<WorkspaceId> = invites.iter().filter_map(|i| i.workspace_id).map(WorkspaceId).collect();
    let standings: HashMap<WorkspaceId, Standing> =
        access::standings_in_firm(c, viewer, org, staff.clone(), Some(&places))?;
    let ids: Vec<i64> = invites.iter().filter(|i| i.workspace_id.is_some()).map(|i| i.id).collect();
    let mut offered: HashMap<i64, Vec<EntityId>> = HashMap::new();
    for (i, e) in invite::entity_ids_of(c, &ids)? {
        offered.entry(i).or_default().push(EntityId(e));
    }
    Ok(invites
        .into_iter()
        .filter(|i| match i.workspace_id {
            None => match (&staff, OrgRole::parse(&i.role)) {
                (Some(me), Some(role)) => rules::may_manage_staff(me, role).is_ok(),
                _ => false,
            },
            Some(ws) => match (standings.get(&WorkspaceId(ws)), WorkspaceRole::parse(&i.role)) {
                (Some(me), Some(role)) => {
                    let offer = SeatFacts::with(role, invite::offered_entities(i, offered.get(&i.id).cloned()));
                    rules::may_manage_invite(me, &offer).is_ok()
                }
                _ => false,
            },
        })
        .collect())
}

/// The pending invites behind a bulk action's selection, for its confirmation page. Any id
/// the viewer may not manage makes the whole selection not found, as the action would.
pub async fn selected_in_firm(db: &Db, viewer: UserId, org: OrgId, ids: Vec<InviteId>) -> Outcome<Vec<FirmInvite>> {
    db.read_with(move |c| {
        let staff = access::staff_facts(c, viewer, org)?.map(|(_, s)| s);
        let picked = selection(c, viewer, org, staff.clone(), &ids)?;
        firm_invites(c, viewer, org, staff, picked)
    })
    .await
}

/// The invites of a bulk selection, each one the viewer may manage; else not found.
fn selection(
    c: &mut DbConnection,
    viewer: UserId,
    org: OrgId,
    staff: Option<StaffFacts>,
    ids: &[InviteId],
) -> Outcome<Vec<Invite>> {
    let mut unique = ids.to_vec();
    unique.sort_by_key(|i| i.0);
    unique.dedup();
    let found = invite_list::pending_among(c, org, &unique)?;
    let allowed = manageable_in_firm(c, viewer, org, staff, found)?;
    if allowed.len() != unique.len() {
        return Err(ActionError::NotFound);
    }
    Ok(allowed)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Resend,
    Cancel,
}

/// What a bulk action did: how many it changed, and how many were sent too recently to resend.
pub struct BulkDone {
    pub done: usize,
    pub too_soon: usize,
    /// The addresses of the invites it changed.
    pub emails: Vec<String>,
}

/// Resends or cancels several pending invites at once. Any id the viewer may not manage
/// (another firm's, or beyond their reach) makes the whole request not found.
pub async fn bulk(
    db: &Db,
    viewer: UserId,
    org: OrgId,
    ids: Vec<InviteId>,
    action: Bulk,
    s: InviteSettings,
) -> Outcome<BulkDone> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Organization, org.0)?;
        let staff = access::staff_facts(c, viewer, org)?.map(|(_, s)| s);
        let picked = selection(c, viewer, org, staff, &ids)?;
        let mut out = BulkDone { done: 0, too_soon: 0, emails: Vec::new() };
        for inv in &picked {
            match action {
                Bulk::Cancel => invite::cancel(c, inv, viewer)?,
                Bulk::Resend if !resend_one(c, inv, viewer, &s)? => {
                    out.too_soon += 1;
                    continue;
                }
                Bulk::Resend => {}
            }
            out.done += 1;
            out.emails.push(inv.email.clone());
        }
        if action == Bulk::Resend {
            s.limits.take(c, viewer, org, u32::try_from(out.done).unwrap_or(u32::MAX))?;
        }
        Ok(out)
    })
    .await
}

// ---- the invite link ------------------------------------------------------------------

/// What an invite link finds.
pub enum Lookup {
    Pending(Box<InviteDetails>),
    Unknown,
    Cancelled,
    /// Past its expiry; `renewable`: whoever holds the link may ask for a new one (sent to
    /// the invited address). Not when the access it gives has already reached its end date.
    Expired {
        renewable: bool,
    },
    /// Used: by `accepted_by`, and it leads to `leads_to`.
    Used {
        accepted_by: Option<UserId>,
        leads_to: Accepted,
    },
}

pub async fn look_up(db: &Db, token: InviteToken) -> Outcome<Lookup> {
    db.read_with(move |c| {
        let Some(inv) = invite::find_by_token(c, &token)? else {
            return Ok(Lookup::Unknown);
        };
        let leads_to = invite::leads_to(&inv);
        Ok(match inv.state.as_str() {
            invite::CANCELLED => Lookup::Cancelled,
            invite::ACCEPTED => Lookup::Used { accepted_by: inv.accepted_by.map(UserId), leads_to },
            _ if inv.is_expired(crate::db::models::now()) => Lookup::Expired { renewable: renewable(&inv) },
            _ => Lookup::Pending(Box::new(invite::details(c, inv)?)),
        })
    })
    .await
}

/// What came with an invite link: the proof of its email (`?proof=…`, which "Copy invite
/// link" never shows), if any, and the key to check it with.
#[derive(Clone)]
pub struct LinkProof {
    pub key: InviteKey,
    pub proof: Option<InviteProof>,
}

impl LinkProof {
    /// Whether the link came from the email of the invite with `nonce`: only then does it
    /// prove that whoever holds it owns the invited address.
    pub fn emailed(&self, nonce: &str) -> bool {
        self.key.proves(nonce, self.proof.as_ref())
    }
}

/// Accepts an invite as a signed-in user: exactly once, only for the invited address. A
/// confirmed account accepts with any link to the invite; an unconfirmed one only with the
/// link from the email, which confirms its address (a copied link proves nothing).
pub async fn accept(db: &Db, token: InviteToken, user: User, proof: LinkProof) -> Outcome<Accepted> {
    db.transaction(move |c| {
        let inv = invite::acceptable(c, &token, &user.email, Some(user.id)).map_err(ended)?;
        let user = user::find(c, user.user_id())?.ok_or(ActionError::NotFound)?;
        let emailed = proof.emailed(&inv.token_nonce);
        if !user.is_verified() && !emailed {
            return Err(ActionError::Unconfirmed);
        }
        let to = invite::accept(c, &token, &user).map_err(ended)?;
        if emailed {
            user::mark_verified(c, user.user_id(), crate::db::models::now())?;
        }
        Ok(to)
    })
    .await
}

fn ended(e: AcceptError) -> ActionError {
    match e {
        AcceptError::Db(e) => e.into(),
        other => ActionError::InviteEnded(other),
    }
}

/// What creating the account on the invite page did.
#[derive(Debug)]
pub enum Joined {
    /// The link came from the email: the address is proved, the invite accepted.
    Accepted(UserId, Accepted),
    /// A link without its email's proof (a copied one): a new account, unconfirmed, and a
    /// confirmation email to the address (returned); the invite waits, still pending, until
    /// the account confirms the address and accepts it.
    ConfirmFirst(UserId, String),
}

/// Creates the invited person's account (email fixed to the invited address), in one
/// transaction: a refused invite creates no account. From the emailed link the account is
/// verified and the invite accepted, and an unverified account of that address is taken
/// over (see `identity`); from any other link the account starts unconfirmed, an existing
/// account of that address is never touched, and the invite waits.
pub async fn create_account_and_accept(
    db: &Db,
    token: InviteToken,
    email: EmailAddress,
    name: Name,
    password_hash: String,
    proof: LinkProof,
) -> Outcome<Joined> {
    db.transaction(move |c| {
        // Checked first, so that a refused invite creates no account.
        let inv = invite::acceptable(c, &token, email.as_str(), None).map_err(ended)?;
        if !proof.emailed(&inv.token_nonce) {
            let uid = super::identity::create_unconfirmed(c, &email, &name, &password_hash, &proof.key)?;
            return Ok(Joined::ConfirmFirst(uid, email.as_str().to_string()));
        }
        let uid = super::identity::claim_address(c, &email, &name, &password_hash)?;
        let new_user = user::find(c, uid)?.ok_or(ActionError::NotFound)?;
        Ok(Joined::Accepted(uid, invite::accept(c, &token, &new_user).map_err(ended)?))
    })
    .await
}

/// The newest pending invite to a confirmed `email`, as its link's nonce: where "Confirm
/// email" leads back to.
pub async fn waiting_for(db: &Db, email: String) -> Outcome<Option<String>> {
    db.read(move |c| invite::newest_pending_to(c, &email, crate::db::models::now())).await.map_err(Into::into)
}

/// An expired invite whose holder may ask for a new link: still pending, and the access it
/// gives has no end date that has come.
fn renewable(inv: &Invite) -> bool {
    let now = crate::db::models::now();
    inv.state == invite::PENDING && inv.expires_at <= now && inv.access_ends_at.is_none_or(|end| end > now)
}

/// "Send me a new link": a few an hour from one network (each request needs a different
/// expired link: asking replaces the link it was asked with).
pub const NEW_LINK_PER_ADDRESS: Limit = Limit {
    scope: "new-link/address",
    max: 10,
    window: chrono::Duration::hours(1),
    what: "new invite links from your network",
};

/// "Send me a new link" on an expired invite link: a new link and expiry, emailed to the
/// invited address only (the one who asks may hold someone else's link). Returns that
/// address masked ("b•••@client.test"), for the page that says where it went.
pub async fn request_new_link(db: &Db, token: InviteToken, client: String, s: InviteSettings) -> Outcome<String> {
    db.transaction(move |c| {
        let inv = invite::find_by_token(c, &token)?.ok_or(ActionError::NotFound)?;
        if !renewable(&inv) {
            return Err(ActionError::NotFound);
        }
        let now = crate::db::models::now();
        limits::take(c, &NEW_LINK_PER_ADDRESS, &client, 1, now)?.map_err(ActionError::Limited)?;
        if !invite::renew_on_request(c, &inv, &s.key, s.ttl)? {
            return Err(ActionError::NotFound);
        }
        Ok(mask_email(&inv.email))
    })
    .await
}

/// "b•••@client.test": enough for the invited person to recognise, little for anyone else.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}\u{2022}\u{2022}\u{2022}@{domain}")
        }
        None => "\u{2022}\u{2022}\u{2022}".into(),
    }
}
