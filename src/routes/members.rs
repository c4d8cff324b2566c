//! Settings → Members: the people of a client's workspace, their invites, and the ⋯ actions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::FormFields;
#[allow(unused_imports)]
use super::{delivery_words, redirect, redirect_with, render, render_with_status, InviteLinkPage, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::session::FlashKind;
use crate::auth::WorkspaceContext;
use crate::db::models::audit::{self, AuditAction, EventRow};
use crate::db::models::entity::{self, Entity};
use crate::db::models::invite::{self, Invite, NewInvite, NewInviteError, ResendError};
use crate::db::models::members::{self, Member, MemberError, MemberRow};
use crate::domain::permissions::{workspace_allows, WorkspaceAction};
use crate::domain::{EmailAddress, EntityId, InviteId, UserId, WorkspaceRole};
use crate::email::invite_link;
use crate::error::AppError;
use crate::startup::AppState;

fn members_url(ctx: &WorkspaceContext) -> String {
    format!("/w/{}/settings/members", ctx.access.workspace.id)
}

fn require(ctx: &WorkspaceContext, action: WorkspaceAction) -> Result<(), AppError> {
    if workspace_allows(ctx.access.role, action) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Your role in this workspace does not allow this. Ask a workspace Admin.",
        ))
    }
}

pub async fn settings_home(ctx: WorkspaceContext) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::ViewMembers)?;
    Ok(redirect(&members_url(&ctx)))
}

/// "All entities", "Acme LLC", "Acme LLC, Acme Holdings, +2 more".
fn access_summary(entities: &Option<Vec<Entity>>) -> (String, String) {
    match entities {
        None => ("All entities".into(), "All current and future entities".into()),
        Some(list) if list.is_empty() => ("No entities".into(), "No entities".into()),
        Some(list) => {
            let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
            let full = names.join(", ");
            let short = if names.len() > 2 {
                format!("{}, +{} more", names[..2].join(", "), names.len() - 2)
            } else {
                full.clone()
            };
            (short, full)
        }
    }
}

pub struct MemberView {
    user_id: i64,
    name: String,
    email: String,
    role: &'static str,
    access: String,
    access_full: String,
    staff: Option<&'static str>,
    invited_by: Option<String>,
    since: chrono::NaiveDateTime,
    can_configure: bool,
    can_remove: bool,
    is_you: bool,
}

impl MemberView {
    fn label(&self) -> &str {
        super::display_name(&self.name, &self.email)
    }
}

pub struct InviteView {
    id: i64,
    email: String,
    role: &'static str,
    access: String,
    access_full: String,
    invited_by: String,
    sent: chrono::NaiveDateTime,
    expires: chrono::NaiveDateTime,
    expired: bool,
    delivery: (&'static str, &'static str),
    can_manage: bool,
    link: String,
}

#[derive(Template)]
#[template(path = "members/list.html")]
pub struct MembersPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    members: Vec<MemberView>,
    invites: Vec<InviteView>,
    can_invite: bool,
    can_view_activity: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::ViewMembers)?;
    let ws = ctx.access.workspace.clone();
    let data = state.db.read(move |c| Ok(members::list(c, &ws)?)).await?;
    let me = ctx.user.id;
    let role = ctx.access.role;
    let now = crate::db::models::now();
    let members = data
        .members
        .into_iter()
        .map(|m: MemberRow| {
            let (access, access_full) = access_summary(&m.entities);
            let manage = workspace_allows(role, WorkspaceAction::ManageMember(m.role));
            MemberView {
                user_id: m.user_id.0,
                access,
                access_full,
                role: m.role.label(),
                staff: m.staff.map(|r| r.label()),
                can_configure: manage,
                can_remove: manage && m.staff.is_none(),
                is_you: m.user_id.0 == me,
                name: m.name,
                email: m.email,
                invited_by: m.invited_by,
                since: m.since,
            }
        })
        .collect();
    let invites = data
        .invites
        .into_iter()
        .map(|i| {
            let (access, access_full) = access_summary(&i.entities);
            let can_manage = workspace_allows(role, WorkspaceAction::ManageMember(i.role));
            InviteView {
                id: i.id.0,
                access,
                access_full,
                role: i.role.label(),
                invited_by: i.invited_by,
                sent: i.created_at,
                expires: i.expires_at,
                expired: i.expires_at <= now,
                delivery: delivery_words(&i.delivery),
                can_manage,
                link: if can_manage {
                    invite_link(&state.public_url, &state.invite_key, &i.nonce)
                } else {
                    String::new()
                },
                email: i.email,
            }
        })
        .collect();
    render(MembersPage {
        l: Layout::workspace(&session, "Members", &ctx.user, &ctx.access, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        members,
        invites,
        can_invite: workspace_allows(role, WorkspaceAction::GrantRole(WorkspaceRole::Member)),
        can_view_activity: workspace_allows(role, WorkspaceAction::ViewActivity),
    })
}

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

/// The role choices the caller may give: nobody grants a role above their own.
fn role_options(actor: WorkspaceRole) -> Vec<RoleOption> {
    WorkspaceRole::ALL
        .into_iter()
        .filter(|r| workspace_allows(actor, WorkspaceAction::GrantRole(*r)))
        .map(|r| RoleOption {
            value: r.as_str(),
            label: r.label(),
            description: r.description(),
        })
        .collect()
}

/// The entities the caller may grant: the ones they can see themselves.
fn entity_options(ctx: &WorkspaceContext, all: Vec<Entity>, checked: &[EntityId]) -> Vec<EntityOption> {
    all.into_iter()
        .filter(|e| ctx.access.can_see_entity(e.id))
        .map(|e| EntityOption {
            checked: checked.contains(&e.id),
            id: e.id.0,
            name: e.name,
        })
        .collect()
}

#[derive(Default)]
pub struct InviteErrors {
    email: Option<String>,
    role: Option<String>,
}

pub enum Existing {
    Member,
    Invited(i64),
}

#[derive(Template)]
#[template(path = "members/invite.html")]
pub struct InvitePage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    email: String,
    role: String,
    roles: Vec<RoleOption>,
    entities: Vec<EntityOption>,
    errors: InviteErrors,
    existing: Option<Existing>,
}

/// What the invite form holds when it is shown again.
struct InviteInput {
    email: String,
    role: String,
    checked: Vec<EntityId>,
}

async fn invite_page(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    input: InviteInput,
    errors: InviteErrors,
    existing: Option<Existing>,
) -> Result<InvitePage, AppError> {
    let InviteInput { email, role, checked } = input;
    let ws = ctx.access.workspace.id;
    let all = state.db.read(move |c| Ok(entity::all_in(c, ws)?)).await?;
    Ok(InvitePage {
        l: Layout::workspace(session, "Add team", &ctx.user, &ctx.access, "settings"),
        ws_id: ws.0,
        ws_name: ctx.access.workspace.name.clone(),
        email,
        role,
        roles: role_options(ctx.access.role),
        entities: entity_options(ctx, all, &checked),
        errors,
        existing,
    })
}

pub async fn invite_form(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::GrantRole(WorkspaceRole::Member))?;
    render(
        invite_page(
            &state,
            &session,
            &ctx,
            InviteInput {
                email: String::new(),
                role: "member".into(),
                checked: Vec::new(),
            },
            InviteErrors::default(),
            None,
        )
        .await?,
    )
}

/// Checks a requested role and entity set against roles.md: a forged role or a foreign
/// entity is a bad request; a role or entity above the caller's own is forbidden.
fn check_grant(
    ctx: &WorkspaceContext,
    role: &str,
    entities: &[i64],
    all: &[Entity],
) -> Result<(WorkspaceRole, Vec<EntityId>), AppError> {
    let role = WorkspaceRole::parse(role).ok_or_else(|| AppError::BadRequest("That role does not exist.".into()))?;
    if !workspace_allows(ctx.access.role, WorkspaceAction::GrantRole(role)) {
        return Err(AppError::Forbidden(
            "Only a workspace Admin can give someone the Admin role.",
        ));
    }
    let entities: Vec<EntityId> = entities.iter().copied().map(EntityId).collect();
    if entities.iter().any(|e| !all.iter().any(|a| a.id == *e)) {
        return Err(AppError::BadRequest(
            "One of the chosen entities is not in this workspace.".into(),
        ));
    }
    if entities.iter().any(|e| !ctx.access.can_see_entity(*e)) {
        return Err(AppError::Forbidden(
            "You can only give access to entities you have access to yourself.",
        ));
    }
    Ok((
        role,
        if role == WorkspaceRole::Admin {
            Vec::new()
        } else {
            entities
        },
    ))
}

pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::GrantRole(WorkspaceRole::Member))?;
    let form = FormFields::parse(&body)?;
    let ws = ctx.access.workspace.clone();
    let ws_id = ws.id;
    let all = state.db.read(move |c| Ok(entity::all_in(c, ws_id)?)).await?;
    if !form.has("role") {
        let errors = InviteErrors {
            role: Some("Choose a role.".into()),
            ..Default::default()
        };
        let page = invite_page(
            &state,
            &session,
            &ctx,
            InviteInput {
                email: form.get("email").into(),
                role: String::new(),
                checked: Vec::new(),
            },
            errors,
            None,
        )
        .await?;
        return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let (role, entities) = check_grant(&ctx, form.get("role"), &form.ids("entity")?, &all)?;
    let email = match EmailAddress::parse(form.get("email")) {
        Ok(e) => e,
        Err(msg) => {
            let errors = InviteErrors {
                email: Some(msg.into()),
                ..Default::default()
            };
            let page = invite_page(
                &state,
                &session,
                &ctx,
                InviteInput {
                    email: form.get("email").into(),
                    role: role.as_str().into(),
                    checked: entities,
                },
                errors,
                None,
            )
            .await?;
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let names: Vec<&str> = all
        .iter()
        .filter(|e| entities.contains(&e.id))
        .map(|e| e.name.as_str())
        .collect();
    let detail = if role == WorkspaceRole::Admin {
        "as Admin, all entities".to_string()
    } else if names.is_empty() {
        format!("as {}, no entities", role.label())
    } else {
        format!("as {}, {}", role.label(), names.join(", "))
    };
    let (actor, ttl, key) = (ctx.user.user_id(), state.invite_ttl(), state.invite_key.clone());
    let (em, ents) = (email.clone(), entities.clone());
    let created = state
        .db
        .write(move |c| {
            let new = NewInvite {
                org: ws.org_id,
                workspace: Some(&ws),
                email: &em,
                role: role.as_str(),
                entities: &ents,
                clients: &[],
                new_clients: false,
                inviter: actor,
                ttl,
                key: &key,
                detail,
            };
            match invite::create(c, new) {
                Ok(id) => Ok(Ok(id)),
                Err(NewInviteError::AlreadyMember) => Ok(Err(Existing::Member)),
                Err(NewInviteError::AlreadyInvited(id)) => Ok(Err(Existing::Invited(id.0))),
                Err(NewInviteError::Db(e)) => Err(e.into()),
            }
        })
        .await?;
    match created {
        Ok(_) => {
            state.wake_mailer();
            Ok(redirect_with(
                &session,
                &members_url(&ctx),
                FlashKind::Success,
                format!("Invite sent to {email}{}", state.mailbox_hint()),
            ))
        }
        Err(existing) => {
            let page = invite_page(
                &state,
                &session,
                &ctx,
                InviteInput {
                    email: email.to_string(),
                    role: role.as_str().into(),
                    checked: entities,
                },
                InviteErrors::default(),
                Some(existing),
            )
            .await?;
            render_with_status(StatusCode::CONFLICT, page)
        }
    }
}

/// The member named in the path, if they are in this workspace (else not found), and
/// whether the caller may manage them.
async fn target_member(state: &AppState, req: &HttpRequest, ctx: &WorkspaceContext) -> Result<Member, AppError> {
    let user = UserId(path_id(req, "user")?);
    let ws = ctx.access.workspace.clone();
    let member = state
        .db
        .read(move |c| Ok(members::find(c, &ws, user)?))
        .await?
        .ok_or(AppError::NotFound)?;
    require(ctx, WorkspaceAction::ManageMember(member.role))?;
    Ok(member)
}

#[derive(Template)]
#[template(path = "members/permissions.html")]
pub struct PermissionsPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    member: Member,
    role: String,
    roles: Vec<RoleOption>,
    entities: Vec<EntityOption>,
    hidden_entities: usize,
    error: Option<String>,
}

impl PermissionsPage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

async fn permissions_page(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    member: Member,
    role: String,
    checked: Vec<EntityId>,
    error: Option<String>,
) -> Result<PermissionsPage, AppError> {
    let ws = ctx.access.workspace.id;
    let all = state.db.read(move |c| Ok(entity::all_in(c, ws)?)).await?;
    let hidden_entities = match &member.entities {
        Some(held) => held.iter().filter(|e| !ctx.access.can_see_entity(**e)).count(),
        None => 0,
    };
    Ok(PermissionsPage {
        l: Layout::workspace(session, "Configure permissions", &ctx.user, &ctx.access, "settings"),
        ws_id: ws.0,
        ws_name: ctx.access.workspace.name.clone(),
        role,
        roles: role_options(ctx.access.role),
        entities: entity_options(ctx, all, &checked),
        hidden_entities,
        member,
        error,
    })
}

pub async fn permissions_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let role = member.role.as_str().to_string();
    let checked = member.entities.clone().unwrap_or_default();
    render(permissions_page(&state, &session, &ctx, member, role, checked, None).await?)
}

pub async fn configure(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let form = FormFields::parse(&body)?;
    let ws_id = ctx.access.workspace.id;
    let all = state.db.read(move |c| Ok(entity::all_in(c, ws_id)?)).await?;
    let (role, entities) = check_grant(&ctx, form.get("role"), &form.ids("entity")?, &all)?;
    let (access, actor, target) = (ctx.access.clone(), ctx.user.user_id(), member.user_id);
    let ents = entities.clone();
    let result = state
        .db
        .write(
            move |c| match members::configure(c, &access, actor, target, role, &ents) {
                Ok(()) => Ok(Ok(())),
                Err(MemberError::Db(e)) => Err(e.into()),
                Err(other) => Ok(Err(other)),
            },
        )
        .await?;
    let who = super::display_name(&member.name, &member.email).to_string();
    match result {
        Ok(()) => Ok(redirect_with(
            &session,
            &members_url(&ctx),
            FlashKind::Success,
            format!("Permissions of {who} updated"),
        )),
        Err(e) => {
            let message = member_error(e)?;
            let page = permissions_page(
                &state,
                &session,
                &ctx,
                member,
                role.as_str().into(),
                entities,
                Some(message),
            )
            .await?;
            render_with_status(StatusCode::CONFLICT, page)
        }
    }
}

/// What a refused change says on the form; "not found" and "not allowed" are their own pages.
fn member_error(e: MemberError) -> Result<String, AppError> {
    match e {
        MemberError::LastAdmin => Ok("A workspace must keep at least one Admin. Make someone else Admin first.".into()),
        MemberError::NotFound => Err(AppError::NotFound),
        MemberError::NotAllowed(why) => Err(AppError::Forbidden(why)),
        MemberError::UnknownEntity => Err(AppError::BadRequest(
            "One of the chosen entities is not in this workspace.".into(),
        )),
        MemberError::Db(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "members/remove.html")]
pub struct RemovePage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    member: Member,
    error: Option<String>,
}

impl RemovePage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

pub async fn remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    if member.is_staff {
        return Err(AppError::Forbidden(
            "Firm staff reach this workspace through their client access on the Team page.",
        ));
    }
    render(RemovePage {
        l: Layout::workspace(&session, "Remove from workspace", &ctx.user, &ctx.access, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        member,
        error: None,
    })
}

pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let (access, actor, target) = (ctx.access.clone(), ctx.user.user_id(), member.user_id);
    let result = state
        .db
        .write(move |c| match members::remove(c, &access, actor, target) {
            Ok(name) => Ok(Ok(name)),
            Err(MemberError::Db(e)) => Err(e.into()),
            Err(other) => Ok(Err(other)),
        })
        .await?;
    match result {
        Ok(_) if target == ctx.user.user_id() => Ok(redirect_with(
            &session,
            "/",
            FlashKind::Success,
            format!("You left {}", ctx.access.workspace.name),
        )),
        Ok(_) => Ok(redirect_with(
            &session,
            &members_url(&ctx),
            FlashKind::Success,
            "Access removed",
        )),
        Err(e) => {
            let message = member_error(e)?;
            render_with_status(
                StatusCode::CONFLICT,
                RemovePage {
                    l: Layout::workspace(&session, "Remove from workspace", &ctx.user, &ctx.access, "settings"),
                    ws_id: ctx.access.workspace.id.0,
                    ws_name: ctx.access.workspace.name.clone(),
                    member,
                    error: Some(message),
                },
            )
        }
    }
}

/// The pending invite named in the path, if it belongs to this workspace and the caller
/// may manage invites of its role.
async fn target_invite(state: &AppState, req: &HttpRequest, ctx: &WorkspaceContext) -> Result<Invite, AppError> {
    let id = InviteId(path_id(req, "invite")?);
    let ws = ctx.access.workspace.clone();
    let inv = state
        .db
        .read(move |c| Ok(invite::find_for_target(c, ws.org_id, Some(ws.id), id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let role = WorkspaceRole::parse(&inv.role).ok_or(AppError::NotFound)?;
    require(ctx, WorkspaceAction::ManageMember(role))?;
    Ok(inv)
}

pub async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    let (actor, ttl, email) = (ctx.user.user_id(), state.invite_ttl(), inv.email.clone());
    let result = state
        .db
        .write(move |c| match invite::resend(c, &inv, actor, ttl) {
            Ok(()) => Ok(Ok(())),
            Err(ResendError::TooSoon) => Ok(Err(())),
            Err(ResendError::Db(e)) => Err(e.into()),
        })
        .await?;
    match result {
        Ok(()) => {
            state.wake_mailer();
            Ok(redirect_with(
                &session,
                &members_url(&ctx),
                FlashKind::Success,
                format!("Invite resent to {email}"),
            ))
        }
        Err(()) => Ok(redirect_with(
            &session,
            &members_url(&ctx),
            FlashKind::Error,
            format!("An invite was sent to {email} less than a minute ago. Try again in a minute."),
        )),
    }
}

pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    render(InviteLinkPage {
        l: Layout::workspace(&session, "Copy invite link", &ctx.user, &ctx.access, "settings"),
        back: members_url(&ctx),
        back_label: "Members",
        link: invite_link(&state.public_url, &state.invite_key, &inv.token_nonce),
        email: inv.email,
        expires: inv.expires_at,
    })
}

#[derive(Template)]
#[template(path = "members/cancel.html")]
pub struct CancelPage {
    l: Layout,
    ws_id: i64,
    ws_name: String,
    invite_id: i64,
    email: String,
}

pub async fn cancel_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    render(CancelPage {
        l: Layout::workspace(&session, "Cancel invite", &ctx.user, &ctx.access, "settings"),
        ws_id: ctx.access.workspace.id.0,
        ws_name: ctx.access.workspace.name.clone(),
        invite_id: inv.id,
        email: inv.email,
    })
}

pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    let actor = ctx.user.user_id();
    let email = inv.email.clone();
    state.db.write(move |c| Ok(invite::cancel(c, &inv, actor)?)).await?;
    Ok(redirect_with(
        &session,
        &members_url(&ctx),
        FlashKind::Success,
        format!("Invite cancelled: the link sent to {email} no longer works"),
    ))
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
}

pub async fn activity(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::ViewActivity)?;
    let ws = ctx.access.workspace.clone();
    let events = state
        .db
        .read(move |c| Ok(audit::list(c, ws.org_id, Some(ws.id), 200)?))
        .await?;
    let events = events
        .into_iter()
        .map(|e: EventRow| EventView {
            actor: e.actor_name.or(e.actor_email).unwrap_or_else(|| "Someone".into()),
            verb: AuditAction::label_of(&e.action),
            target: e.target,
            detail: e.detail,
            at: e.at,
        })
        .collect();
    render(ActivityPage {
        l: Layout::workspace(&session, "Activity", &ctx.user, &ctx.access, "settings"),
        ws_id: ctx.access.workspace.id.0,
        events,
    })
}
