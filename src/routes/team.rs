//! The firm's Team page: staff, their client access and "New clients", bulk invites, and
//! the firm-wide "Pending invites" view.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::FormFields;
#[allow(unused_imports)]
use super::{delivery_words, redirect, redirect_with, render, render_with_status, InviteLinkPage, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::session::FlashKind;
use crate::auth::OrgContext;
use crate::db::models::invite::{self, Invite, NewInvite, NewInviteError, ResendError};
use crate::db::models::team::{self, Client, FirmInvite, NewPermissions, TeamError, TeamMember};
use crate::domain::permissions::{org_allows, OrgAction};
use crate::domain::{EmailList, EmailListEntry, InviteId, OrgRole, UserId, WorkspaceId};
use crate::email::invite_link;
use crate::error::AppError;
use crate::startup::AppState;

fn team_url(ctx: &OrgContext) -> String {
    format!("/orgs/{}/team", ctx.membership.org_id)
}

fn require(ctx: &OrgContext, action: OrgAction) -> Result<(), AppError> {
    if org_allows(ctx.membership.role, action) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Your role in the firm does not allow this. Ask a firm Admin.",
        ))
    }
}

/// "All clients", "Acme Bakery, +2 more · New clients".
fn client_access(clients: &Option<Vec<Client>>, new_clients: bool) -> (String, String) {
    match clients {
        None => ("All clients".into(), "All current and future clients".into()),
        Some(list) => {
            let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
            let mut full = if names.is_empty() {
                "No clients".to_string()
            } else {
                names.join(", ")
            };
            let mut short = if names.len() > 2 {
                format!("{}, +{} more", names[..2].join(", "), names.len() - 2)
            } else {
                full.clone()
            };
            if new_clients {
                short = if names.is_empty() {
                    "New clients".into()
                } else {
                    format!("{short} · New clients")
                };
                full = if names.is_empty() {
                    "New clients as they are added".into()
                } else {
                    format!("{full}, and new clients as they are added")
                };
            }
            (short, full)
        }
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
    can_manage: bool,
    is_you: bool,
}

pub struct TeamInviteView {
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
#[template(path = "team/list.html")]
pub struct TeamPage {
    l: Layout,
    org_id: i64,
    members: Vec<TeamMemberView>,
    invites: Vec<TeamInviteView>,
    can_invite: bool,
}

pub async fn list(state: web::Data<AppState>, session: Session, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    require(&ctx, OrgAction::ViewTeam)?;
    let org = ctx.membership.org_id;
    let data = state.db.read(move |c| Ok(team::list(c, org)?)).await?;
    let role = ctx.membership.role;
    let now = crate::db::models::now();
    let members = data
        .members
        .into_iter()
        .map(|m| {
            let (access, access_full) = client_access(&m.clients, m.new_clients);
            TeamMemberView {
                user_id: m.user_id.0,
                role: m.role.label(),
                access,
                access_full,
                since: m.since,
                can_manage: org_allows(role, OrgAction::ManageMember(m.role)),
                is_you: m.user_id.0 == ctx.user.id,
                name: m.name,
                email: m.email,
            }
        })
        .collect();
    let invites = data
        .invites
        .into_iter()
        .map(|i| {
            let (access, access_full) = client_access(&i.clients, i.new_clients);
            let can_manage = org_allows(role, OrgAction::ManageMember(i.role));
            TeamInviteView {
                id: i.id.0,
                role: i.role.label(),
                access,
                access_full,
                invited_by: i.invited_by,
                sent: i.created_at,
                expires: i.expires_at,
                expired: i.expires_at <= now,
                delivery: delivery_words(&i.delivery),
                link: if can_manage {
                    invite_link(&state.public_url, &state.invite_key, &i.nonce)
                } else {
                    String::new()
                },
                can_manage,
                email: i.email,
            }
        })
        .collect();
    render(TeamPage {
        l: Layout::org(&session, "Team", &ctx.user, &ctx.membership, "team"),
        org_id: org.0,
        members,
        invites,
        can_invite: org_allows(role, OrgAction::GrantRole(OrgRole::Member)),
    })
}

pub struct RoleOption {
    value: &'static str,
    label: &'static str,
    description: &'static str,
}

fn role_options(actor: OrgRole) -> Vec<RoleOption> {
    OrgRole::ALL
        .into_iter()
        .filter(|r| org_allows(actor, OrgAction::GrantRole(*r)))
        .map(|r| RoleOption {
            value: r.as_str(),
            label: r.label(),
            description: r.description(),
        })
        .collect()
}

pub struct ClientOption {
    id: i64,
    name: String,
    checked: bool,
}

fn client_options(all: Vec<Client>, checked: &[WorkspaceId]) -> Vec<ClientOption> {
    all.into_iter()
        .map(|c| ClientOption {
            checked: checked.contains(&c.id),
            id: c.id.0,
            name: c.name,
        })
        .collect()
}

/// What happened to one address of a bulk invite.
pub struct Outcome {
    address: String,
    words: &'static str,
    ok: bool,
}

#[derive(Template)]
#[template(path = "team/invite.html")]
pub struct TeamInvitePage {
    l: Layout,
    org_id: i64,
    emails: String,
    access: AccessChoices,
    error: Option<String>,
    outcomes: Vec<Outcome>,
}

/// What was chosen (or is held) in the role, clients and "New clients" fields.
struct Grant {
    role: String,
    clients: Vec<WorkspaceId>,
    new_clients: bool,
}

impl Grant {
    fn new(role: &str, clients: Vec<WorkspaceId>, new_clients: bool) -> Grant {
        Grant {
            role: role.to_string(),
            clients,
            new_clients,
        }
    }
}

/// The role, clients and "New clients" fields as the forms show them.
pub struct AccessChoices {
    role: String,
    roles: Vec<RoleOption>,
    clients: Vec<ClientOption>,
    new_clients: bool,
}

async fn access_choices(state: &AppState, ctx: &OrgContext, grant: Grant) -> Result<AccessChoices, AppError> {
    let org = ctx.membership.org_id;
    let all = state.db.read(move |c| Ok(team::clients_of(c, org)?)).await?;
    Ok(AccessChoices {
        role: grant.role,
        roles: role_options(ctx.membership.role),
        clients: client_options(all, &grant.clients),
        new_clients: grant.new_clients,
    })
}

async fn invite_page(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    emails: String,
    grant: Grant,
    error: Option<String>,
    outcomes: Vec<Outcome>,
) -> Result<TeamInvitePage, AppError> {
    Ok(TeamInvitePage {
        l: Layout::org(session, "Add Team", &ctx.user, &ctx.membership, "team"),
        org_id: ctx.membership.org_id.0,
        emails,
        access: access_choices(state, ctx, grant).await?,
        error,
        outcomes,
    })
}

pub async fn invite_form(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    require(&ctx, OrgAction::GrantRole(OrgRole::Member))?;
    render(
        invite_page(
            &state,
            &session,
            &ctx,
            String::new(),
            Grant::new("member", Vec::new(), false),
            None,
            Vec::new(),
        )
        .await?,
    )
}

/// A requested role and client set, checked against roles.md: a forged role or a client
/// of another firm is a bad request; a role above the caller's own is forbidden.
async fn check_grant(
    state: &AppState,
    ctx: &OrgContext,
    form: &FormFields,
) -> Result<(OrgRole, Vec<WorkspaceId>, bool), AppError> {
    let role =
        OrgRole::parse(form.get("role")).ok_or_else(|| AppError::BadRequest("That role does not exist.".into()))?;
    if !org_allows(ctx.membership.role, OrgAction::GrantRole(role)) {
        return Err(AppError::Forbidden(
            "Only a firm Admin can give someone the Admin role.",
        ));
    }
    let requested: Vec<WorkspaceId> = form.ids("client")?.into_iter().map(WorkspaceId).collect();
    let org = ctx.membership.org_id;
    let all = state.db.read(move |c| Ok(team::clients_of(c, org)?)).await?;
    if requested.iter().any(|r| !all.iter().any(|c| c.id == *r)) {
        return Err(AppError::BadRequest(
            "One of the chosen clients is not one of your firm's clients.".into(),
        ));
    }
    let new_clients = form.get("new_clients") == "on";
    if role.sees_all_clients() {
        Ok((role, Vec::new(), false))
    } else {
        Ok((role, requested, new_clients))
    }
}

pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    require(&ctx, OrgAction::GrantRole(OrgRole::Member))?;
    let form = FormFields::parse(&body)?;
    let typed = form.get("emails").to_string();
    if !form.has("role") {
        let page = invite_page(
            &state,
            &session,
            &ctx,
            typed,
            Grant::new("", Vec::new(), false),
            Some("Choose a role.".into()),
            Vec::new(),
        )
        .await?;
        return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let (role, clients, new_clients) = check_grant(&state, &ctx, &form).await?;
    let list = match EmailList::parse(&typed) {
        Ok(list) => list,
        Err(message) => {
            let page = invite_page(
                &state,
                &session,
                &ctx,
                typed,
                Grant::new(role.as_str(), clients, new_clients),
                Some(message),
                Vec::new(),
            )
            .await?;
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let org = ctx.membership.org_id;
    let (actor, ttl, key) = (ctx.user.user_id(), state.invite_ttl(), state.invite_key.clone());
    let org_clients = {
        let org = ctx.membership.org_id;
        state.db.read(move |c| Ok(team::clients_of(c, org)?)).await?
    };
    let names: Vec<&str> = org_clients
        .iter()
        .filter(|c| clients.contains(&c.id))
        .map(|c| c.name.as_str())
        .collect();
    let detail = if role.sees_all_clients() {
        format!("as {}, all clients", role.label())
    } else {
        format!(
            "as {}, {}{}",
            role.label(),
            if names.is_empty() {
                "no clients".into()
            } else {
                names.join(", ")
            },
            if new_clients { ", new clients" } else { "" }
        )
    };
    let entries = list.entries.clone();
    let grant = clients.clone();
    // One transaction for the batch: each valid address gets one invite and one email.
    let results = state
        .db
        .write(move |c| {
            let mut out = Vec::new();
            for entry in &entries {
                let EmailListEntry::Valid(email) = entry else {
                    out.push(None);
                    continue;
                };
                let new = NewInvite {
                    org,
                    workspace: None,
                    email,
                    role: role.as_str(),
                    entities: &[],
                    clients: &grant,
                    new_clients,
                    inviter: actor,
                    ttl,
                    key: &key,
                    detail: detail.clone(),
                };
                out.push(Some(match invite::create(c, new) {
                    Ok(_) => Ok(()),
                    Err(NewInviteError::Db(e)) => return Err(e.into()),
                    Err(other) => Err(other),
                }));
            }
            Ok(out)
        })
        .await?;
    let mut outcomes = Vec::new();
    let mut keep = Vec::new();
    let mut invited = 0;
    for (entry, result) in list.entries.iter().zip(results) {
        let (address, words, ok) = match (entry, result) {
            (EmailListEntry::Valid(e), Some(Ok(()))) => {
                invited += 1;
                (e.to_string(), "invited", true)
            }
            (EmailListEntry::Valid(e), Some(Err(NewInviteError::AlreadyMember))) => {
                (e.to_string(), "already a member of the team", false)
            }
            (EmailListEntry::Valid(e), Some(Err(_))) => (
                e.to_string(),
                "already invited: use Resend invite on the Team page",
                false,
            ),
            (EmailListEntry::Duplicate(e), _) => (e.to_string(), "listed twice: invited once", false),
            (EmailListEntry::Invalid { input, .. }, _) => {
                keep.push(input.clone());
                (input.clone(), "not a valid address", false)
            }
            (EmailListEntry::Valid(e), None) => (e.to_string(), "not sent", false),
        };
        outcomes.push(Outcome { address, words, ok });
    }
    if invited > 0 {
        state.wake_mailer();
    }
    if keep.is_empty() && outcomes.iter().all(|o| o.ok) {
        let message = if invited == 1 {
            format!("Invite sent to {}{}", outcomes[0].address, state.mailbox_hint())
        } else {
            format!("{invited} invites sent{}", state.mailbox_hint())
        };
        return Ok(redirect_with(&session, &team_url(&ctx), FlashKind::Success, message));
    }
    // Report per address; keep what still needs fixing in the field.
    let page = invite_page(
        &state,
        &session,
        &ctx,
        keep.join(", "),
        Grant::new(role.as_str(), clients, new_clients),
        None,
        outcomes,
    )
    .await?;
    let status = if invited > 0 {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_status(status, page)
}

async fn target_member(state: &AppState, req: &HttpRequest, ctx: &OrgContext) -> Result<TeamMember, AppError> {
    require(ctx, OrgAction::ViewTeam)?;
    let user = UserId(path_id(req, "user")?);
    let org = ctx.membership.org_id;
    let member = state
        .db
        .read(move |c| Ok(team::find(c, org, user)?))
        .await?
        .ok_or(AppError::NotFound)?;
    require(ctx, OrgAction::ManageMember(member.role))?;
    Ok(member)
}

#[derive(Template)]
#[template(path = "team/permissions.html")]
pub struct TeamPermissionsPage {
    l: Layout,
    org_id: i64,
    member: TeamMember,
    access: AccessChoices,
    error: Option<String>,
}

impl TeamMemberView {
    fn label(&self) -> &str {
        super::display_name(&self.name, &self.email)
    }
}

impl TeamPermissionsPage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

async fn permissions_page(
    state: &AppState,
    session: &Session,
    ctx: &OrgContext,
    member: TeamMember,
    grant: Grant,
    error: Option<String>,
) -> Result<TeamPermissionsPage, AppError> {
    Ok(TeamPermissionsPage {
        l: Layout::org(session, "Configure permissions", &ctx.user, &ctx.membership, "team"),
        org_id: ctx.membership.org_id.0,
        access: access_choices(state, ctx, grant).await?,
        member,
        error,
    })
}

pub async fn permissions_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let grant = Grant::new(member.role.as_str(), member.clients.clone(), member.new_clients);
    render(permissions_page(&state, &session, &ctx, member, grant, None).await?)
}

fn team_error(e: TeamError) -> Result<String, AppError> {
    match e {
        TeamError::LastAdmin => Ok("The firm must keep at least one Admin. Make someone else Admin first.".into()),
        TeamError::NotFound => Err(AppError::NotFound),
        TeamError::NotAllowed(why) => Err(AppError::Forbidden(why)),
        TeamError::UnknownClient => Err(AppError::BadRequest(
            "One of the chosen clients is not one of your firm's clients.".into(),
        )),
        TeamError::Db(e) => Err(e.into()),
    }
}

pub async fn configure(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let form = FormFields::parse(&body)?;
    let (role, clients, new_clients) = check_grant(&state, &ctx, &form).await?;
    let (actor, actor_id, target) = (ctx.membership.clone(), ctx.user.user_id(), member.user_id);
    let grant = clients.clone();
    let result = state
        .db
        .write(move |c| {
            match team::configure(
                c,
                &actor,
                actor_id,
                target,
                NewPermissions {
                    role,
                    clients: &grant,
                    new_clients,
                },
            ) {
                Ok(()) => Ok(Ok(())),
                Err(TeamError::Db(e)) => Err(e.into()),
                Err(other) => Ok(Err(other)),
            }
        })
        .await?;
    let who = super::display_name(&member.name, &member.email).to_string();
    match result {
        Ok(()) => Ok(redirect_with(
            &session,
            &team_url(&ctx),
            FlashKind::Success,
            format!("Permissions of {who} updated"),
        )),
        Err(e) => {
            let message = team_error(e)?;
            let page = permissions_page(
                &state,
                &session,
                &ctx,
                member,
                Grant::new(role.as_str(), clients, new_clients),
                Some(message),
            )
            .await?;
            render_with_status(StatusCode::CONFLICT, page)
        }
    }
}

#[derive(Template)]
#[template(path = "team/remove.html")]
pub struct TeamRemovePage {
    l: Layout,
    org_id: i64,
    org_name: String,
    member: TeamMember,
    error: Option<String>,
}

impl TeamRemovePage {
    fn who(&self) -> &str {
        super::display_name(&self.member.name, &self.member.email)
    }
}

pub async fn remove_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    render(TeamRemovePage {
        l: Layout::org(&session, "Remove from organization", &ctx.user, &ctx.membership, "team"),
        org_id: ctx.membership.org_id.0,
        org_name: ctx.membership.org_name.clone(),
        member,
        error: None,
    })
}

pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let member = target_member(&state, &req, &ctx).await?;
    let (actor, actor_id, target) = (ctx.membership.clone(), ctx.user.user_id(), member.user_id);
    let result = state
        .db
        .write(move |c| match team::remove(c, &actor, actor_id, target) {
            Ok(name) => Ok(Ok(name)),
            Err(TeamError::Db(e)) => Err(e.into()),
            Err(other) => Ok(Err(other)),
        })
        .await?;
    match result {
        Ok(_) if target == ctx.user.user_id() => Ok(redirect_with(
            &session,
            "/",
            FlashKind::Success,
            format!("You left {}", ctx.membership.org_name),
        )),
        Ok(name) => Ok(redirect_with(
            &session,
            &team_url(&ctx),
            FlashKind::Success,
            format!("{name} was removed from the organization"),
        )),
        Err(e) => {
            let message = team_error(e)?;
            render_with_status(
                StatusCode::CONFLICT,
                TeamRemovePage {
                    l: Layout::org(&session, "Remove from organization", &ctx.user, &ctx.membership, "team"),
                    org_id: ctx.membership.org_id.0,
                    org_name: ctx.membership.org_name.clone(),
                    member,
                    error: Some(message),
                },
            )
        }
    }
}

/// A pending team invite of this firm that the caller may manage.
async fn target_invite(state: &AppState, req: &HttpRequest, ctx: &OrgContext) -> Result<Invite, AppError> {
    require(ctx, OrgAction::ViewTeam)?;
    let id = InviteId(path_id(req, "invite")?);
    let org = ctx.membership.org_id;
    let inv = state
        .db
        .read(move |c| Ok(invite::find_for_target(c, org, None, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let role = OrgRole::parse(&inv.role).ok_or(AppError::NotFound)?;
    require(ctx, OrgAction::ManageMember(role))?;
    Ok(inv)
}

pub async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    resend_one(&state, &session, inv, ctx.user.user_id(), &team_url(&ctx)).await
}

async fn resend_one(
    state: &AppState,
    session: &Session,
    inv: Invite,
    actor: UserId,
    back: &str,
) -> Result<HttpResponse, AppError> {
    let (ttl, email) = (state.invite_ttl(), inv.email.clone());
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
                session,
                back,
                FlashKind::Success,
                format!("Invite resent to {email}"),
            ))
        }
        Err(()) => Ok(redirect_with(
            session,
            back,
            FlashKind::Error,
            format!("An invite was sent to {email} less than a minute ago. Try again in a minute."),
        )),
    }
}

pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    render(InviteLinkPage {
        l: Layout::org(&session, "Copy invite link", &ctx.user, &ctx.membership, "team"),
        back: team_url(&ctx),
        back_label: "Team",
        link: invite_link(&state.public_url, &state.invite_key, &inv.token_nonce),
        email: inv.email,
        expires: inv.expires_at,
    })
}

#[derive(Template)]
#[template(path = "team/cancel.html")]
pub struct TeamCancelPage {
    l: Layout,
    org_id: i64,
    org_name: String,
    invite_id: i64,
    email: String,
}

pub async fn cancel_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    render(TeamCancelPage {
        l: Layout::org(&session, "Cancel invite", &ctx.user, &ctx.membership, "team"),
        org_id: ctx.membership.org_id.0,
        org_name: ctx.membership.org_name.clone(),
        invite_id: inv.id,
        email: inv.email,
    })
}

pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: OrgContext,
) -> Result<HttpResponse, AppError> {
    let inv = target_invite(&state, &req, &ctx).await?;
    let (actor, email) = (ctx.user.user_id(), inv.email.clone());
    state.db.write(move |c| Ok(invite::cancel(c, &inv, actor)?)).await?;
    Ok(redirect_with(
        &session,
        &team_url(&ctx),
        FlashKind::Success,
        format!("Invite cancelled: the link sent to {email} no longer works"),
    ))
}

pub struct PendingView {
    id: i64,
    email: String,
    target: String,
    target_href: String,
    role: &'static str,
    invited_by: String,
    sent: chrono::NaiveDateTime,
    expires: chrono::NaiveDateTime,
    expired: bool,
    delivery: (&'static str, &'static str),
}

#[derive(Template)]
#[template(path = "team/pending.html")]
pub struct PendingPage {
    l: Layout,
    org_id: i64,
    invites: Vec<PendingView>,
}

async fn manageable(state: &AppState, ctx: &OrgContext) -> Result<Vec<FirmInvite>, AppError> {
    let (m, viewer) = (ctx.membership.clone(), ctx.user.user_id());
    state
        .db
        .read(move |c| Ok(team::pending_manageable(c, &m, viewer)?))
        .await
}

/// Every pending invite the viewer can manage, across the Team page and every client.
pub async fn pending(state: web::Data<AppState>, session: Session, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    let now = crate::db::models::now();
    let org = ctx.membership.org_id;
    let invites = manageable(&state, &ctx)
        .await?
        .into_iter()
        .map(|f| {
            let (target, target_href, role) = match &f.client {
                Some(c) => (
                    c.name.clone(),
                    format!("/w/{}/settings/members", c.id),
                    crate::domain::WorkspaceRole::parse(&f.invite.role).map_or("", |r| r.label()),
                ),
                None => (
                    "Team".to_string(),
                    format!("/orgs/{org}/team"),
                    OrgRole::parse(&f.invite.role).map_or("", |r| r.label()),
                ),
            };
            PendingView {
                id: f.invite.id,
                target,
                target_href,
                role,
                invited_by: f.invited_by,
                sent: f.invite.created_at,
                expires: f.invite.expires_at,
                expired: f.invite.expires_at <= now,
                delivery: delivery_words(&f.delivery),
                email: f.invite.email,
            }
        })
        .collect();
    render(PendingPage {
        l: Layout::org(&session, "Pending invites", &ctx.user, &ctx.membership, "pending"),
        org_id: org.0,
        invites,
    })
}

/// Resend or cancel several pending invites at once, each only if the caller may.
pub async fn bulk(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form = FormFields::parse(&body)?;
    let back = format!("/orgs/{}/invites", ctx.membership.org_id);
    let chosen = form.ids("invite")?;
    if chosen.is_empty() {
        return Ok(redirect_with(
            &session,
            &back,
            FlashKind::Error,
            "Select at least one invite.",
        ));
    }
    let action = form.get("action").to_string();
    if action != "resend" && action != "cancel" {
        return Err(AppError::BadRequest("Choose Resend or Cancel.".into()));
    }
    let allowed = manageable(&state, &ctx).await?;
    // Anything not in the caller's own list (another firm's, or one they may not manage)
    // is simply not found.
    if chosen.iter().any(|id| !allowed.iter().any(|f| f.invite.id == *id)) {
        return Err(AppError::NotFound);
    }
    let picked: Vec<Invite> = allowed
        .into_iter()
        .filter(|f| chosen.contains(&f.invite.id))
        .map(|f| f.invite)
        .collect();
    let (actor, ttl) = (ctx.user.user_id(), state.invite_ttl());
    let is_resend = action == "resend";
    let (done, too_soon) = state
        .db
        .write(move |c| {
            let (mut done, mut too_soon) = (0, 0);
            for inv in &picked {
                if is_resend {
                    match invite::resend(c, inv, actor, ttl) {
                        Ok(()) => done += 1,
                        Err(ResendError::TooSoon) => too_soon += 1,
                        Err(ResendError::Db(e)) => return Err(e.into()),
                    }
                } else {
                    invite::cancel(c, inv, actor)?;
                    done += 1;
                }
            }
            Ok((done, too_soon))
        })
        .await?;
    let plural = |n: usize| if n == 1 { "invite" } else { "invites" };
    let message = if is_resend {
        state.wake_mailer();
        let mut m = format!("{done} {} resent", plural(done));
        if too_soon > 0 {
            m.push_str(&format!("; {too_soon} sent less than a minute ago were skipped"));
        }
        m
    } else {
        format!("{done} {} cancelled", plural(done))
    };
    Ok(redirect_with(&session, &back, FlashKind::Success, message))
}
