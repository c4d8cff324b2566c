//! The firm's Team page: staff, their client access and "New clients", bulk invites, and
//! the firm-wide "Pending invites" view. (Team invites' ⋯ actions are in `invite_actions`.)

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::{end_date, refused_on_form, EndField, FormFields, Losing, Said};
use super::list::ListNav;
use super::members::InviteView;
#[allow(unused_imports)]
use super::{delivery_words, redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::session::FlashKind;
use crate::auth::OrgContext;
use crate::db::models::team::{Client, Offboarding, TeamMember, TeamMemberRow};
use crate::domain::access::{self as rules, Refusal};
use crate::domain::listing::{ListParams, ListQuery, Page, Status};
use crate::domain::{EmailList, EmailListEntry, EndDate, InviteId, OrgRole, UserId, WorkspaceId};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::invites::{self, Bulk, BulkDone, EditableInvite, FirmInvite, Offered};
use crate::usecases::team::{self as uc, RemovalPreview, Sent, StaffOffer, TeamInviteLine};
use crate::usecases::{ActionError, Configured};

fn team_url(ctx: &OrgContext) -> String {
    format!("/orgs/{}/team", ctx.membership.org_id)
}

/// "All clients", "Acme Bakery, +2 more · New clients".
fn client_access(clients: &Option<Vec<Client>>, new_clients: bool) -> (String, String) {
    let Some(list) = clients else {
        return ("All clients".into(), "All current and future clients".into());
    };
    let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
    let (short, full) = match names.len() {
        0 => ("No clients".to_string(), "No clients".to_string()),
        1 | 2 => (names.join(", "), names.join(", ")),
        n => (format!("{}, +{} more", names[..2].join(", "), n - 2), names.join(", ")),
    };
    match (new_clients, names.is_empty()) {
        (false, _) => (short, full),
        (true, true) => ("New clients".into(), "New clients as they are added".into()),
        (true, false) => (format!("{short} · New clients"), format!("{full}, and new clients as they are added")),
    }
}

pub struct TeamMemberView {
    user_id: i64,
    name: String,
    email: String,
    role: &'static str,
    access: String,
    access_full: String,
    since: chrono::NaiveDateTime,
    two_factor: bool,
    can_manage: bool,
    is_you: bool,
    /// "31 Mar 2027": when a Member's client access ends by itself.
    until: Option<String>,
}

impl TeamMemberView {
    fn label(&self) -> &str {
        super::display_name(&self.name, &self.email)
    }
}

#[derive(Template)]
#[template(path = "team/list.html")]
pub struct TeamPage {
    l: Layout,
    org_id: i64,
    org_name: String,
    members: Vec<TeamMemberView>,
    invites: Vec<InviteView>,
    invites_base: String,
    can_invite: bool,
    nav: ListNav,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let query = ListQuery::parse(&params).with_roles(TEAM_ROLES);
    let page = uc::page(&state.db, &ctx.membership, query.clone()).await?;
    let me = ctx.user.user_id();
    let at: Page<()> = Page { rows: Vec::new(), previous: page.previous, next: page.next };
    let nav = ListNav::new(team_url(&ctx), &query, &at, "Search by name or email")
        .with_roles(TEAM_ROLES)
        .with_people_and_invites(page.active, &page.invite_counts, true);
    let members = page.members.into_iter().zip(page.can_manage_member);
    render(TeamPage {
        nav,
        l: Layout::org(&session, "Team", &ctx, "team"),
        org_id: ctx.membership.org_id.0,
        org_name: ctx.membership.org_name.clone(),
        members: members.map(|(m, can)| TeamMemberView::new(m, can, me)).collect(),
        invites: page.invites.into_iter().map(|i| team_invite_view(&state, i)).collect(),
        invites_base: format!("/orgs/{}/team/invites", ctx.membership.org_id),
        can_invite: rules::org_may(ctx.membership.role, rules::OrgAction::InviteStaff),
    })
}

impl TeamMemberView {
    fn new(m: TeamMemberRow, can_manage: bool, me: UserId) -> TeamMemberView {
        let (access, access_full) = client_access(&m.clients, m.new_clients);
        TeamMemberView {
            user_id: m.user_id.0,
            role: m.role.label(),
            is_you: m.user_id == me,
            name: m.name,
            email: m.email,
            since: m.since,
            two_factor: m.two_factor,
            until: m.clients_until.map(|u| EndDate::of(u).words()),
            access,
            access_full,
            can_manage,
        }
    }
}

fn team_invite_view(state: &AppState, i: TeamInviteLine) -> InviteView {
    InviteView::new(state, i.pending, i.role.label(), client_access(&i.clients, i.new_clients))
}

pub struct RoleOption {
    value: &'static str,
    label: &'static str,
    description: &'static str,
}

pub struct ClientOption {
    id: i64,
    name: String,
    checked: bool,
}

/// The role, clients and "New clients" fields as the forms show them.
pub struct AccessChoices {
    role: String,
    roles: Vec<RoleOption>,
    clients: Vec<ClientOption>,
    new_clients: bool,
    /// "invite them as Manager" or "make them a Manager" (a Manager needs no client).
    as_manager: &'static str,
    /// What is wrong with the client list, shown next to it.
    error: Option<String>,
    /// "Client access ends" (invite and Configure; "Edit invite" keeps the invite's).
    end: Option<EndField>,
}

/// What was chosen (or is held) in those fields.
struct Chosen {
    role: String,
    clients: Vec<WorkspaceId>,
    new_clients: bool,
    /// The end date as typed (or stored), and what is wrong with it.
    ends: String,
    ends_error: Option<String>,
}

impl Chosen {
    fn nothing() -> Chosen {
        Chosen::held("", Vec::new(), false, None)
    }

    fn held(role: &str, clients: Vec<WorkspaceId>, new_clients: bool, ends: Option<EndDate>) -> Chosen {
        let ends = ends.map(|e| e.iso()).unwrap_or_default();
        Chosen { role: role.into(), clients, new_clients, ends, ends_error: None }
    }

    fn of(offer: &StaffOffer) -> Chosen {
        Chosen::held(offer.role.as_str(), offer.clients.clone(), offer.new_clients, offer.ends)
    }
}

fn access_choices(ctx: &OrgContext, all: Vec<Client>, chosen: Chosen, error: Option<String>) -> AccessChoices {
    AccessChoices {
        roles: rules::org_roles_to_offer(ctx.membership.role)
            .into_iter()
            .map(|r| RoleOption { value: r.as_str(), label: r.label(), description: r.description() })
            .collect(),
        clients: all
            .into_iter()
            .map(|c| ClientOption { checked: chosen.clients.contains(&c.id), id: c.id.0, name: c.name })
            .collect(),
        role: chosen.role,
        new_clients: chosen.new_clients,
        as_manager: "invite them as Manager",
        error,
        end: Some(EndField::new("Client access ends", EndField::STAFF_HINT, chosen.ends, chosen.ends_error)),
    }
}

/// The clients the caller may give (those they reach themselves): what "Select all" gives.
fn grantable(ctx: &OrgContext, all: &[Client]) -> Vec<WorkspaceId> {
    let me = rules::StaffFacts::new(ctx.membership.role, [], false);
    all.iter().map(|c| c.id).filter(|w| me.clients.contains(*w)).collect()
}

/// What happened to one address of a bulk invite.
pub struct Outcome {
    address: String,
    words: &'static str,
    ok: bool,
    /// Already invited: the pending invite, for "Update invite" and "Resend invite".
    pending: Option<i64>,
}

#[derive(Template)]
#[template(path = "team/invite.html")]
pub struct TeamInvitePage {
    l: Layout,
    org_id: i64,
    org_name: String,
    emails: String,
    access: AccessChoices,
    error: Option<String>,
    outcomes: Vec<Outcome>,
}

/// The Add Team form: what was typed and chosen, what is wrong with the emails and with
/// the client list, and what happened to each address of the last try.
struct InviteForm {
    emails: String,
    chosen: Chosen,
    error: Option<String>,
    access_error: Option<String>,
    outcomes: Vec<Outcome>,
}

fn invite_page(session: &Session, ctx: &OrgContext, clients: Vec<Client>, f: InviteForm) -> TeamInvitePage {
    TeamInvitePage {
        l: Layout::org(session, format!("Invite staff to {}", ctx.membership.org_name), ctx, "team"),
        org_id: ctx.membership.org_id.0,
        org_name: ctx.membership.org_name.clone(),
        emails: f.emails,
        access: access_choices(ctx, clients, f.chosen, f.access_error),
        error: f.error,
        outcomes: f.outcomes,
    }
}

fn require_invite(ctx: &OrgContext) -> Result<(), AppError> {
    if rules::org_may(ctx.membership.role, rules::OrgAction::InviteStaff) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Refusal::FirmRole.message()))
    }
}

pub async fn invite_form(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    require_invite(&ctx)?;
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    let chosen = Chosen::held("member", Vec::new(), false, None);
    let form = InviteForm { emails: String::new(), chosen, error: None, access_error: None, outcomes: Vec::new() };
    render(invite_page(&session, &ctx, clients, form))
}

/// The role, clients (those ticked, and with "Select all" every one the form listed:
/// `listed`) and "New clients" of a form. A missing role is None (a message on the form);
/// a role that does not exist is a forged request.
fn parse_offer(form: &FormFields, listed: &[WorkspaceId]) -> Result<Option<StaffOffer>, AppError> {
    let mut clients: Vec<WorkspaceId> = form.ids("client")?.into_iter().map(WorkspaceId).collect();
    if form.get("select_all") == "on" {
        clients.extend(listed.iter().filter(|w| !clients.contains(w)).copied().collect::<Vec<_>>());
    }
    if !form.has("role") {
        return Ok(None);
    }
    let role =
        OrgRole::parse(form.get("role")).ok_or_else(|| AppError::BadRequest("That role does not exist.".into()))?;
    // A bad end date is said on the form (`end_error`); here it counts as none.
    let ends = end_date(form).unwrap_or(None);
    Ok(Some(StaffOffer { role, clients, new_clients: form.get("new_clients") == "on", ends }))
}

/// What is wrong with a form's end date, kept with what was typed.
fn end_error(form: &FormFields, chosen: &mut Chosen) -> bool {
    chosen.ends = form.get("ends").to_string();
    chosen.ends_error = end_date(form).err().map(String::from);
    chosen.ends_error.is_some()
}

/// An offer that gives nothing, in words for the form (the use case asks the same rule again).
fn gives_nothing(offer: &Option<StaffOffer>) -> Option<String> {
    let offer = offer.as_ref()?;
    rules::staff_grants_something(&offer.facts()).err().map(|r| r.message().to_string())
}

pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    require_invite(&ctx)?;
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    let form = FormFields::parse(&body)?;
    let emails = form.get("emails").to_string();
    let offer = parse_offer(&form, &grantable(&ctx, &clients))?;
    let nothing = gives_nothing(&offer);
    let mut chosen = offer.as_ref().map_or_else(Chosen::nothing, Chosen::of);
    let bad_end = end_error(&form, &mut chosen);
    let (offer, list) = match (offer, EmailList::parse(&emails)) {
        (Some(offer), Ok(list)) if nothing.is_none() && !bad_end => (offer, list),
        (offer, list) => {
            let error = offer.as_ref().map_or(Some("Choose a role.".into()), |_| list.err());
            let form = InviteForm { emails, chosen, error, access_error: nothing, outcomes: Vec::new() };
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, invite_page(&session, &ctx, clients, form));
        }
    };
    let (actor, org) = (ctx.user.user_id(), ctx.membership.org_id);
    match uc::invite(&state.db, actor, org, list.valid(), offer.clone(), state.invite_settings()).await {
        Ok(sent) => report(&state, &session, &ctx, clients, (&list.entries, sent), offer).await,
        Err(e) => invite_refused(&session, &ctx, clients, (emails, offer), e),
    }
}

/// A team invite the use case refused as a whole: the form again, as it was filled, with
/// what is wrong (nothing was sent).
fn invite_refused(
    session: &Session,
    ctx: &OrgContext,
    clients: Vec<Client>,
    (emails, offer): (String, StaffOffer),
    e: ActionError,
) -> Result<HttpResponse, AppError> {
    let mut form =
        InviteForm { emails, chosen: Chosen::of(&offer), error: None, access_error: None, outcomes: Vec::new() };
    let status = match e {
        ActionError::Limited(r) => {
            form.error = Some(format!("{} Nothing was sent.", r.message()));
            StatusCode::TOO_MANY_REQUESTS
        }
        ActionError::Refused(why) if why.is_about_the_list() => {
            form.access_error = Some(why.message().into());
            StatusCode::UNPROCESSABLE_ENTITY
        }
        e => return Err(e.into()),
    };
    render_with_status(status, invite_page(session, ctx, clients, form))
}

/// After a bulk invite: back to the Team page when every address was invited, else the form
/// with a line per address and only what still needs fixing left in the field.
async fn report(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    clients: Vec<Client>,
    (entries, sent): (&[EmailListEntry], Vec<Sent>),
    offer: StaffOffer,
) -> Result<HttpResponse, AppError> {
    let (mut outcomes, keep) = outcomes(entries, sent);
    let invited = outcomes.iter().filter(|o| o.ok).count();
    if invited > 0 {
        state.wake_mailer();
    }
    if keep.is_empty() && invited == outcomes.len() {
        // Queued, not sent: the outbox sends them, and each row's badge then says how it went.
        let message = match invited {
            1 => format!("Invite to {} queued{}", outcomes[0].address, state.mailbox_hint()),
            n => format!("Invites to {n} people queued{}", state.mailbox_hint()),
        };
        return Ok(redirect_with(session, &team_url(ctx), FlashKind::Success, message));
    }
    with_pending_invites(state, ctx, &mut outcomes).await?;
    let status = if invited > 0 { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let form =
        InviteForm { emails: keep.join(", "), chosen: Chosen::of(&offer), error: None, access_error: None, outcomes };
    render_with_status(status, invite_page(session, ctx, clients, form))
}

const ALREADY_INVITED: &str = "already invited: update the pending invite to this access, or resend it";

/// The pending invite of each address that already had one.
async fn with_pending_invites(state: &AppState, ctx: &OrgContext, outcomes: &mut [Outcome]) -> Result<(), AppError> {
    let is_already = |o: &Outcome| o.words == ALREADY_INVITED;
    let already: Vec<String> = outcomes.iter().filter(|o| is_already(o)).map(|o| o.address.clone()).collect();
    if already.is_empty() {
        return Ok(());
    }
    let found = uc::pending_invites_to(&state.db, ctx.membership.org_id, already).await?;
    for o in outcomes.iter_mut().filter(|o| is_already(o)) {
        o.pending = found.iter().find(|(email, _)| *email == o.address).map(|(_, id)| id.0);
    }
    Ok(())
}

fn outcomes(entries: &[EmailListEntry], sent: Vec<Sent>) -> (Vec<Outcome>, Vec<String>) {
    let mut sent = sent.into_iter();
    let mut keep = Vec::new();
    let lines = entries
        .iter()
        .map(|entry| {
            let (address, words, ok) = match entry {
                EmailListEntry::Valid(e) => match sent.next() {
                    Some(Sent::Invited) => (e.to_string(), "invite queued", true),
                    Some(Sent::AlreadyMember) => (e.to_string(), "already a member of the team", false),
                    Some(Sent::AlreadyInvited) => (e.to_string(), ALREADY_INVITED, false),
                    None => (e.to_string(), "not sent", false),
                },
                EmailListEntry::Duplicate(e) => (e.to_string(), "listed twice: invited once", false),
                EmailListEntry::Invalid { input, .. } => {
                    keep.push(input.clone());
                    (input.clone(), "not a valid address", false)
                }
            };
            Outcome { address, words, ok, pending: None }
        })
        .collect();
    (lines, keep)
}

/// ⋯ → Edit invite, for an invite onto the team: its firm role, clients and "New clients".
#[derive(Template)]
#[template(path = "team/edit_invite.html")]
pub struct EditTeamInvitePage {
    l: Layout,
    org_id: i64,
    org_name: String,
    id: i64,
    email: String,
    access: AccessChoices,
    error: Option<String>,
}

async fn edit_invite_page(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    inv: &EditableInvite,
    chosen: Chosen,
    (error, list_error): (Option<String>, Option<String>),
) -> Result<EditTeamInvitePage, AppError> {
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    Ok(EditTeamInvitePage {
        l: Layout::org(session, "Edit invite", ctx, "team"),
        org_id: ctx.membership.org_id.0,
        org_name: ctx.membership.org_name.clone(),
        id: inv.id.0,
        email: inv.email.clone(),
        // Editing an invite keeps its end date (and its link and expiry).
        access: AccessChoices { end: None, ..access_choices(ctx, clients, chosen, list_error) },
        error,
    })
}

/// The Edit invite form of a team invite, prefilled with what it offers.
pub(super) async fn edit_invite_form(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    inv: EditableInvite,
) -> Result<HttpResponse, AppError> {
    let Offered::Team(offer) = &inv.offer else {
        return Err(AppError::NotFound);
    };
    let chosen = Chosen::of(offer);
    render(edit_invite_page(state, session, ctx, &inv, chosen, (None, None)).await?)
}

/// "Update invite" for a team invite: the firm role, clients and "New clients" of the form
/// (with "Select all": every client the editor may give).
pub(super) async fn update_invite(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    inv: EditableInvite,
    form: &FormFields,
) -> Result<HttpResponse, AppError> {
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    let Some(offer) = parse_offer(form, &grantable(ctx, &clients))? else {
        let said = (Some("Choose a role.".into()), None);
        let page = edit_invite_page(state, session, ctx, &inv, Chosen::nothing(), said).await?;
        return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
    };
    let (actor, org) = (ctx.user.user_id(), ctx.membership.org_id);
    let said = match uc::update_invite(&state.db, actor, org, inv.id, offer.clone()).await {
        Ok(done) => {
            let words = super::invite_actions::updated_words(&done, &format!("to join {}", ctx.membership.org_name));
            return Ok(redirect_with(session, &team_url(ctx), FlashKind::Success, words));
        }
        Err(ActionError::Refused(why)) if why.is_about_the_list() => (None, Some(why.message().into())),
        Err(ActionError::Refused(why)) if why.is_form_message() => (Some(why.message().into()), None),
        Err(e) => return Err(e.into()),
    };
    let page = edit_invite_page(state, session, ctx, &inv, Chosen::of(&offer), said).await?;
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page)
}

#[derive(Template)]
#[template(path = "team/permissions.html")]
pub struct TeamPermissionsPage {
    l: Layout,
    org_id: i64,
    member: TeamMember,
    is_you: bool,
    access: AccessChoices,
    error: Option<String>,
    losing: Option<Losing>,
}

impl TeamPermissionsPage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

fn permissions_page(
    session: &Session,
    ctx: &OrgContext,
    member: TeamMember,
    (clients, chosen): (Vec<Client>, Chosen),
    said: Said,
) -> TeamPermissionsPage {
    let (mut error, mut list_error, mut losing) = (None, None, None);
    match said {
        Said::Nothing => {}
        Said::Error(e) => error = Some(e),
        Said::ListError(e) => list_error = Some(e),
        Said::WouldLose(l) => losing = Some(l),
    }
    let mut access = access_choices(ctx, clients, chosen, list_error);
    access.as_manager = "make them a Manager";
    TeamPermissionsPage {
        l: Layout::org(session, "Configure permissions", ctx, "team"),
        org_id: ctx.membership.org_id.0,
        is_you: member.user_id == ctx.user.user_id(),
        access,
        member,
        error,
        losing,
    }
}

fn target_id(req: &HttpRequest) -> Result<UserId, AppError> {
    path_id(req, "user").map(UserId)
}

pub async fn permissions_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.membership, target_id(&req)?).await?;
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    let ends = member.clients_until.map(EndDate::of);
    let chosen = Chosen::held(member.role.as_str(), member.clients.clone(), member.new_clients, ends);
    render(permissions_page(&session, &ctx, member, (clients, chosen), Said::Nothing))
}

/// A change as a form states it ("member:3,5:new"): what "Save and lose this access" confirms.
fn change_key(offer: &StaffOffer) -> String {
    let mut clients: Vec<i64> = offer.clients.iter().map(|w| w.0).collect();
    clients.sort_unstable();
    clients.dedup();
    let clients: Vec<String> = clients.iter().map(i64::to_string).collect();
    let new = if offer.new_clients { ":new" } else { "" };
    format!("{}:{}{new}", offer.role.as_str(), clients.join(","))
}

pub async fn configure(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.membership, target_id(&req)?).await?;
    let clients = uc::clients(&state.db, ctx.membership.org_id).await?;
    let form = FormFields::parse(&body)?;
    let offer =
        parse_offer(&form, &grantable(&ctx, &clients))?.ok_or_else(|| AppError::BadRequest("Choose a role.".into()))?;
    let mut chosen = Chosen::of(&offer);
    if end_error(&form, &mut chosen) {
        let page = permissions_page(&session, &ctx, member, (clients, chosen), Said::Nothing);
        return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let key = change_key(&offer);
    let (actor, org, confirmed) = (ctx.user.user_id(), ctx.membership.org_id, form.get("confirm_loss") == key);
    let (status, said) = match uc::configure(&state.db, actor, org, member.user_id, offer.clone(), confirmed).await {
        Ok(Configured::Saved) => return Ok(configured(&session, &ctx, &member, offer.role)),
        Ok(Configured::WouldLose(items)) => (StatusCode::OK, Said::WouldLose(Losing { items, key })),
        Err(e) => refused_on_form(e)?,
    };
    let page = permissions_page(&session, &ctx, member, (clients, Chosen::of(&offer)), said);
    render_with_status(status, page)
}

/// After a save: back to the Team page, or (for someone who has just taken it from
/// themselves) to the firm's clients.
fn configured(session: &Session, ctx: &OrgContext, member: &TeamMember, role: OrgRole) -> HttpResponse {
    let who = super::display_name(&member.name, &member.email);
    let message = format!("Permissions of {who} in {} updated", ctx.membership.org_name);
    let to = if member.user_id == ctx.user.user_id() && !rules::org_may(role, rules::OrgAction::ViewTeam) {
        format!("/orgs/{}/clients", ctx.membership.org_id)
    } else {
        team_url(ctx)
    };
    redirect_with(session, &to, FlashKind::Success, message)
}

#[derive(Template)]
#[template(path = "team/remove.html")]
pub struct TeamRemovePage {
    l: Layout,
    org_id: i64,
    org_name: String,
    member: TeamMember,
    role: &'static str,
    /// None: every client (an Admin or Manager).
    clients: Option<Vec<String>>,
    offboarding: Offboarding,
    error: Option<String>,
}

impl TeamRemovePage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }

    fn new(session: &Session, ctx: &OrgContext, p: RemovalPreview, error: Option<String>) -> TeamRemovePage {
        TeamRemovePage {
            l: Layout::org(session, "Remove from organization", ctx, "team"),
            org_id: ctx.membership.org_id.0,
            org_name: ctx.membership.org_name.clone(),
            role: p.member.role.label(),
            member: p.member,
            clients: p.clients,
            offboarding: p.offboarding,
            error,
        }
    }
}

pub async fn remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let preview = uc::removal_preview(&state.db, &ctx.membership, target_id(&req)?).await?;
    render(TeamRemovePage::new(&session, &ctx, preview, None))
}

pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.membership, target_id(&req)?).await?;
    let (actor, org) = (ctx.user.user_id(), ctx.membership.org_id);
    match uc::remove(&state.db, actor, org, member.user_id).await {
        Ok(_) if member.user_id == actor => {
            let message = format!("You left {}", ctx.membership.org_name);
            Ok(redirect_with(&session, "/", FlashKind::Success, message))
        }
        Ok(name) => {
            let message =
                format!("{name} removed from {}: their access to it and its clients ended", ctx.membership.org_name);
            Ok(redirect_with(&session, &team_url(&ctx), FlashKind::Success, message))
        }
        Err(ActionError::Refused(why)) if why.is_form_message() => {
            let preview = uc::removal_preview(&state.db, &ctx.membership, member.user_id).await?;
            let page = TeamRemovePage::new(&session, &ctx, preview, Some(why.message().into()));
            render_with_status(StatusCode::CONFLICT, page)
        }
        Err(e) => Err(e.into()),
    }
}

pub struct PendingView {
    id: i64,
    email: String,
    /// An invite onto the firm's team (not into a client).
    team: bool,
    target: String,
    target_href: String,
    /// Where its ⋯ actions live (the Team page's or its client's).
    base: String,
    role: &'static str,
    invited_by: String,
    sent: chrono::NaiveDateTime,
    expires: chrono::NaiveDateTime,
    expired: bool,
    delivery: (String, &'static str),
    reminder_sent: bool,
}

impl PendingView {
    fn new(org: i64, f: FirmInvite) -> PendingView {
        let (target, target_href, base) = match &f.client {
            Some(c) => {
                (c.name.clone(), format!("/w/{}/settings/members", c.id), format!("/w/{}/settings/invites", c.id))
            }
            None => ("Team".to_string(), format!("/orgs/{org}/team"), format!("/orgs/{org}/team/invites")),
        };
        PendingView {
            base: format!("{base}/{}", f.id.0),
            id: f.id.0,
            team: f.client.is_none(),
            target,
            target_href,
            role: f.role,
            invited_by: f.invited_by,
            sent: f.created_at,
            expires: f.expires_at,
            expired: f.expires_at <= crate::db::models::now(),
            delivery: delivery_words(&f.delivery),
            reminder_sent: f.reminder_sent,
            email: f.email,
        }
    }
}

#[derive(Template)]
#[template(path = "team/pending.html")]
pub struct PendingPage {
    l: Layout,
    org_id: i64,
    invites: Vec<PendingView>,
    nav: ListNav,
}

/// Every pending invite the viewer can manage, across the Team page and every client.
pub async fn pending(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let org = ctx.membership.org_id;
    let query = ListQuery::parse(&params).with_roles(EVERY_ROLE);
    let found = invites::pending_in_firm(&state.db, ctx.user.user_id(), org, query.clone()).await?;
    let page = found.page.map(|f| PendingView::new(org.0, f));
    let c = found.counts;
    let tabs = [Status::Pending, Status::Expired, Status::DeliveryFailed].map(|s| (s, c.of(s)));
    let nav = ListNav::new(format!("/orgs/{org}/invites"), &query, &page, "Search by email")
        .with_roles(EVERY_ROLE)
        .with_tabs(c.all(), &tabs);
    render(PendingPage {
        l: Layout::org(&session, "Pending invites", &ctx, "pending"),
        org_id: org.0,
        invites: page.rows,
        nav,
    })
}

/// The role filter of the Team page.
const TEAM_ROLES: &[(&str, &str)] = &[("admin", "Admin"), ("manager", "Manager"), ("member", "Member")];

/// The role filter of the firm-wide list: team and client roles.
const EVERY_ROLE: &[(&str, &str)] =
    &[("admin", "Admin"), ("manager", "Manager"), ("accountant", "Accountant"), ("member", "Member")];

/// "3 invites resent: a@x.test, …; 1 sent less than a minute ago were skipped",
/// "2 invites cancelled: a@x.test, b@x.test".
fn bulk_words(action: Bulk, done: &BulkDone) -> String {
    let n = done.done;
    let what = if n == 1 { "invite" } else { "invites" };
    let who = if done.emails.is_empty() { String::new() } else { format!(": {}", done.emails.join(", ")) };
    match action {
        Bulk::Resend if done.too_soon > 0 => {
            format!("{n} {what} resent{who}; {} sent less than a minute ago were skipped", done.too_soon)
        }
        Bulk::Resend => format!("{n} {what} resent{who}"),
        Bulk::Cancel => format!("{n} {what} cancelled{who}"),
    }
}

/// What the Pending invites form asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BulkStep {
    /// "Cancel selected": first a page that names them and asks.
    AskToCancel,
    Do(Bulk),
}

/// Resend or cancel several pending invites at once, each only if the caller may;
/// cancelling goes through a confirmation page first.
pub async fn bulk(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form = FormFields::parse(&body)?;
    let ids: Vec<InviteId> = form.ids("invite")?.into_iter().map(InviteId).collect();
    let step = bulk_step(&form)?;
    if ids.is_empty() {
        let back = format!("/orgs/{}/invites", ctx.membership.org_id);
        return Ok(redirect_with(&session, &back, FlashKind::Error, "Select at least one invite."));
    }
    match step {
        BulkStep::AskToCancel => {
            let picked = invites::selected_in_firm(&state.db, ctx.user.user_id(), ctx.membership.org_id, ids).await?;
            render(BulkCancelPage::new(&session, &ctx, picked))
        }
        BulkStep::Do(action) => run_bulk(&state, &session, &ctx, ids, action).await,
    }
}

async fn run_bulk(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    ids: Vec<InviteId>,
    action: Bulk,
) -> Result<HttpResponse, AppError> {
    let back = format!("/orgs/{}/invites", ctx.membership.org_id);
    let (actor, org) = (ctx.user.user_id(), ctx.membership.org_id);
    match invites::bulk(&state.db, actor, org, ids, action, state.invite_settings()).await {
        Ok(done) => {
            if action == Bulk::Resend {
                state.wake_mailer();
            }
            Ok(redirect_with(session, &back, FlashKind::Success, bulk_words(action, &done)))
        }
        Err(ActionError::Limited(r)) => {
            Ok(redirect_with(session, &back, FlashKind::Error, format!("{} Nothing was resent.", r.message())))
        }
        Err(e) => Err(e.into()),
    }
}

fn bulk_step(form: &FormFields) -> Result<BulkStep, AppError> {
    match form.get("action") {
        "resend" => Ok(BulkStep::Do(Bulk::Resend)),
        "cancel" => Ok(BulkStep::AskToCancel),
        "confirm-cancel" => Ok(BulkStep::Do(Bulk::Cancel)),
        _ => Err(AppError::BadRequest("Choose Resend or Cancel.".into())),
    }
}

/// "Cancel selected": the selected invites, named, with "Cancel N invites" and "Keep them".
#[derive(Template)]
#[template(path = "team/bulk_cancel.html")]
pub struct BulkCancelPage {
    l: Layout,
    org_id: i64,
    invites: Vec<PendingView>,
}

impl BulkCancelPage {
    fn new(session: &Session, ctx: &OrgContext, picked: Vec<FirmInvite>) -> BulkCancelPage {
        let org = ctx.membership.org_id.0;
        BulkCancelPage {
            l: Layout::org(session, "Cancel invites", ctx, "pending"),
            org_id: org,
            invites: picked.into_iter().map(|f| PendingView::new(org, f)).collect(),
        }
    }

    /// "1 invite", "3 invites".
    fn count_words(&self) -> String {
        match self.invites.len() {
            1 => "1 invite".into(),
            n => format!("{n} invites"),
        }
    }
}
