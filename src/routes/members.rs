//! Settings → Members: the people of a client's workspace, their invites, and the ⋯ actions
//! on members (the invites' own ⋯ actions are in `invite_actions`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::{end_date, refused_on_form, EndField, FormFields, Losing, Said};
use super::list::ListNav;
#[allow(unused_imports)]
use super::{delivery_words, redirect, redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::session::FlashKind;
use crate::auth::WorkspaceContext;
use crate::db::models::audit::{self, AuditAction, EventRow};
use crate::db::models::entity::Entity;
use crate::domain::access::{self as rules, Access, Kind, Refusal, WorkspaceAction};
use crate::domain::listing::{ListParams, ListQuery, Page};
use crate::domain::{EmailAddress, EndDate, EntityId, OrgRole, UserId, WorkspaceRole};
use crate::email::invite_link;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::invites::{EditableInvite, Offered, PendingLine};
use crate::usecases::members::{self as uc, InviteRequest, MemberLine, Shown, Target};
use crate::usecases::{ActionError, Configured, Conflict};

fn members_url(ctx: &WorkspaceContext) -> String {
    format!("/w/{}/settings/members", ctx.access.workspace.id)
}

fn require(ctx: &WorkspaceContext, action: WorkspaceAction) -> Result<(), AppError> {
    if rules::may(&ctx.access.standing, action) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Refusal::Role.message()))
    }
}

pub async fn settings_home(ctx: WorkspaceContext) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::ViewMembers)?;
    Ok(redirect(&members_url(&ctx)))
}

/// Entity access in words: short for the table, full for its tooltip.
/// "All entities"; "Acme LLC, Acme Holdings, +2 more"; "Acme LLC, +2 entities you cannot see".
fn access_words(s: &Shown) -> (String, String) {
    if s.all {
        return ("All entities".into(), "All current and future entities".into());
    }
    let hidden = match s.hidden {
        0 => None,
        1 => Some("1 entity you cannot see".to_string()),
        n => Some(format!("{n} entities you cannot see")),
    };
    let full = match (s.names.is_empty(), &hidden) {
        (true, None) => "No entities".to_string(),
        (true, Some(h)) => h.clone(),
        (false, None) => s.names.join(", "),
        (false, Some(h)) => format!("{}, +{h}", s.names.join(", ")),
    };
    let short = if s.names.len() > 2 {
        let more = s.names.len() - 2 + s.hidden;
        format!("{}, +{more} more", s.names[..2].join(", "))
    } else {
        full.clone()
    };
    (short, full)
}

pub struct MemberView {
    user_id: i64,
    name: String,
    email: String,
    role: &'static str,
    access: String,
    access_full: String,
    /// "Firm Admin", "Firm Manager", "Firm Member" for the firm's staff.
    staff: Option<&'static str>,
    /// Firm staff: what the Team page decides for them.
    team_note: Option<&'static str>,
    invited_by: Option<String>,
    since: chrono::NaiveDateTime,
    /// "31 Mar 2027": when their access here ends by itself.
    until: Option<String>,
    two_factor: bool,
    can_configure: bool,
    can_remove: bool,
    is_you: bool,
}

impl MemberView {
    fn label(&self) -> &str {
        super::display_name(&self.name, &self.email)
    }

    fn new(m: MemberLine, me: UserId) -> MemberView {
        let (access, access_full) = access_words(&m.access);
        let (staff, team_note) = match m.kind {
            Kind::Client => (None, None),
            Kind::FirmLead(OrgRole::Admin) => (Some("Firm Admin"), Some("managed on the Team page")),
            Kind::FirmLead(_) => (Some("Firm Manager"), Some("managed on the Team page")),
            Kind::FirmMember => (Some("Firm Member"), Some("client access set on the Team page")),
        };
        MemberView {
            user_id: m.user.0,
            role: m.role.label(),
            staff,
            team_note,
            can_configure: m.can_configure,
            can_remove: m.can_remove,
            is_you: m.user == me,
            name: m.name,
            email: m.email,
            invited_by: m.invited_by,
            since: m.since,
            until: m.until.map(|u| EndDate::of(u).words()),
            two_factor: m.two_factor,
            access,
            access_full,
        }
    }
}

/// A pending invite's row, on the Members and Team pages alike.
pub struct InviteView {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub access: String,
    pub access_full: String,
    pub invited_by: String,
    pub sent: chrono::NaiveDateTime,
    pub expires: chrono::NaiveDateTime,
    pub expired: bool,
    pub delivery: (String, &'static str),
    pub reminder_sent: bool,
    pub can_manage: bool,
    /// The link, for the ⋯ menu's "Copy invite link" (empty for those who may not copy it).
    pub link: String,
}

impl InviteView {
    /// A row for the Members or Team page: what both show, with the role and access in words.
    pub fn new(state: &AppState, p: PendingLine, role: &'static str, (access, access_full): (String, String)) -> Self {
        let expired = p.expires_at <= crate::db::models::now();
        InviteView {
            id: p.id.0,
            role,
            access,
            access_full,
            invited_by: p.invited_by,
            sent: p.created_at,
            expires: p.expires_at,
            expired,
            delivery: delivery_words(&p.delivery),
            reminder_sent: p.reminder_sent,
            can_manage: p.can_manage,
            // An expired invite's link is dead: its row offers "Renew and copy link" instead.
            link: p
                .nonce
                .filter(|_| !expired)
                .map(|n| invite_link(&state.public_url, &state.invite_key, &n))
                .unwrap_or_default(),
            email: p.email,
        }
    }
}

#[derive(Template)]
#[template(path = "members/list.html")]
pub struct MembersPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    members: Vec<MemberView>,
    invites: Vec<InviteView>,
    /// Where the ⋯ actions of the invite rows live.
    invites_base: String,
    can_invite: bool,
    can_view_activity: bool,
    nav: ListNav,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let query = ListQuery::parse(&params).with_roles(WORKSPACE_ROLES);
    let data = uc::list(&state.db, &ctx.access, query.clone()).await?;
    let me = ctx.user.user_id();
    let at: Page<()> = Page { rows: Vec::new(), previous: data.previous, next: data.next };
    let nav = ListNav::new(members_url(&ctx), &query, &at, "Search by name or email")
        .with_roles(WORKSPACE_ROLES)
        .with_people_and_invites(data.active, &data.invite_counts, false);
    render(MembersPage {
        nav,
        l: Layout::workspace(&session, "Members", &ctx, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        members: data.members.into_iter().map(|m| MemberView::new(m, me)).collect(),
        invites: data
            .invites
            .into_iter()
            .map(|i| InviteView::new(&state, i.pending, i.role.label(), access_words(&i.access)))
            .collect(),
        invites_base: format!("/w/{}/settings/invites", ctx.access.workspace.id),
        can_invite: rules::may(&ctx.access.standing, WorkspaceAction::Invite),
        can_view_activity: rules::may(&ctx.access.standing, WorkspaceAction::ViewActivity),
    })
}

/// The role filter of the Members page.
const WORKSPACE_ROLES: &[(&str, &str)] = &[("admin", "Admin"), ("accountant", "Accountant"), ("member", "Member")];

pub struct RoleOption {
    value: &'static str,
    label: &'static str,
    description: &'static str,
}

pub struct EntityOption {
    id: i64,
    name: String,
    checked: bool,
}

/// The role and entity choices of the invite and Configure forms: only what the caller may give.
pub struct Choices {
    role: String,
    roles: Vec<RoleOption>,
    entities: Vec<EntityOption>,
    /// "All entities, current and future": offered to those who hold all themselves.
    can_give_all: bool,
    all: bool,
    /// The Admin role is offered (an Admin needs no entity).
    admin_offered: bool,
    /// "invite them as Admin" or "make them an Admin".
    as_admin: &'static str,
    /// What is wrong with the entity list, shown next to it.
    error: Option<String>,
}

impl Choices {
    fn new(ctx: &WorkspaceContext, grantable: Vec<Entity>, role: &str, checked: &Access<EntityId>) -> Choices {
        let roles = rules::roles_to_offer(&ctx.access.standing);
        Choices {
            can_give_all: rules::may_give_all_entities(&ctx.access.standing),
            all: checked.is_all(),
            role: role.to_string(),
            admin_offered: roles.contains(&WorkspaceRole::Admin),
            as_admin: "invite them as Admin",
            error: None,
            roles: roles
                .into_iter()
                .map(|r| RoleOption { value: r.as_str(), label: r.label(), description: r.description() })
                .collect(),
            entities: grantable
                .into_iter()
                .map(|e| EntityOption {
                    checked: !checked.is_all() && checked.contains(e.id),
                    id: e.id.0,
                    name: e.name,
                })
                .collect(),
        }
    }

    fn with_error(self, error: Option<String>) -> Choices {
        Choices { error, ..self }
    }
}

#[derive(Default)]
pub struct InviteErrors {
    email: Option<String>,
    role: Option<String>,
    entities: Option<String>,
    ends: Option<String>,
}

pub enum Existing {
    Member,
    /// On the firm's own team: their client access is given on the Team page.
    FirmStaff,
    Invited(i64),
    /// An invite limit is reached: its message (which limit, and when it frees up).
    Limited(String),
}

#[derive(Template)]
#[template(path = "members/invite.html")]
pub struct InvitePage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    email: String,
    choices: Choices,
    end: EndField,
    errors: InviteErrors,
    existing: Option<Existing>,
}

/// What the invite form holds when it is shown (again).
struct InviteInput {
    email: String,
    role: String,
    checked: Access<EntityId>,
    ends: String,
}

fn invite_page(
    session: &Session,
    ctx: &WorkspaceContext,
    grantable: Vec<Entity>,
    input: InviteInput,
    errors: InviteErrors,
    existing: Option<Existing>,
) -> InvitePage {
    InvitePage {
        l: Layout::workspace(session, invite_heading(ctx), ctx, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        choices: Choices::new(ctx, grantable, &input.role, &input.checked).with_error(errors.entities.clone()),
        end: EndField::new("Access ends", EndField::SEAT_HINT, input.ends, errors.ends.clone()),
        email: input.email,
        errors,
        existing,
    }
}

/// The invite form's heading: what "Add team" does, here.
fn invite_heading(ctx: &WorkspaceContext) -> String {
    format!("Invite someone to {}", ctx.access.workspace.name)
}

pub async fn invite_form(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::Invite)?;
    let grantable = uc::grantable_entities(&state.db, &ctx.access).await?;
    let input =
        InviteInput { email: String::new(), role: "member".into(), checked: Access::none(), ends: String::new() };
    render(invite_page(&session, &ctx, grantable, input, InviteErrors::default(), None))
}

/// A role from a form: missing is a message on the form; anything but the three roles is forged.
fn parse_role(form: &FormFields) -> Result<Option<WorkspaceRole>, AppError> {
    if !form.has("role") {
        return Ok(None);
    }
    WorkspaceRole::parse(form.get("role"))
        .map(Some)
        .ok_or_else(|| AppError::BadRequest("That role does not exist.".into()))
}

fn ids_of(entities: &[Entity]) -> Vec<EntityId> {
    entities.iter().map(|e| e.id).collect()
}

/// The single entities ticked, and with "Select all" every entity the form listed
/// (`listed`: the ones the caller may give). An id outside the list stays in, for the
/// rules to refuse.
fn ticked_or_listed(form: &FormFields, listed: &[EntityId]) -> Result<Access<EntityId>, AppError> {
    let ids = form.ids("entity")?.into_iter().map(EntityId);
    let every = if form.get("select_all") == "on" { listed } else { &[] };
    Ok(Access::only(ids.chain(every.iter().copied())))
}

/// The entities chosen on a form: ticked, "Select all", or "All entities, current and
/// future"; "all" with single entities is a mistake to show on the form (the page's script
/// prevents it; without it, it can happen).
fn entity_access(form: &FormFields, listed: &[EntityId]) -> Result<Result<Access<EntityId>, &'static str>, AppError> {
    let chosen = ticked_or_listed(form, listed)?;
    Ok(match (form.get("all_entities") == "on", chosen.is_empty()) {
        (true, true) => Ok(Access::All),
        (true, false) => Err(BOTH),
        (false, _) => Ok(chosen),
    })
}

const BOTH: &str = "Choose either \"All entities, current and future\" or some entities, not both.";

/// The invite form, parsed: the request, or the form again with what is wrong.
fn parse_invite(
    form: &FormFields,
    listed: &[EntityId],
) -> Result<Result<InviteRequest, (InviteInput, InviteErrors)>, AppError> {
    let (role, entities) = (parse_role(form)?, entity_access(form, listed)?);
    // Said with the other mistakes at once; the use case asks the same rule again.
    let nothing = match (role, &entities) {
        (Some(role), Ok(e)) => rules::grants_something(&rules::grant(role, e.clone())).err().map(|r| r.message()),
        _ => None,
    };
    let input = InviteInput {
        email: form.get("email").to_string(),
        role: role.map_or("", |r| r.as_str()).to_string(),
        checked: entities.clone().or_else(|_| ticked_or_listed(form, listed))?,
        ends: form.get("ends").to_string(),
    };
    Ok(match (EmailAddress::parse(form.get("email")), role, entities, nothing, end_date(form)) {
        (Ok(email), Some(role), Ok(entities), None, Ok(ends)) => Ok(InviteRequest { email, role, entities, ends }),
        (email, role, entities, nothing, ends) => Err((
            input,
            InviteErrors {
                email: email.err().map(String::from),
                role: role.is_none().then(|| "Choose a role.".to_string()),
                entities: entities.err().or(nothing).map(String::from),
                ends: ends.err().map(String::from),
            },
        )),
    })
}

pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::Invite)?;
    let grantable = uc::grantable_entities(&state.db, &ctx.access).await?;
    let req = match parse_invite(&FormFields::parse(&body)?, &ids_of(&grantable))? {
        Ok(req) => req,
        Err((input, errors)) => {
            let page = invite_page(&session, &ctx, grantable, input, errors, None);
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let email = req.email.to_string();
    let input = InviteInput {
        email: email.clone(),
        role: req.role.as_str().into(),
        checked: req.entities.clone(),
        ends: req.ends.map(|e| e.iso()).unwrap_or_default(),
    };
    let (actor, ws) = (ctx.user.user_id(), ctx.access.workspace.id);
    let (status, existing, errors) = match uc::invite(&state.db, actor, ws, req, state.invite_settings()).await {
        Ok(_) => return Ok(invite_sent(&state, &session, &ctx, &email)),
        Err(e) => invite_refused(e)?,
    };
    render_with_status(status, invite_page(&session, &ctx, grantable, input, errors, existing))
}

/// An invite that was not made: what the form says, and with which status.
fn invite_refused(e: ActionError) -> Result<(StatusCode, Option<Existing>, InviteErrors), AppError> {
    let existing = match e {
        ActionError::Refused(why) if why.is_about_the_list() => {
            let errors = InviteErrors { entities: Some(why.message().into()), ..InviteErrors::default() };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, None, errors));
        }
        ActionError::Conflict(Conflict::AlreadyMember) => Existing::Member,
        ActionError::Conflict(Conflict::FirmStaff) => Existing::FirmStaff,
        ActionError::Conflict(Conflict::AlreadyInvited(id)) => Existing::Invited(id.0),
        ActionError::Limited(r) => Existing::Limited(r.message()),
        e => return Err(e.into()),
    };
    let status =
        if matches!(existing, Existing::Limited(_)) { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::CONFLICT };
    Ok((status, Some(existing), InviteErrors::default()))
}

fn invite_sent(state: &AppState, session: &Session, ctx: &WorkspaceContext, email: &str) -> HttpResponse {
    state.wake_mailer();
    // Queued, not sent: the outbox sends it, and the row's badge then says how that went.
    let message = format!("Invite to {email} queued{}", state.mailbox_hint());
    redirect_with(session, &members_url(ctx), FlashKind::Success, message)
}

/// ⋯ → Edit invite, for an invite into this workspace: its role and entities.
#[derive(Template)]
#[template(path = "members/edit_invite.html")]
pub struct EditInvitePage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    id: i64,
    email: String,
    choices: Choices,
    error: Option<String>,
}

async fn edit_invite_page(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    inv: &EditableInvite,
    (role, checked): (&str, &Access<EntityId>),
    said: Said,
) -> Result<EditInvitePage, AppError> {
    let grantable = uc::grantable_entities(&state.db, &ctx.access).await?;
    let mut choices = Choices::new(ctx, grantable, role, checked);
    let mut error = None;
    match said {
        Said::Error(e) => error = Some(e),
        Said::ListError(e) => choices.error = Some(e),
        Said::Nothing | Said::WouldLose(_) => {}
    }
    Ok(EditInvitePage {
        l: Layout::workspace(session, "Edit invite", ctx, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        id: inv.id.0,
        email: inv.email.clone(),
        choices,
        error,
    })
}

/// The Edit invite form of an invite into this workspace, prefilled with what it offers.
pub(super) async fn edit_invite_form(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    inv: EditableInvite,
) -> Result<HttpResponse, AppError> {
    let Offered::Workspace(seat) = &inv.offer else {
        return Err(AppError::NotFound);
    };
    let input = (seat.role.as_str(), &seat.entities);
    render(edit_invite_page(state, session, ctx, &inv, input, Said::Nothing).await?)
}

/// "Update invite" for an invite into this workspace: the role and entities of the form
/// (with "Select all": every entity the editor may give).
pub(super) async fn update_invite(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    inv: EditableInvite,
    form: &FormFields,
) -> Result<HttpResponse, AppError> {
    let listed = ids_of(&uc::grantable_entities(&state.db, &ctx.access).await?);
    let (role, entities) = (parse_role(form)?, entity_access(form, &listed)?);
    let (actor, ws) = (ctx.user.user_id(), ctx.access.workspace.id);
    let saved = match (role, entities.clone()) {
        (Some(role), Ok(entities)) => uc::update_invite(&state.db, actor, ws, inv.id, role, entities).await,
        (None, _) => Err(ActionError::Invalid(CHOOSE_A_ROLE)),
        (_, Err(both)) => Err(ActionError::Invalid(both)),
    };
    let (status, said) = match saved {
        Ok(done) => {
            let words = super::invite_actions::updated_words(&done, &format!("for {}", ctx.access.workspace.name));
            return Ok(redirect_with(session, &members_url(ctx), FlashKind::Success, words));
        }
        Err(e) => form_message(e)?,
    };
    let checked = entities.or_else(|_| ticked_or_listed(form, &listed))?;
    let page = edit_invite_page(state, session, ctx, &inv, (role.map_or("", |r| r.as_str()), &checked), said).await?;
    render_with_status(status, page)
}

const CHOOSE_A_ROLE: &str = "Choose a role.";

fn target_id(req: &HttpRequest) -> Result<UserId, AppError> {
    path_id(req, "user").map(UserId)
}

#[derive(Template)]
#[template(path = "members/permissions.html")]
pub struct PermissionsPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    member: Target,
    firm_member: bool,
    is_you: bool,
    choices: Choices,
    /// "Access ends", for the client's own people (firm staff's is on the Team page).
    end: Option<EndField>,
    error: Option<String>,
    losing: Option<Losing>,
}

impl PermissionsPage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

fn permissions_page(
    session: &Session,
    ctx: &WorkspaceContext,
    member: Target,
    grantable: Vec<Entity>,
    (role, checked): (&str, &Access<EntityId>),
    (ends, ends_error): (String, Option<String>),
    said: Said,
) -> PermissionsPage {
    let end = (member.standing.kind == Kind::Client)
        .then(|| EndField::new("Access ends", EndField::SEAT_HINT, ends, ends_error));
    let mut choices = Choices::new(ctx, grantable, role, checked);
    choices.as_admin = "make them an Admin";
    let (mut error, mut losing) = (None, None);
    match said {
        Said::Nothing => {}
        Said::Error(e) => error = Some(e),
        Said::ListError(e) => choices.error = Some(e),
        Said::WouldLose(l) => losing = Some(l),
    }
    PermissionsPage {
        l: Layout::workspace(session, "Configure permissions", ctx, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        choices,
        end,
        firm_member: member.standing.kind == Kind::FirmMember,
        is_you: member.user == ctx.user.user_id(),
        member,
        error,
        losing,
    }
}

pub async fn permissions_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.access, target_id(&req)?).await?;
    let grantable = uc::grantable_entities(&state.db, &ctx.access).await?;
    let role = member.standing.role.as_str();
    let checked = member.standing.entities.clone();
    let ends = (member.ends.map(|e| e.iso()).unwrap_or_default(), None);
    render(permissions_page(&session, &ctx, member, grantable, (role, &checked), ends, Said::Nothing))
}

/// A change as a form states it ("member:3,5", "accountant:all"): what "Save and lose this
/// access" confirms.
fn change_key(role: WorkspaceRole, chosen: &Access<EntityId>) -> String {
    let entities = match chosen.chosen() {
        None => "all".to_string(),
        Some(set) => set.iter().map(|e| e.0.to_string()).collect::<Vec<_>>().join(","),
    };
    format!("{}:{entities}", role.as_str())
}

// Over 30 lines, knowingly: its three answers (a bad end date shown on the form, saved, or
// the loss to confirm or the refusal shown on the form) all rebuild the same page from what
// was typed; the decisions are the use case's (`uc::configure`).
pub async fn configure(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.access, target_id(&req)?).await?;
    let grantable = uc::grantable_entities(&state.db, &ctx.access).await?;
    let form = FormFields::parse(&body)?;
    let role = parse_role(&form)?.ok_or_else(|| AppError::BadRequest("Choose a role.".into()))?;
    let entities = entity_access(&form, &ids_of(&grantable))?;
    let checked = entities.clone().or_else(|_| ticked_or_listed(&form, &ids_of(&grantable)))?;
    let key = change_key(role, &checked);
    let (actor, ws, who) = (ctx.user.user_id(), ctx.access.workspace.id, member.user);
    let typed = form.get("ends").to_string();
    let ends = match end_date(&form) {
        Ok(ends) => ends,
        Err(e) => {
            let input = (typed, Some(e.to_string()));
            let page =
                permissions_page(&session, &ctx, member, grantable, (role.as_str(), &checked), input, Said::Nothing);
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let saved = match entities {
        Ok(entities) => {
            let change = uc::SeatChange { role, entities, ends };
            uc::configure(&state.db, actor, ws, who, change, form.get("confirm_loss") == key).await
        }
        Err(both) => Err(ActionError::Invalid(both)),
    };
    let (status, said) = match saved {
        Ok(Configured::Saved) => return Ok(configured(&session, &ctx, &member, role)),
        Ok(Configured::WouldLose(items)) => (StatusCode::OK, Said::WouldLose(Losing { items, key })),
        Err(e) => form_message(e)?,
    };
    let page = permissions_page(&session, &ctx, member, grantable, (role.as_str(), &checked), (typed, None), said);
    render_with_status(status, page)
}

/// After a save: back to the Members page, or (for someone who has just taken it from
/// themselves) to the workspace's entities.
fn configured(session: &Session, ctx: &WorkspaceContext, member: &Target, role: WorkspaceRole) -> HttpResponse {
    let who = super::display_name(&member.name, &member.email);
    let message = format!("Permissions of {who} in {} updated", ctx.access.workspace.name);
    let after = rules::Standing { role, ..ctx.access.standing.clone() };
    let to = if member.user == ctx.user.user_id() && !rules::may(&after, WorkspaceAction::ViewMembers) {
        format!("/w/{}/entities", ctx.access.workspace.id)
    } else {
        members_url(ctx)
    };
    redirect_with(session, &to, FlashKind::Success, message)
}

/// What a refused change says on its form, and with which status; or the error page it gets.
fn form_message(e: ActionError) -> Result<(StatusCode, Said), AppError> {
    match e {
        ActionError::Invalid(BOTH) => Ok((StatusCode::UNPROCESSABLE_ENTITY, Said::ListError(BOTH.into()))),
        ActionError::Invalid(CHOOSE_A_ROLE) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Said::Error(CHOOSE_A_ROLE.into())))
        }
        other => refused_on_form(other),
    }
}

#[derive(Template)]
#[template(path = "members/remove.html")]
pub struct RemovePage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    member: Target,
    error: Option<String>,
}

impl RemovePage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }

    fn new(session: &Session, ctx: &WorkspaceContext, member: Target, error: Option<String>) -> RemovePage {
        RemovePage {
            l: Layout::workspace(session, "Remove from workspace", ctx, "settings"),
            ws_id: ctx.access.workspace.id.0,
            ws_name: ctx.access.workspace.name.clone(),
            member,
            error,
        }
    }
}

pub async fn remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::removal_target(&state.db, &ctx.access, target_id(&req)?).await?;
    render(RemovePage::new(&session, &ctx, member, None))
}

pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.access, target_id(&req)?).await?;
    let (actor, ws) = (ctx.user.user_id(), ctx.access.workspace.id);
    match uc::remove(&state.db, actor, ws, member.user).await {
        Ok(_) if member.user == actor => {
            let message = format!("You left {}", ctx.access.workspace.name);
            Ok(redirect_with(&session, "/", FlashKind::Success, message))
        }
        Ok(name) => {
            let message = format!("{name}'s access to {} removed", ctx.access.workspace.name);
            Ok(redirect_with(&session, &members_url(&ctx), FlashKind::Success, message))
        }
        Err(ActionError::Refused(why)) if why.is_form_message() => {
            let page = RemovePage::new(&session, &ctx, member, Some(why.message().into()));
            render_with_status(StatusCode::CONFLICT, page)
        }
        Err(e) => Err(e.into()),
    }
}

pub struct EventView {
    actor: String,
    verb: &'static str,
    target: String,
    detail: String,
    at: chrono::NaiveDateTime,
}

#[derive(Template)]
#[template(path = "members/activity.html")]
pub struct ActivityPage {
    l: Layout,
    ws_id: i64,
    events: Vec<EventView>,
    nav: ListNav,
}

pub async fn activity(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::ViewActivity)?;
    let (org, ws) = (ctx.access.workspace.org_id, ctx.access.workspace.id);
    let query = ListQuery::parse(&params);
    let page = state.db.read({
        let query = query.clone();
        move |c| audit::page(c, org, ws, &query)
    });
    let page = page.await?.map(EventView::new);
    let nav = ListNav::new(format!("/w/{ws}/settings/activity"), &query, &page, "Search by name or email");
    render(ActivityPage {
        l: Layout::workspace(&session, "Activity", &ctx, "settings"),
        ws_id: ws.0,
        events: page.rows,
        nav,
    })
}

impl EventView {
    fn new(e: EventRow) -> EventView {
        EventView {
            // No actor: Portico itself (an access that reached its end date).
            actor: e.actor_name.or(e.actor_email).unwrap_or_else(|| "Portico".into()),
            verb: AuditAction::label_of(&e.action),
            target: e.target,
            detail: e.detail,
            at: e.at,
        }
    }
}

/// "Extend" (from the "access ends soon" email, or the ⋯ menu): a client's access ends later.
#[derive(Template)]
#[template(path = "members/extend.html")]
pub struct ExtendPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    member: Target,
    /// The current end date, in words; None when their access has no end date.
    current: Option<String>,
    end: EndField,
}

impl ExtendPage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }

    fn new(session: &Session, ctx: &WorkspaceContext, member: Target, typed: Option<(String, String)>) -> ExtendPage {
        let proposed = member.ends.map(|e| e.plus_days(uc::EXTEND_DAYS));
        let (value, error) = match typed {
            Some((value, error)) => (value, Some(error)),
            None => (proposed.map(|e| e.iso()).unwrap_or_default(), None),
        };
        ExtendPage {
            l: Layout::workspace(session, "Extend access", ctx, "settings"),
            ws_id: ctx.access.workspace.id.0,
            ws_name: ctx.access.workspace.name.clone(),
            current: member.ends.map(|e| e.words()),
            end: EndField::new("New end date", "On that date their access ends by itself.", value, error),
            member,
        }
    }
}

pub async fn extend_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.access, target_id(&req)?).await?;
    render(ExtendPage::new(&session, &ctx, member, None))
}

pub async fn extend(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let member = uc::target(&state.db, &ctx.access, target_id(&req)?).await?;
    let form = FormFields::parse(&body)?;
    let typed = form.get("ends").to_string();
    let ends = match end_date(&form) {
        Ok(Some(ends)) => ends,
        Ok(None) => return refused_extend(&session, &ctx, member, typed, "Choose the new end date."),
        Err(e) => return refused_extend(&session, &ctx, member, typed, e),
    };
    let (actor, ws) = (ctx.user.user_id(), ctx.access.workspace.id);
    match uc::extend(&state.db, actor, ws, member.user, ends).await {
        Ok(name) => {
            let message = format!("{name}'s access to {} extended until {}", ctx.access.workspace.name, ends.words());
            Ok(redirect_with(&session, &members_url(&ctx), FlashKind::Success, message))
        }
        Err(ActionError::Invalid(why)) => refused_extend(&session, &ctx, member, typed, why),
        Err(e) => Err(e.into()),
    }
}

fn refused_extend(
    session: &Session,
    ctx: &WorkspaceContext,
    member: Target,
    typed: String,
    why: &str,
) -> Result<HttpResponse, AppError> {
    let page = ExtendPage::new(session, ctx, member, Some((typed, why.to_string())));
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page)
}
