//! Settings → Members of a client's workspace: the list, invite, configure, remove.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::invites::{self, PendingLine, Place, UpdatedInvite};
use super::{list_or, ActionError, Configured, Conflict, InviteSettings, Outcome};
use crate::db::models::access::{self, Person, WorkspaceAccess, WorkspaceInfo};
use crate::db::models::audit::{self, AuditAction, NewEvent};
use crate::db::models::entity::{self, Entity};
use crate::db::models::invite::{self, Invite, NewInvite, NewInviteError, NewOffer};
use crate::db::models::invite_list::{self, InviteCounts, InviteList};
use crate::db::models::outbox::{self, Delivery};
use crate::db::models::sessions;
use crate::db::models::{ending, members};
use crate::db::models::{lock_row, LockTable};
use crate::db::{Db, DbConnection};
use crate::domain::access::{
    self as rules, Access, Kind, Refusal, SeatFacts, SeatLoss, Standing, Visible, WorkspaceAction,
};
use crate::domain::listing::{page_of, slice_of, Cursor, ListQuery, Status};
use crate::domain::{EmailAddress, EndDate, EntityId, InviteId, UserId, WorkspaceId, WorkspaceRole};

/// Someone's entity access as a viewer may see it: names within the viewer's reach, and a
/// count of the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub all: bool,
    pub names: Vec<String>,
    pub hidden: usize,
}

#[derive(Clone)]
pub struct MemberLine {
    pub user: UserId,
    pub name: String,
    pub email: String,
    pub role: WorkspaceRole,
    pub kind: Kind,
    pub access: Shown,
    pub invited_by: Option<String>,
    pub since: NaiveDateTime,
    /// When their access here ends by itself.
    pub until: Option<NaiveDateTime>,
    /// Two-factor authentication is on for their account.
    pub two_factor: bool,
    pub can_configure: bool,
    pub can_remove: bool,
}

pub struct InviteLine {
    pub pending: PendingLine,
    pub role: WorkspaceRole,
    pub access: Shown,
}

/// One page of the Members page: the people with access (section 0: the firm's staff, then
/// the client's people, by name), then the pending invites (section 1, newest first).
pub struct MembersList {
    pub members: Vec<MemberLine>,
    pub invites: Vec<InviteLine>,
    pub previous: Option<Cursor>,
    pub next: Option<Cursor>,
    /// People matching the search and role.
    pub active: i64,
    pub invite_counts: InviteCounts,
}

enum Row {
    Member(MemberLine),
    Invite(Box<Invite>),
}

fn show(viewer: &Access<EntityId>, held: &Access<EntityId>, names: &HashMap<EntityId, String>) -> Shown {
    match rules::visible_entities(viewer, held) {
        Visible::All => Shown { all: true, names: Vec::new(), hidden: 0 },
        Visible::Some { named, hidden } => {
            let mut names: Vec<String> = named.iter().filter_map(|e| names.get(e).cloned()).collect();
            names.sort();
            Shown { all: false, names, hidden }
        }
    }
}

/// Everything the Members page shows to `viewer`, in a fixed number of queries.
pub async fn list(db: &Db, viewer: &WorkspaceAccess, query: ListQuery) -> Outcome<MembersList> {
    if !rules::may(&viewer.standing, WorkspaceAction::ViewMembers) {
        return Err(Refusal::Role.into());
    }
    let (ws, me) = (viewer.workspace.clone(), viewer.standing.clone());
    db.read_with(move |c| list_in(c, &ws, &me, &query)).await
}

/// The people of the workspace (they are few: its own people and the firm's staff) are
/// read whole and paged in memory; its invites (they may be many) are paged in SQL. A
/// fixed number of queries whatever the number of either.
fn list_in(c: &mut DbConnection, ws: &WorkspaceInfo, me: &Standing, query: &ListQuery) -> Outcome<MembersList> {
    let names: HashMap<EntityId, String> = entity::all_in(c, ws.id)?.into_iter().map(|e| (e.id, e.name)).collect();
    let people = people_lines(c, ws, me, &names, query)?;
    let invites = InviteList::Workspace(ws.id);
    let sections: &[u8] = match query.status {
        None => &[0, 1],
        Some(Status::Active) => &[0],
        Some(_) => &[1],
    };
    let page = page_of(sections, &query.direction, |section, bound, n| {
        if section == 0 {
            let cursor = |m: &MemberLine| Cursor::new(0, person_key(m), m.user.0);
            let rows = slice_of(&people, cursor, bound, n);
            return Ok(rows.into_iter().map(|(m, c)| (Row::Member(m), c)).collect());
        }
        invite_list::section(c, &invites, query, 1, bound, n)
            .map(|rows| rows.into_iter().map(|(i, c)| (Row::Invite(Box::new(i)), c)).collect())
    })?;
    let (mut members, mut pending) = (Vec::new(), Vec::new());
    for row in page.rows {
        match row {
            Row::Member(m) => members.push(m),
            Row::Invite(i) => pending.push(*i),
        }
    }
    let active = people.len() as i64;
    let invite_counts = invite_list::counts(c, &invites, query)?;
    let invites = invite_lines(c, me, &names, pending)?;
    Ok(MembersList { members, invites, previous: page.previous, next: page.next, active, invite_counts })
}

/// The sort key of a person: the firm's staff first, then by name and email. (It travels
/// in the URL as the cursor of "Next": printable characters only.)
fn person_key(m: &MemberLine) -> String {
    let group = if m.kind == Kind::Client { '1' } else { '0' };
    format!("{group}{} {}", m.name.to_lowercase(), m.email)
}

/// Everyone with access who matches the query, in list order.
fn people_lines(
    c: &mut DbConnection,
    ws: &WorkspaceInfo,
    me: &Standing,
    names: &HashMap<EntityId, String>,
    query: &ListQuery,
) -> Outcome<Vec<MemberLine>> {
    let people = access::people_of(c, ws)?;
    let ids: Vec<UserId> = people.iter().flat_map(|p| [Some(p.user), p.invited_by]).flatten().collect();
    let who = members::people_with_two_factor(c, &ids)?;
    let name_of = |u: UserId| who.get(&u).map(|(n, e, _)| (n.clone(), e.clone())).unwrap_or_default();
    let two_factor_of = |u: UserId| who.get(&u).is_some_and(|(_, _, on)| *on);
    let mut lines: Vec<(String, i64, MemberLine)> = people
        .into_iter()
        .filter(|p| query.role.as_deref().is_none_or(|r| p.standing.role.as_str() == r))
        .filter_map(|p: Person| {
            let (name, email) = name_of(p.user);
            if let Some(s) = &query.search {
                if !s.matches(&name) && !s.matches(&email) {
                    return None;
                }
            }
            let line = MemberLine {
                can_configure: rules::may_manage(me, &p.standing).is_ok(),
                can_remove: rules::may_remove(me, &p.standing).is_ok(),
                access: show(&me.entities, &p.standing.entities, names),
                role: p.standing.role,
                kind: p.standing.kind,
                invited_by: p.invited_by.map(|u| name_of(u).0),
                user: p.user,
                since: p.since,
                until: p.until,
                two_factor: two_factor_of(p.user),
                name,
                email,
            };
            Some((person_key(&line), line.user.0, line))
        })
        .collect();
    lines.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(lines.into_iter().map(|(_, _, l)| l).collect())
}

/// The rows of a page's pending invites: what each offers, as the viewer may see it, who
/// sent it and how its email fared.
fn invite_lines(
    c: &mut DbConnection,
    me: &Standing,
    names: &HashMap<EntityId, String>,
    pending: Vec<Invite>,
) -> Outcome<Vec<InviteLine>> {
    let invite_ids: Vec<i64> = pending.iter().map(|i| i.id).collect();
    let mut offered: HashMap<i64, Vec<EntityId>> = HashMap::new();
    for (i, e) in invite::entity_ids_of(c, &invite_ids)? {
        offered.entry(i).or_default().push(EntityId(e));
    }
    let delivery = outbox::delivery_for(c, &invite_ids)?;
    let inviters: Vec<UserId> = pending.iter().map(|i| UserId(i.invited_by)).collect();
    let who = members::people(c, &inviters)?;
    Ok(pending
        .into_iter()
        .filter_map(|i| {
            let role = WorkspaceRole::parse(&i.role)?;
            let offer = SeatFacts::with(role, invite::offered_entities(&i, offered.remove(&i.id)));
            let can_manage = rules::may_manage_invite(me, &offer).is_ok();
            Some(InviteLine {
                access: show(&me.entities, &offer.entities, names),
                role,
                pending: PendingLine {
                    id: i.invite_id(),
                    invited_by: who.get(&UserId(i.invited_by)).map(|p| p.0.clone()).unwrap_or_default(),
                    delivery: delivery.get(&i.id).cloned().unwrap_or(Delivery::NotSentYet),
                    nonce: can_manage.then_some(i.token_nonce),
                    can_manage,
                    email: i.email,
                    created_at: i.created_at,
                    expires_at: i.expires_at,
                    reminder_sent: i.reminder_sent_at.is_some(),
                },
            })
        })
        .collect())
}

/// The entities of a workspace that `viewer` may give (the ones they can see).
pub async fn grantable_entities(db: &Db, viewer: &WorkspaceAccess) -> Outcome<Vec<Entity>> {
    let (ws, reach) = (viewer.workspace.id, viewer.standing.clone());
    let all = db.read(move |c| entity::all_in(c, ws)).await?;
    Ok(rules::grantable(&reach, all, |e| e.id))
}

/// What an invite form asks for, parsed.
pub struct InviteRequest {
    pub email: EmailAddress,
    pub role: WorkspaceRole,
    pub entities: Access<EntityId>,
    /// The access ends by itself on this date; None: no end date.
    pub ends: Option<EndDate>,
}

/// Invites someone into the workspace; their email goes out through the outbox.
pub async fn invite(
    db: &Db,
    actor: UserId,
    ws: WorkspaceId,
    req: InviteRequest,
    s: InviteSettings,
) -> Outcome<InviteId> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Workspace, ws.0)?;
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        let names = names_in(c, ws, &members::stored(&req.entities))?;
        let offer = rules::grant(req.role, req.entities);
        rules::may_invite(&me.standing, &offer)?;
        rules::grants_something(&offer)?;
        let entities = members::stored(&offer.entities);
        let new = NewInvite {
            org: me.workspace.org_id,
            workspace: Some(&me.workspace),
            email: &req.email,
            role: req.role.as_str(),
            entities: &entities,
            all_entities: offer.entities.is_all(),
            clients: &[],
            new_clients: false,
            inviter: actor,
            access_ends: req.ends,
            ttl: s.ttl,
            key: &s.key,
            detail: format!("as {}{}", seat_words(&offer, &names), until_words(req.ends)),
        };
        let id = invite::create(c, new).map_err(|e| match e {
            NewInviteError::AlreadyMember => ActionError::Conflict(Conflict::AlreadyMember),
            NewInviteError::FirmStaff => ActionError::Conflict(Conflict::FirmStaff),
            NewInviteError::AlreadyInvited(id) => ActionError::Conflict(Conflict::AlreadyInvited(id)),
            NewInviteError::Db(e) => e.into(),
        })?;
        s.limits.take(c, actor, me.workspace.org_id, 1)?;
        Ok(id)
    })
    .await
}

/// "Edit invite": the pending invite `id` of the workspace offers `role` and `chosen`
/// entities from now on. The actor must be allowed to manage the invite as it is and to
/// send an invite offering the new access; its link and expiry stay, and nothing is emailed.
pub async fn update_invite(
    db: &Db,
    actor: UserId,
    ws: WorkspaceId,
    id: InviteId,
    role: WorkspaceRole,
    chosen: Access<EntityId>,
) -> Outcome<UpdatedInvite> {
    db.transaction(move |c| {
        let place = Place::Workspace(ws);
        invites::lock(c, place)?;
        let inv = invites::manageable(c, actor, place, id)?;
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        let names = names_in(c, ws, &members::stored(&chosen))?;
        let offer = rules::grant(role, chosen);
        // The new access, by the rules of sending an invite (one place for any rule on what
        // an invite must grant).
        rules::may_invite(&me.standing, &offer)?;
        rules::grants_something(&offer)?;
        let entities = members::stored(&offer.entities);
        let new = NewOffer {
            role: role.as_str(),
            all_entities: offer.entities.is_all(),
            entities: &entities,
            clients: &[],
            new_clients: false,
            detail: format!("as {}", seat_words(&offer, &names)),
        };
        invite::set_offer(c, &inv, actor, new)?;
        Ok(UpdatedInvite { email: inv.email, grants: grant_words(&offer, &names) })
    })
    .await
}

/// ", until 31 Mar 2027" for an audit event's detail; nothing without an end date.
pub fn until_words(ends: Option<EndDate>) -> String {
    ends.map(|e| format!(", until {}", e.words())).unwrap_or_default()
}

/// What a seat grants, for a message: "Accountant · Acme LLC", "Admin · All entities".
fn grant_words(seat: &SeatFacts, names: &[String]) -> String {
    let access = if seat.entities.is_all() { "All entities".to_string() } else { list_or(names, "No entities") };
    format!("{} · {access}", seat.role.label())
}

/// The names of `ids`, all of which must be entities of this workspace.
fn names_in(c: &mut DbConnection, ws: WorkspaceId, ids: &[EntityId]) -> Outcome<Vec<String>> {
    let all = entity::all_in(c, ws)?;
    if ids.iter().any(|id| !all.iter().any(|e| e.id == *id)) {
        return Err(ActionError::Invalid("One of the chosen entities is not in this workspace."));
    }
    Ok(all.into_iter().filter(|e| ids.contains(&e.id)).map(|e| e.name).collect())
}

/// "Admin, all entities", "Accountant, Acme LLC", "Member, no entities".
fn seat_words(seat: &SeatFacts, names: &[String]) -> String {
    if seat.entities.is_all() {
        format!("{}, all entities", seat.role.label())
    } else {
        format!("{}, {}", seat.role.label(), list_or(names, "no entities"))
    }
}

/// A member as the Configure and Remove pages show them.
pub struct Target {
    pub user: UserId,
    pub name: String,
    pub email: String,
    pub standing: Standing,
    /// How many of their entities the actor cannot see.
    pub hidden: usize,
    /// When their row here ends by itself.
    pub ends: Option<EndDate>,
    /// (Remove page) the addresses of the pending invites they sent here, which a removal
    /// cancels.
    pub invites_sent: Vec<String>,
}

/// The person named in a Configure or Remove link, if the actor may manage them.
pub async fn target(db: &Db, actor: &WorkspaceAccess, user: UserId) -> Outcome<Target> {
    let (ws, me) = (actor.workspace.id, actor.standing.clone());
    db.read_with(move |c| {
        let t = load_target(c, ws, user)?;
        rules::may_manage(&me, &t.standing)?;
        Ok(Target { hidden: rules::hidden_count(&me.entities, &t.standing.entities), ..t })
    })
    .await
}

/// The person named in a Remove link, if the actor may remove them.
pub async fn removal_target(db: &Db, actor: &WorkspaceAccess, user: UserId) -> Outcome<Target> {
    let t = target(db, actor, user).await?;
    rules::may_remove(&actor.standing, &t.standing)?;
    let ws = actor.workspace.id;
    let sent = db.read(move |c| invite::pending_sent_by(c, ws, user)).await?;
    Ok(Target { invites_sent: sent.into_iter().map(|i| i.email).collect(), ..t })
}

fn load_target(c: &mut DbConnection, ws: WorkspaceId, user: UserId) -> Outcome<Target> {
    let t = access::load(c, user, ws)?.ok_or(ActionError::NotFound)?;
    let (name, email) = members::people(c, &[user])?.remove(&user).unwrap_or_default();
    let ends = ending::seat_end(c, ws, user)?;
    Ok(Target { user, name, email, standing: t.standing, hidden: 0, ends, invites_sent: Vec::new() })
}

/// What Configure permissions asks for: a role, entities, and (for a client's person) when
/// the access ends.
pub struct SeatChange {
    pub role: WorkspaceRole,
    pub entities: Access<EntityId>,
    pub ends: Option<EndDate>,
}

/// Gives a member a role and entities; takes effect on their next request. Someone changing
/// their own access is told first what they would lose (nothing is saved) unless `confirmed`.
pub async fn configure(
    db: &Db,
    actor: UserId,
    ws: WorkspaceId,
    target: UserId,
    change: SeatChange,
    confirmed: bool,
) -> Outcome<Configured> {
    let SeatChange { role, entities: chosen, ends } = change;
    db.transaction(move |c| {
        lock_row(c, LockTable::Workspace, ws.0)?;
        // The caller's access as it is now, under the lock: a change made a moment ago counts.
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        let t = load_target(c, ws, target)?;
        names_in(c, ws, &members::stored(&chosen))?;
        let offer = rules::grant(role, chosen);
        rules::may_configure(&me.standing, &t.standing, &offer)?;
        rules::keeps_a_workspace_admin(access::count_admins(c, &me.workspace)?, t.standing.role, Some(role))?;
        let entities = rules::merge_entities(&me.standing.entities, &t.standing.entities, &offer.entities);
        let seat = SeatFacts::with(role, entities);
        // What they end with, entities beyond the actor's reach included, must give something.
        rules::grants_something(&seat)?;
        if actor == target && !confirmed {
            let all = entity::all_in(c, ws)?;
            let ids: Vec<EntityId> = all.iter().map(|e| e.id).collect();
            let lost = rules::seat_losses(&t.standing, &seat, &ids);
            if !lost.is_empty() {
                return Ok(Configured::WouldLose(lost.iter().map(|l| seat_loss_words(*l, &all)).collect()));
            }
        }
        members::set_seat(c, ws, target, &seat, None)?;
        // A client's row may end by itself; firm staff's access here ends with their client
        // access (the Team page).
        let ends = if t.standing.kind == Kind::Client { ends } else { t.ends };
        if ends != t.ends {
            ending::set_seat_end(c, ws, target, ends)?;
        }
        let names = names_in(c, ws, &members::stored(&seat.entities))?;
        let words = format!("{}{}", seat_words(&seat, &names), until_words(ends));
        record(c, &me.workspace, actor, AuditAction::ChangedPermissions, &t.email, words)?;
        Ok(Configured::Saved)
    })
    .await
}

/// One thing someone would lose in a workspace, in words for the Configure form.
fn seat_loss_words(lost: SeatLoss, entities: &[Entity]) -> String {
    match lost {
        SeatLoss::GiveAdmin => "inviting and managing Admins".into(),
        SeatLoss::Action(WorkspaceAction::ViewMembers) => "the Members page".into(),
        SeatLoss::Action(WorkspaceAction::Invite) => "inviting and managing Accountants and Members".into(),
        SeatLoss::Action(WorkspaceAction::ViewActivity) => "the Activity page".into(),
        SeatLoss::Action(WorkspaceAction::RequireTwoFactor) => "requiring two-factor authentication here".into(),
        SeatLoss::Action(WorkspaceAction::AddEntity) => "adding entities".into(),
        SeatLoss::Action(WorkspaceAction::AddTransaction) => "adding transactions".into(),
        SeatLoss::Entity(id) => {
            entities.iter().find(|e| e.id == id).map_or_else(|| "an entity".into(), |e| e.name.clone())
        }
        SeatLoss::LaterEntities => "entities added from now on".into(),
    }
}

/// How long "Extend" adds to an access that is about to end, unless another date is chosen.
pub const EXTEND_DAYS: i64 = 30;

/// "Extend": a client's access here ends later, on `ends`. Only for someone the actor may
/// manage, whose access has an end date. Returns their name (or email).
pub async fn extend(db: &Db, actor: UserId, ws: WorkspaceId, target: UserId, ends: EndDate) -> Outcome<String> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Workspace, ws.0)?;
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        let t = load_target(c, ws, target)?;
        rules::may_manage(&me.standing, &t.standing)?;
        let Some(current) = t.ends.filter(|_| t.standing.kind == Kind::Client) else {
            return Err(ActionError::Invalid("Their access has no end date to extend."));
        };
        if ends <= current {
            return Err(ActionError::Invalid("Choose a date after the current end date."));
        }
        ending::set_seat_end(c, ws, target, Some(ends))?;
        let words = format!("until {} (was {})", ends.words(), current.words());
        record(c, &me.workspace, actor, AuditAction::Extended, &t.email, words)?;
        Ok(if t.name.is_empty() { t.email } else { t.name })
    })
    .await
}

/// Ends a client user's access to the workspace at once. Returns their name (or email).
pub async fn remove(db: &Db, actor: UserId, ws: WorkspaceId, target: UserId) -> Outcome<String> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Workspace, ws.0)?;
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        let t = load_target(c, ws, target)?;
        rules::may_remove(&me.standing, &t.standing)?;
        rules::keeps_a_workspace_admin(access::count_admins(c, &me.workspace)?, t.standing.role, None)?;
        members::remove_seat(c, ws, target)?;
        // No way back in through an invite still on its way; and the invites they sent here
        // go with them (a client's person no longer vouches for anyone; a firm's staff, who
        // are never removed here, send invites on the firm's behalf).
        invite::cancel_all_to(c, me.workspace.org_id, Some(ws), &t.email, actor, "they were removed")?;
        invite::cancel_sent_by(c, ws, target, actor, "the person who sent it was removed")?;
        // Removed by someone else from their last workspace, and on no firm's team: their
        // sessions end now. (Someone leaving stays signed in, to read that they left.)
        if actor != target {
            sessions::end_all_if_nowhere(c, target)?;
        }
        record(c, &me.workspace, actor, AuditAction::Removed, &t.email, String::new())?;
        Ok(if t.name.is_empty() { t.email } else { t.name })
    })
    .await
}

fn record(
    c: &mut DbConnection,
    ws: &WorkspaceInfo,
    actor: UserId,
    action: AuditAction,
    target: &str,
    detail: String,
) -> Outcome<()> {
    audit::record(c, NewEvent { org: ws.org_id, workspace: Some(ws.id), actor: Some(actor), action, target, detail })?;
    Ok(())
}
