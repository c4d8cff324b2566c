//! The firm's Team page: the list, bulk staff invites, configure and remove.

use super::invites::{self, PendingLine, Place, UpdatedInvite};
use super::{list_or, ActionError, Configured, InviteSettings, Outcome};
use crate::db::models::audit::{self, AuditAction, NewEvent};
use crate::db::models::invite::{self, NewInvite, NewInviteError, NewOffer};
use crate::db::models::invite_list::InviteCounts;
use crate::db::models::organization::OrgMembership;
use crate::db::models::sessions;
use crate::db::models::team::{self, Client, TeamList, TeamMember, TeamMemberRow};
use crate::db::models::{access, ending};
use crate::db::models::{lock_row, LockTable};
use crate::db::{Db, DbConnection};
use crate::domain::access::{self as rules, OrgAction, Refusal, StaffFacts, StaffLoss};
use crate::domain::listing::{Cursor, ListQuery};
use crate::domain::{EmailAddress, EndDate, InviteId, OrgId, OrgRole, UserId, WorkspaceId};

/// The Team page's rows, and what the viewer may do with each.
pub struct TeamPage {
    pub members: Vec<TeamMemberRow>,
    pub can_manage_member: Vec<bool>,
    pub invites: Vec<TeamInviteLine>,
    pub previous: Option<Cursor>,
    pub next: Option<Cursor>,
    /// Team members matching the search and role.
    pub active: i64,
    pub invite_counts: InviteCounts,
}

/// A pending team invite: what both pages show, and the firm role and clients it offers.
pub struct TeamInviteLine {
    pub pending: PendingLine,
    pub role: OrgRole,
    /// None: all clients.
    pub clients: Option<Vec<Client>>,
    pub new_clients: bool,
}

pub fn may_view_team(m: &OrgMembership) -> Result<(), Refusal> {
    if rules::org_may(m.role, OrgAction::ViewTeam) {
        Ok(())
    } else {
        Err(Refusal::FirmRole)
    }
}

pub async fn page(db: &Db, viewer: &OrgMembership, query: ListQuery) -> Outcome<TeamPage> {
    may_view_team(viewer)?;
    let org = viewer.org_id;
    let list = db.read(move |c| team::list(c, org, &query)).await?;
    let me = StaffFacts::new(viewer.role, [], false);
    let may = |role: OrgRole| rules::may_manage_staff(&me, role).is_ok();
    let TeamList { members, invites, previous, next, active, invite_counts } = list;
    let invites = invites
        .into_iter()
        .map(|i| {
            let can_manage = may(i.role);
            TeamInviteLine {
                role: i.role,
                clients: i.clients,
                new_clients: i.new_clients,
                pending: PendingLine {
                    id: i.id,
                    email: i.email,
                    invited_by: i.invited_by,
                    created_at: i.created_at,
                    expires_at: i.expires_at,
                    delivery: i.delivery,
                    reminder_sent: i.reminder_sent,
                    can_manage,
                    nonce: can_manage.then_some(i.nonce),
                },
            }
        })
        .collect();
    let can_manage_member = members.iter().map(|m| may(m.role)).collect();
    Ok(TeamPage { can_manage_member, members, invites, previous, next, active, invite_counts })
}

pub async fn clients(db: &Db, org: OrgId) -> Outcome<Vec<Client>> {
    Ok(db.read(move |c| team::clients_of(c, org)).await?)
}

/// What a staff invite or a Configure form gives: a role, clients and "New clients".
#[derive(Clone, Debug)]
pub struct StaffOffer {
    pub role: OrgRole,
    pub clients: Vec<WorkspaceId>,
    pub new_clients: bool,
    /// When a Member's client access ends by itself; None: no end date.
    pub ends: Option<EndDate>,
}

impl StaffOffer {
    /// The end date that applies: a Member's client access may end; Admins and Managers
    /// see every client for as long as they hold the role.
    pub fn client_access_ends(&self) -> Option<EndDate> {
        self.ends.filter(|_| !rules::sees_all_clients(self.role))
    }

    /// The place on the team this offer gives.
    pub fn facts(&self) -> StaffFacts {
        StaffFacts::new(self.role, self.clients.iter().copied(), self.new_clients)
    }
}

/// The actor's team membership under the lock, the offer checked against the firm's
/// clients, a description of it for the audit trail, and the firm's clients.
fn prepare(
    c: &mut DbConnection,
    actor: UserId,
    org: OrgId,
    offer: &StaffOffer,
) -> Outcome<(StaffFacts, String, Vec<Client>)> {
    lock_row(c, LockTable::Organization, org.0)?;
    let (_, me) = access::staff_facts(c, actor, org)?.ok_or(ActionError::NotFound)?;
    let all = team::clients_of(c, org)?;
    if offer.clients.iter().any(|w| !all.iter().any(|k| k.id == *w)) {
        return Err(ActionError::Invalid("One of the chosen clients is not one of your firm's clients."));
    }
    let facts = offer.facts();
    let words = match facts.clients.chosen() {
        None => format!("{}, all clients", offer.role.label()),
        Some(set) => {
            let names: Vec<String> = all.iter().filter(|k| set.contains(&k.id)).map(|k| k.name.clone()).collect();
            let extra = if facts.new_clients { ", new clients" } else { "" };
            format!("{}, {}{extra}", offer.role.label(), list_or(&names, "no clients"))
        }
    };
    Ok((me, words, all))
}

/// What happened to one address of a bulk invite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Invited,
    AlreadyMember,
    AlreadyInvited,
}

/// Invites each address onto the team, in one transaction: one invite and one email each.
pub async fn invite(
    db: &Db,
    actor: UserId,
    org: OrgId,
    emails: Vec<EmailAddress>,
    offer: StaffOffer,
    s: InviteSettings,
) -> Outcome<Vec<Sent>> {
    db.transaction(move |c| {
        let (me, words, _) = prepare(c, actor, org, &offer)?;
        let facts = offer.facts();
        rules::may_invite_staff(&me, &facts)?;
        rules::staff_grants_something(&facts)?;
        let clients: Vec<WorkspaceId> = facts.clients.chosen().map(|s| s.iter().copied().collect()).unwrap_or_default();
        let mut out = Vec::with_capacity(emails.len());
        for email in &emails {
            let new = NewInvite {
                org,
                workspace: None,
                email,
                role: offer.role.as_str(),
                entities: &[],
                all_entities: false,
                clients: &clients,
                new_clients: facts.new_clients,
                inviter: actor,
                access_ends: offer.client_access_ends(),
                ttl: s.ttl,
                key: &s.key,
                detail: format!("as {words}{}", super::members::until_words(offer.client_access_ends())),
            };
            out.push(match invite::create(c, new) {
                Ok(_) => Sent::Invited,
                Err(NewInviteError::AlreadyMember | NewInviteError::FirmStaff) => Sent::AlreadyMember,
                Err(NewInviteError::AlreadyInvited(_)) => Sent::AlreadyInvited,
                Err(NewInviteError::Db(e)) => return Err(e.into()),
            });
        }
        let sent = out.iter().filter(|s| **s == Sent::Invited).count();
        s.limits.take(c, actor, org, u32::try_from(sent).unwrap_or(u32::MAX))?;
        Ok(out)
    })
    .await
}

/// "Edit invite": the pending team invite `id` offers `offer` from now on. The actor must be
/// allowed to manage the invite as it is and to invite staff with the new access; its link
/// and expiry stay, and nothing is emailed.
pub async fn update_invite(
    db: &Db,
    actor: UserId,
    org: OrgId,
    id: InviteId,
    offer: StaffOffer,
) -> Outcome<UpdatedInvite> {
    db.transaction(move |c| {
        let (me, words, all) = prepare(c, actor, org, &offer)?;
        let inv = invites::manageable(c, actor, Place::Team(org), id)?;
        let facts = offer.facts();
        // The new access, by the rules of sending an invite.
        rules::may_invite_staff(&me, &facts)?;
        rules::staff_grants_something(&facts)?;
        let clients: Vec<WorkspaceId> = facts.clients.chosen().map(|s| s.iter().copied().collect()).unwrap_or_default();
        let new = NewOffer {
            role: offer.role.as_str(),
            all_entities: false,
            entities: &[],
            clients: &clients,
            new_clients: facts.new_clients,
            detail: format!("as {words}"),
        };
        invite::set_offer(c, &inv, actor, new)?;
        let grants = grant_words(&facts, &all);
        Ok(UpdatedInvite { email: inv.email, grants })
    })
    .await
}

/// What a staff offer grants, for a message: "Member · Acme Bakery, New clients",
/// "Manager · All clients".
fn grant_words(facts: &StaffFacts, all: &[Client]) -> String {
    let access = match facts.clients.chosen() {
        None => "All clients".to_string(),
        Some(set) => {
            let mut names: Vec<String> = all.iter().filter(|k| set.contains(&k.id)).map(|k| k.name.clone()).collect();
            if facts.new_clients {
                names.push("New clients".into());
            }
            list_or(&names, "No clients")
        }
    };
    format!("{} · {access}", facts.role.label())
}

/// The pending team invites to these addresses (for "Update invite" and "Resend invite"
/// next to an address that already has one), as address and id.
pub async fn pending_invites_to(db: &Db, org: OrgId, emails: Vec<String>) -> Outcome<Vec<(String, InviteId)>> {
    let found = db.read(move |c| invite::pending_to(c, org, None, &emails)).await?;
    Ok(found.into_iter().map(|i| (i.email.clone(), i.invite_id())).collect())
}

/// The team member named in a Configure or Remove link, if the actor may manage them.
pub async fn target(db: &Db, actor: &OrgMembership, user: UserId) -> Outcome<TeamMember> {
    may_view_team(actor)?;
    let (org, me) = (actor.org_id, StaffFacts::new(actor.role, [], false));
    db.read_with(move |c| {
        let t = team::find(c, org, user)?.ok_or(ActionError::NotFound)?;
        rules::may_manage_staff(&me, t.role)?;
        Ok(t)
    })
    .await
}

/// What removing a team member ends, for the confirmation page (the clients they reach by
/// name, their workspace roles, the invites to them that will be cancelled) and the
/// invites they sent, which stay.
pub struct RemovalPreview {
    pub member: TeamMember,
    /// None: every client (an Admin or Manager); else the clients chosen for them.
    pub clients: Option<Vec<String>>,
    pub offboarding: team::Offboarding,
}

pub async fn removal_preview(db: &Db, actor: &OrgMembership, user: UserId) -> Outcome<RemovalPreview> {
    let member = target(db, actor, user).await?;
    let org = actor.org_id;
    db.read_with(move |c| {
        let offboarding = team::offboarding(c, org, &member)?;
        let clients = if rules::sees_all_clients(member.role) {
            None
        } else {
            let all = team::clients_of(c, org)?;
            Some(all.into_iter().filter(|k| member.clients.contains(&k.id)).map(|k| k.name).collect())
        };
        Ok(RemovalPreview { member, clients, offboarding })
    })
    .await
}

/// Sets a team member's role, clients and "New clients"; takes effect on their next request.
/// Someone changing their own access is told first what they would lose (nothing is saved)
/// unless `confirmed`.
pub async fn configure(
    db: &Db,
    actor: UserId,
    org: OrgId,
    target: UserId,
    offer: StaffOffer,
    confirmed: bool,
) -> Outcome<Configured> {
    db.transaction(move |c| {
        let (me, words, all) = prepare(c, actor, org, &offer)?;
        let t = team::find(c, org, target)?.ok_or(ActionError::NotFound)?;
        let facts = offer.facts();
        rules::may_configure_staff(&me, t.role, &facts)?;
        rules::keeps_a_firm_admin(admins(c, org)?, t.role, Some(offer.role))?;
        rules::staff_grants_something(&facts)?;
        let before = StaffFacts::new(t.role, t.clients.iter().copied(), t.new_clients);
        if actor == target && !confirmed {
            let ids: Vec<WorkspaceId> = all.iter().map(|k| k.id).collect();
            let lost = rules::staff_losses(&before, &facts, &ids);
            if !lost.is_empty() {
                return Ok(Configured::WouldLose(lost.iter().map(|l| staff_loss_words(*l, &all)).collect()));
            }
        }
        let chosen: Vec<WorkspaceId> = facts.clients.chosen().map(|s| s.iter().copied().collect()).unwrap_or_default();
        team::set_access(c, t.membership_id, offer.role, &chosen, facts.new_clients)?;
        ending::set_client_access_end(c, org, target, offer.client_access_ends())?;
        // Their own role in the clients they lose as staff goes with the access; a workspace
        // they joined as a client user (a row in a client they were never given) stays.
        let lost: Vec<WorkspaceId> = all
            .into_iter()
            .map(|k| k.id)
            .filter(|w| before.clients.contains(*w) && !facts.clients.contains(*w))
            .collect();
        team::drop_workspace_roles(c, org, target, Some(&lost))?;
        let until = super::members::until_words(offer.client_access_ends());
        record(c, org, actor, AuditAction::ChangedPermissions, &t.email, format!("{words}{until}"))?;
        Ok(Configured::Saved)
    })
    .await
}

/// One thing someone would lose in the firm, in words for the Configure form.
fn staff_loss_words(lost: StaffLoss, clients: &[Client]) -> String {
    match lost {
        StaffLoss::GiveAdmin => "inviting and managing Admins".into(),
        StaffLoss::Action(OrgAction::ViewTeam) => "the Team page".into(),
        StaffLoss::Action(OrgAction::InviteStaff) => "inviting and managing Managers and Members".into(),
        StaffLoss::Action(OrgAction::AddClient) => "adding and deleting clients".into(),
        StaffLoss::Action(OrgAction::ManageBilling) => "billing".into(),
        StaffLoss::Action(OrgAction::RequireTwoFactor) => "requiring two-factor authentication for the firm".into(),
        StaffLoss::Action(OrgAction::AddEntity) => "adding entities".into(),
        StaffLoss::Action(OrgAction::ViewEmailDelivery) => "the Email delivery page".into(),
        StaffLoss::Action(OrgAction::ViewAccessReport) => "the firm's access report".into(),
        StaffLoss::ClientAdmin => "being an Admin of every client's workspace".into(),
        StaffLoss::AllClientsBut { none_kept: false } => "every client except the ones ticked".into(),
        StaffLoss::AllClientsBut { none_kept: true } => "every current client".into(),
        StaffLoss::Client(id) => {
            clients.iter().find(|k| k.id == id).map_or_else(|| "a client".into(), |k| k.name.clone())
        }
        StaffLoss::LaterClients => "clients added from now on".into(),
    }
}

fn admins(c: &mut DbConnection, org: OrgId) -> Outcome<usize> {
    Ok(usize::try_from(team::count_admins(c, org)?).unwrap_or(0))
}

/// Removes a team member from the firm: all access to its clients ends on their next
/// request. Returns their name (or email).
pub async fn remove(db: &Db, actor: UserId, org: OrgId, target: UserId) -> Outcome<String> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Organization, org.0)?;
        let (_, me) = access::staff_facts(c, actor, org)?.ok_or(ActionError::NotFound)?;
        let t = team::find(c, org, target)?.ok_or(ActionError::NotFound)?;
        rules::may_manage_staff(&me, t.role)?;
        rules::keeps_a_firm_admin(admins(c, org)?, t.role, None)?;
        team::remove_member(c, org, &t)?;
        // No way back in through an invite still on its way, to the team or to a client.
        invite::cancel_all_to(c, org, None, &t.email, actor, "they were removed from the team")?;
        // Removed by someone else, and on no firm's team and in no workspace any more: their
        // sessions end now. (Someone leaving stays signed in, to read that they left.)
        if actor != target {
            sessions::end_all_if_nowhere(c, target)?;
        }
        record(c, org, actor, AuditAction::Removed, &t.email, String::new())?;
        Ok(if t.name.is_empty() { t.email } else { t.name })
    })
    .await
}

fn record(
    c: &mut DbConnection,
    org: OrgId,
    actor: UserId,
    action: AuditAction,
    target: &str,
    detail: String,
) -> Outcome<()> {
    audit::record(c, NewEvent { org, workspace: None, actor: Some(actor), action, target, detail })?;
    Ok(())
}
