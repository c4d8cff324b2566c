//! roles.md as code: the one place that decides who may do what.
//!
//! Everything here is pure. The data layer loads the facts (a person's place on a firm's
//! team, their row in a client's workspace); these functions answer from them: who can
//! open a workspace and as what, who may invite whom with which role and access, configure,
//! remove, resend, copy or cancel, and what one person may see of another's access. The use
//! cases ask, and enforce the answer inside the transaction that makes the change.

use std::collections::BTreeSet;

use super::{EntityId, OrgRole, WorkspaceId, WorkspaceRole};

/// Which things of one kind (entities of a workspace, clients of a firm) someone holds:
/// all of them, current and future, or the chosen ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access<T: Ord> {
    All,
    Only(BTreeSet<T>),
}

impl<T: Ord + Copy> Access<T> {
    pub fn only(items: impl IntoIterator<Item = T>) -> Access<T> {
        Access::Only(items.into_iter().collect())
    }

    pub fn none() -> Access<T> {
        Access::Only(BTreeSet::new())
    }

    pub fn contains(&self, item: T) -> bool {
        match self {
            Access::All => true,
            Access::Only(set) => set.contains(&item),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Access::All)
    }

    /// Nothing at all: no item chosen (and not "all").
    pub fn is_empty(&self) -> bool {
        matches!(self, Access::Only(set) if set.is_empty())
    }

    /// Everything `other` holds is held here too.
    pub fn covers(&self, other: &Access<T>) -> bool {
        match (self, other) {
            (Access::All, _) => true,
            (Access::Only(_), Access::All) => false,
            (Access::Only(mine), Access::Only(theirs)) => theirs.is_subset(mine),
        }
    }

    /// The chosen items (None for "all").
    pub fn chosen(&self) -> Option<&BTreeSet<T>> {
        match self {
            Access::All => None,
            Access::Only(set) => Some(set),
        }
    }
}

/// A person's place on the team of the firm that owns a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffFacts {
    pub role: OrgRole,
    /// The clients they reach: `All` for Admins and Managers.
    pub clients: Access<WorkspaceId>,
    /// Members only: every client added from now on is theirs too.
    pub new_clients: bool,
}

/// Firm Admins and Managers see every client of the firm, current and future.
pub fn sees_all_clients(role: OrgRole) -> bool {
    matches!(role, OrgRole::Admin | OrgRole::Manager)
}

impl StaffFacts {
    pub fn new(role: OrgRole, granted: impl IntoIterator<Item = WorkspaceId>, new_clients: bool) -> StaffFacts {
        if sees_all_clients(role) {
            StaffFacts { role, clients: Access::All, new_clients: false }
        } else {
            StaffFacts { role, clients: Access::only(granted), new_clients }
        }
    }
}

/// A row of a client's workspace: the role and entities it gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatFacts {
    pub role: WorkspaceRole,
    pub entities: Access<EntityId>,
}

impl SeatFacts {
    /// A role and chosen entities (Admins hold all, whatever was chosen).
    pub fn new(role: WorkspaceRole, granted: impl IntoIterator<Item = EntityId>) -> SeatFacts {
        SeatFacts::with(role, Access::only(granted))
    }

    pub fn with(role: WorkspaceRole, entities: Access<EntityId>) -> SeatFacts {
        SeatFacts { role, entities: if role == WorkspaceRole::Admin { Access::All } else { entities } }
    }
}

/// What the database says about one person and one workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonFacts {
    /// On the team of the firm that owns the workspace.
    pub staff: Option<StaffFacts>,
    /// Their own row in the workspace (a client user, or a firm Member's own role there).
    pub seat: Option<SeatFacts>,
}

/// How someone is in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of the client's people (invited into the workspace).
    Client,
    /// A firm Admin or Manager: an Admin of every client, always; managed on the Team page.
    FirmLead(OrgRole),
    /// A firm Member working in a client chosen for them, with a workspace role of their own.
    FirmMember,
}

/// A person's effective standing in one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub role: WorkspaceRole,
    pub entities: Access<EntityId>,
    pub kind: Kind,
}

/// The role a firm Member starts with in a client chosen for them, until a workspace Admin
/// gives them another: they do the accounting of all its books.
pub const FIRM_MEMBER_DEFAULT: WorkspaceRole = WorkspaceRole::Accountant;

/// Who can open workspace `ws`, and as what. None: they cannot (the page is "not found").
/// Firm staff reach a client only through their client access: a row of their own in a
/// client they were not given (say, from before they joined the team) opens nothing.
pub fn standing(ws: WorkspaceId, facts: &PersonFacts) -> Option<Standing> {
    match (&facts.staff, &facts.seat) {
        (Some(staff), _) if sees_all_clients(staff.role) => {
            Some(Standing { role: WorkspaceRole::Admin, entities: Access::All, kind: Kind::FirmLead(staff.role) })
        }
        (Some(staff), seat) if staff.clients.contains(ws) => Some(match seat {
            Some(s) => Standing { role: s.role, entities: s.entities.clone(), kind: Kind::FirmMember },
            None => Standing { role: FIRM_MEMBER_DEFAULT, entities: Access::All, kind: Kind::FirmMember },
        }),
        // Firm staff reach a client only through their client access: a row of their own in
        // a client they were not given (say, from before they joined the team) opens nothing.
        (Some(_), _) => None,
        (None, Some(s)) => Some(Standing { role: s.role, entities: s.entities.clone(), kind: Kind::Client }),
        (None, None) => None,
    }
}

/// Why a rule said no. Each says, in words for the page, what the person can do instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The role does not allow it at all (no Members page, no invites).
    Role,
    AdminOnly,
    AboveOwnEntities,
    /// A firm Admin or Manager in a client's workspace: only the Team page changes that.
    FirmLead,
    /// A firm Member's client access is given and taken on the Team page.
    FirmMemberAccess,
    /// The person holds entities the actor cannot see: only their entities within reach may change.
    HiddenEntities,
    /// An invite that names entities the actor cannot see.
    InviteBeyondReach,
    /// The person holds every entity, current and future: only someone who does too may change them.
    HoldsAll,
    FirmAdminOnly,
    FirmRole,
    LastWorkspaceAdmin,
    LastFirmAdmin,
    /// An Accountant or Member seat with no entity: an invite or access to nothing.
    NoEntities,
    /// A staff Member with no client and no "New clients": a place on the team with nothing in it.
    NoClients,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Role => "Your role in this workspace does not allow this. Ask a workspace Admin.",
            Refusal::AdminOnly => "Only a workspace Admin can give, change or remove the Admin role.",
            Refusal::AboveOwnEntities => "You can only give access to entities you have access to yourself.",
            Refusal::FirmLead => {
                "Firm Admins and Managers are Admins of every client. Their access is managed on the firm's Team page."
            }
            Refusal::FirmMemberAccess => {
                "This person is firm staff: which clients they work in is managed on the firm's Team page."
            }
            Refusal::HiddenEntities => {
                "They also hold entities you cannot see, so you can change only their access to your entities, not their role."
            }
            Refusal::HoldsAll => {
                "They have access to all entities, current and future. Only someone who has too can change their access."
            }
            Refusal::InviteBeyondReach => {
                "This invite gives access to entities you cannot see. Ask a workspace Admin to manage it."
            }
            Refusal::FirmAdminOnly => "Only a firm Admin can give, change or remove the Admin role.",
            Refusal::FirmRole => "Your role in the firm does not allow this. Ask a firm Admin.",
            Refusal::LastWorkspaceAdmin => "A workspace must keep at least one Admin. Make someone else Admin first.",
            Refusal::LastFirmAdmin => "The firm must keep at least one Admin. Make someone else Admin first.",
            Refusal::NoEntities => "Choose at least one entity: an Accountant or Member with none could open nothing.",
            Refusal::NoClients => "Choose at least one client, or New clients.",
        }
    }

    /// Refusals a person can act on from the same form (shown on it, not as an error page).
    pub fn is_form_message(self) -> bool {
        matches!(
            self,
            Refusal::LastWorkspaceAdmin
                | Refusal::LastFirmAdmin
                | Refusal::HiddenEntities
                | Refusal::NoEntities
                | Refusal::NoClients
        )
    }

    /// Refusals about the entity or client list of a form (shown next to it).
    pub fn is_about_the_list(self) -> bool {
        matches!(self, Refusal::NoEntities | Refusal::NoClients)
    }
}

pub type Rule = Result<(), Refusal>;

fn check(ok: bool, why: Refusal) -> Rule {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

// ---- inside a client's workspace ------------------------------------------------------

/// Things a person does in a workspace that depend only on their role (roles.md's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceAction {
    ViewMembers,
    ViewActivity,
    Invite,
    AddEntity,
    AddTransaction,
    /// Turn "Require two-factor authentication" on or off for the workspace.
    RequireTwoFactor,
}

pub fn may(actor: &Standing, action: WorkspaceAction) -> bool {
    use WorkspaceAction::*;
    match actor.role {
        WorkspaceRole::Admin => true,
        WorkspaceRole::Accountant => matches!(action, ViewMembers | Invite | AddEntity | AddTransaction),
        WorkspaceRole::Member => false,
    }
}

/// Counts towards "a workspace keeps at least one Admin".
pub fn is_admin(s: &Standing) -> bool {
    s.role == WorkspaceRole::Admin
}

pub fn may_read_entity(actor: &Standing, entity: EntityId) -> bool {
    actor.entities.contains(entity)
}

/// Nobody gives a role above their own: Admins give any, Accountants Accountant and Member.
pub fn may_give_role(actor: &Standing, role: WorkspaceRole) -> bool {
    may(actor, WorkspaceAction::Invite) && (role != WorkspaceRole::Admin || actor.role == WorkspaceRole::Admin)
}

/// The roles `actor` may offer on a form, highest first.
pub fn roles_to_offer(actor: &Standing) -> Vec<WorkspaceRole> {
    WorkspaceRole::ALL.into_iter().filter(|r| may_give_role(actor, *r)).collect()
}

/// What an invite or a configuration would give: a role and, unless Admin, entities.
pub fn grant(role: WorkspaceRole, entities: Access<EntityId>) -> SeatFacts {
    SeatFacts::with(role, entities)
}

/// Of `entities`, the ones `actor` may give: those they can see themselves.
pub fn grantable<T>(actor: &Standing, entities: Vec<T>, id: impl Fn(&T) -> EntityId) -> Vec<T> {
    entities.into_iter().filter(|e| actor.entities.contains(id(e))).collect()
}

/// May `actor` offer "all entities, current and future" on a form?
pub fn may_give_all_entities(actor: &Standing) -> bool {
    actor.entities.is_all()
}

/// Does this seat give anything? Every invite and every Configure permissions ends with
/// one that does: an Admin holds every entity; an Accountant or Member needs at least one
/// entity, or "all entities, current and future". (For a change made by someone who cannot
/// see all of the target's entities, ask it of the seat they end with, after
/// `merge_entities`: what the actor cannot see stays, and counts.)
pub fn grants_something(seat: &SeatFacts) -> Rule {
    check(seat.role == WorkspaceRole::Admin || !seat.entities.is_empty(), Refusal::NoEntities)
}

/// May `actor` invite someone with this role and these entities?
pub fn may_invite(actor: &Standing, offer: &SeatFacts) -> Rule {
    check(may(actor, WorkspaceAction::Invite), Refusal::Role)?;
    check(may_give_role(actor, offer.role), Refusal::AdminOnly)?;
    check(actor.entities.covers(&offer.entities), Refusal::AboveOwnEntities)
}

/// May `actor` open the Configure page of `target` at all?
pub fn may_manage(actor: &Standing, target: &Standing) -> Rule {
    check(may(actor, WorkspaceAction::Invite), Refusal::Role)?;
    check(!matches!(target.kind, Kind::FirmLead(_)), Refusal::FirmLead)?;
    check(target.role != WorkspaceRole::Admin || actor.role == WorkspaceRole::Admin, Refusal::AdminOnly)?;
    // Someone holding every entity, current and future, is beyond the reach of an actor who
    // holds only some: nothing on the form would be theirs to change.
    check(actor.entities.is_all() || !target.entities.is_all(), Refusal::HoldsAll)
}

/// May `actor` give `target` the role and entities of `offer`? Only the entities within the
/// actor's own reach change; those beyond it stay as they are (see `merge_entities`).
pub fn may_configure(actor: &Standing, target: &Standing, offer: &SeatFacts) -> Rule {
    may_manage(actor, target)?;
    check(may_give_role(actor, offer.role), Refusal::AdminOnly)?;
    check(actor.entities.covers(&offer.entities), Refusal::AboveOwnEntities)?;
    let hides = hidden_count(&actor.entities, &target.entities) > 0;
    check(!hides || offer.role == target.role, Refusal::HiddenEntities)
}

/// The entities a target ends with: what the actor chose, plus what the target held beyond
/// the actor's reach (an actor neither grants nor takes away what they cannot see).
pub fn merge_entities(
    actor: &Access<EntityId>,
    target: &Access<EntityId>,
    chosen: &Access<EntityId>,
) -> Access<EntityId> {
    match (actor, target, chosen) {
        (_, _, Access::All) => Access::All,
        (Access::All, _, chosen) => chosen.clone(),
        // An actor with chosen entities cannot see "all"; a target holding all keeps all.
        (Access::Only(_), Access::All, _) => Access::All,
        (Access::Only(mine), Access::Only(theirs), Access::Only(picked)) => {
            Access::Only(theirs.difference(mine).chain(picked.iter()).copied().collect())
        }
    }
}

/// May `actor` remove `target` from the workspace?
pub fn may_remove(actor: &Standing, target: &Standing) -> Rule {
    may_manage(actor, target)?;
    check(target.kind == Kind::Client, Refusal::FirmMemberAccess)
}

/// May `actor` resend, copy or cancel a pending invite that offers `offer`?
pub fn may_manage_invite(actor: &Standing, offer: &SeatFacts) -> Rule {
    check(may(actor, WorkspaceAction::Invite), Refusal::Role)?;
    check(offer.role != WorkspaceRole::Admin || actor.role == WorkspaceRole::Admin, Refusal::AdminOnly)?;
    check(actor.entities.covers(&offer.entities), Refusal::InviteBeyondReach)
}

/// A workspace keeps an Admin: with `admins` effective Admins now, may `target` go from
/// `was` to `after` (None: removed)?
pub fn keeps_a_workspace_admin(admins: usize, was: WorkspaceRole, after: Option<WorkspaceRole>) -> Rule {
    let loses = was == WorkspaceRole::Admin && after != Some(WorkspaceRole::Admin);
    check(!loses || admins > 1, Refusal::LastWorkspaceAdmin)
}

/// What `viewer` may see of someone's entity access: the names within the viewer's reach,
/// and how many others there are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visible {
    All,
    Some { named: Vec<EntityId>, hidden: usize },
}

pub fn visible_entities(viewer: &Access<EntityId>, held: &Access<EntityId>) -> Visible {
    match (viewer, held) {
        (_, Access::All) => Visible::All,
        (Access::All, Access::Only(set)) => Visible::Some { named: set.iter().copied().collect(), hidden: 0 },
        (Access::Only(mine), Access::Only(theirs)) => Visible::Some {
            named: theirs.intersection(mine).copied().collect(),
            hidden: theirs.difference(mine).count(),
        },
    }
}

/// How many of `held` the viewer cannot see ("all" counts as one: there will be more).
pub fn hidden_count(viewer: &Access<EntityId>, held: &Access<EntityId>) -> usize {
    match (viewer, held) {
        (Access::All, _) => 0,
        // Someone holding all entities holds ones the viewer cannot see (now or later).
        (Access::Only(_), Access::All) => 1,
        (Access::Only(mine), Access::Only(theirs)) => theirs.difference(mine).count(),
    }
}

// ---- the firm's team ------------------------------------------------------------------

/// Firm-level actions that depend only on the organization role (roles.md's first table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgAction {
    ManageBilling,
    ViewTeam,
    InviteStaff,
    AddClient,
    AddEntity,
    /// Turn "Require two-factor authentication" on or off for the firm's staff.
    RequireTwoFactor,
    /// See which of the firm's emails are failing, and the mail server's answers.
    ViewEmailDelivery,
    /// The firm-wide access report: who can see which entity of every client. Those who
    /// see every client (Admins and Managers) see it.
    ViewAccessReport,
}

pub fn org_may(actor: OrgRole, action: OrgAction) -> bool {
    use OrgAction::*;
    match actor {
        OrgRole::Admin => true,
        OrgRole::Manager => !matches!(action, ManageBilling | RequireTwoFactor | ViewEmailDelivery),
        // The firm-wide access report is a Manager's too: they are every client's Admin.
        OrgRole::Member => matches!(action, AddEntity),
    }
}

/// Admins give any firm role; Managers Manager and Member; Members none.
pub fn may_give_org_role(actor: OrgRole, role: OrgRole) -> bool {
    org_may(actor, OrgAction::InviteStaff) && (role != OrgRole::Admin || actor == OrgRole::Admin)
}

pub fn org_roles_to_offer(actor: OrgRole) -> Vec<OrgRole> {
    OrgRole::ALL.into_iter().filter(|r| may_give_org_role(actor, *r)).collect()
}

/// May `actor` invite staff with this role and client access?
pub fn may_invite_staff(actor: &StaffFacts, offer: &StaffFacts) -> Rule {
    check(org_may(actor.role, OrgAction::InviteStaff), Refusal::FirmRole)?;
    check(may_give_org_role(actor.role, offer.role), Refusal::FirmAdminOnly)?;
    check(actor.clients.covers(&offer.clients), Refusal::FirmRole)
}

/// Does this place on the team give anything? Admins and Managers see every client; a
/// Member needs at least one client, or "New clients". Asked of every staff invite and
/// every Configure permissions on the Team page.
pub fn staff_grants_something(staff: &StaffFacts) -> Rule {
    check(sees_all_clients(staff.role) || staff.new_clients || !staff.clients.is_empty(), Refusal::NoClients)
}

/// May `actor` configure, remove, or manage a pending team invite of someone with `target`'s role?
pub fn may_manage_staff(actor: &StaffFacts, target: OrgRole) -> Rule {
    check(org_may(actor.role, OrgAction::InviteStaff), Refusal::FirmRole)?;
    check(may_give_org_role(actor.role, target), Refusal::FirmAdminOnly)
}

pub fn may_configure_staff(actor: &StaffFacts, target: OrgRole, offer: &StaffFacts) -> Rule {
    may_manage_staff(actor, target)?;
    may_invite_staff(actor, offer)
}

/// The firm keeps an Admin: with `admins` Admins now, may `target` go from `was` to
/// `after` (None: removed from the firm)?
pub fn keeps_a_firm_admin(admins: usize, was: OrgRole, after: Option<OrgRole>) -> Rule {
    let loses = was == OrgRole::Admin && after != Some(OrgRole::Admin);
    check(!loses || admins > 1, Refusal::LastFirmAdmin)
}

// ---- one's own access ----------------------------------------------------------------

/// Something a person would no longer have in a workspace after a change to their own seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatLoss {
    /// Giving the Admin role: inviting, promoting, configuring and removing Admins.
    GiveAdmin,
    Action(WorkspaceAction),
    /// The books of this entity.
    Entity(EntityId),
    /// Entities added from now on (they held all, current and future).
    LaterEntities,
}

/// The workspace actions whose loss a person is told about, in the order they are told.
const SEAT_ACTIONS: [WorkspaceAction; 6] = [
    WorkspaceAction::ViewMembers,
    WorkspaceAction::Invite,
    WorkspaceAction::ViewActivity,
    WorkspaceAction::RequireTwoFactor,
    WorkspaceAction::AddEntity,
    WorkspaceAction::AddTransaction,
];

/// What someone standing as `before` would lose by getting `after` in the same workspace,
/// asked of the rules above (so the list is what the app will then refuse them). `entities`:
/// the workspace's entities, in the order to tell them.
pub fn seat_losses(before: &Standing, after: &SeatFacts, entities: &[EntityId]) -> Vec<SeatLoss> {
    let after = Standing { role: after.role, entities: after.entities.clone(), kind: before.kind };
    let mut lost = Vec::new();
    if may_give_role(before, WorkspaceRole::Admin) && !may_give_role(&after, WorkspaceRole::Admin) {
        lost.push(SeatLoss::GiveAdmin);
    }
    lost.extend(SEAT_ACTIONS.into_iter().filter(|a| may(before, *a) && !may(&after, *a)).map(SeatLoss::Action));
    lost.extend(
        entities
            .iter()
            .filter(|e| may_read_entity(before, **e) && !may_read_entity(&after, **e))
            .map(|e| SeatLoss::Entity(*e)),
    );
    if before.entities.is_all() && !after.entities.is_all() {
        lost.push(SeatLoss::LaterEntities);
    }
    lost
}

/// Something a person would no longer have in the firm after a change to their own place
/// on its team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaffLoss {
    /// Giving the Admin role: inviting, promoting, configuring and removing the firm's Admins.
    GiveAdmin,
    Action(OrgAction),
    /// Being an Admin of every client's workspace (a firm Admin or Manager is).
    ClientAdmin,
    /// Every client of the firm but the ones chosen (`none_kept`: not one is chosen).
    AllClientsBut {
        none_kept: bool,
    },
    /// This client.
    Client(WorkspaceId),
    /// Clients added from now on.
    LaterClients,
}

/// The firm actions whose loss a person is told about, in the order they are told.
const STAFF_ACTIONS: [OrgAction; 7] = [
    OrgAction::ViewTeam,
    OrgAction::InviteStaff,
    OrgAction::AddClient,
    OrgAction::ManageBilling,
    OrgAction::RequireTwoFactor,
    OrgAction::ViewEmailDelivery,
    OrgAction::ViewAccessReport,
];

/// What someone with `before` on a firm's team would lose by getting `after`, asked of the
/// rules above. `clients`: the firm's clients, in the order to tell them.
pub fn staff_losses(before: &StaffFacts, after: &StaffFacts, clients: &[WorkspaceId]) -> Vec<StaffLoss> {
    let mut lost = Vec::new();
    if may_give_org_role(before.role, OrgRole::Admin) && !may_give_org_role(after.role, OrgRole::Admin) {
        lost.push(StaffLoss::GiveAdmin);
    }
    lost.extend(
        STAFF_ACTIONS
            .into_iter()
            .filter(|a| org_may(before.role, *a) && !org_may(after.role, *a))
            .map(StaffLoss::Action),
    );
    if sees_all_clients(before.role) && !sees_all_clients(after.role) {
        lost.push(StaffLoss::ClientAdmin);
    }
    match (&before.clients, &after.clients) {
        (Access::All, Access::Only(kept)) => lost.push(StaffLoss::AllClientsBut { none_kept: kept.is_empty() }),
        _ => lost.extend(
            clients
                .iter()
                .filter(|c| before.clients.contains(**c) && !after.clients.contains(**c))
                .map(|c| StaffLoss::Client(*c)),
        ),
    }
    let later_before = before.clients.is_all() || before.new_clients;
    let later_after = after.clients.is_all() || after.new_clients;
    if later_before && !later_after {
        lost.push(StaffLoss::LaterClients);
    }
    lost
}

#[cfg(test)]
mod tests;
