//! Account → Two-factor authentication (turn on with a QR code, turn off, new recovery
//! codes), the code step of signing in, and the firm's and workspace's Security settings
//! ("Require two-factor authentication").

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::{encode_query, redirect, redirect_with, render, render_with_status, safe_next, Layout, TimeWords};
use crate::auth::session::{self, FlashKind};
use crate::auth::{CurrentUser, OrgContext, WorkspaceContext};
use crate::domain::access::{self as rules, OrgAction, Refusal, WorkspaceAction};
use crate::domain::two_factor::{parse_grace_days, RecoveryCode, Requirement, TotpSecret};
use crate::domain::UserId;
use crate::error::AppError;
use crate::metrics::SignInRefusal;
use crate::startup::AppState;
use crate::usecases::two_factor::{self as uc, Confirmed, SignInCode};
use crate::usecases::ActionError;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `next` as a hidden field, and as a query string to carry it on.
fn next_query(next: &str) -> String {
    if next.is_empty() {
        String::new()
    } else {
        format!("?next={}", encode_query(next))
    }
}

// ---- Account → Two-factor authentication ----------------------------------------------

#[derive(Template)]
#[template(path = "account/two_factor.html")]
pub struct TwoFactorPage {
    l: Layout,
    status: uc::Status,
    next: String,
    /// Which form the password error belongs to: "disable" or "codes".
    error_form: &'static str,
    error: Option<String>,
}

async fn two_factor_page(
    state: &AppState,
    session: &Session,
    user: &crate::db::models::user::User,
    places: &crate::db::models::places::Places,
    next: Option<String>,
    error: Option<(&'static str, String)>,
) -> Result<HttpResponse, AppError> {
    let status = uc::status(&state.db, user.user_id()).await?;
    let (error_form, error) = error.map_or(("", None), |(f, e)| (f, Some(e)));
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let l = Layout::personal(session, "Two-factor authentication", user, places);
    render_with_status(code, TwoFactorPage { l, status, next: next.unwrap_or_default(), error_form, error })
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, places): CurrentUser,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    two_factor_page(&state, &session, &user, &places, safe_next(q.next.as_deref()), None).await
}

#[derive(Deserialize)]
pub struct NextForm {
    next: Option<String>,
}

/// "Turn on": a new secret, then the setup page.
pub async fn begin(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, _): CurrentUser,
    form: web::Form<NextForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref()).unwrap_or_default();
    if !uc::begin_setup(&state.db, &state.two_factor_key, user.user_id()).await? {
        let to = format!("/account/two-factor{}", next_query(&next));
        return Ok(redirect_with(&session, &to, FlashKind::Info, "Two-factor authentication is already on."));
    }
    Ok(redirect(&format!("/account/two-factor/setup{}", next_query(&next))))
}

#[derive(Template)]
#[template(path = "account/two_factor_setup.html")]
pub struct SetupPage {
    l: Layout,
    qr: String,
    secret: String,
    code: String,
    next: String,
    errors: SetupErrors,
}

/// What is wrong on the setup form (the password typed is never shown again).
#[derive(Default)]
pub struct SetupErrors {
    password: Option<String>,
    code: Option<String>,
}

impl SetupPage {
    fn new(l: Layout, secret: &TotpSecret, email: &str, next: String, code: String, errors: SetupErrors) -> Self {
        SetupPage {
            l,
            qr: qr_data_uri(&secret.otpauth_url(email)),
            secret: secret.base32_grouped(),
            code,
            next,
            errors,
        }
    }
}

/// The QR code as an SVG image in a data: URI (the CSP allows `img-src data:`).
fn qr_data_uri(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
            format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
        }
        Err(_) => String::new(),
    }
}

pub async fn setup(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, places): CurrentUser,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(q.next.as_deref()).unwrap_or_default();
    let Some(s) = uc::pending_setup(&state.db, &state.two_factor_key, user.user_id()).await? else {
        return Ok(redirect(&format!("/account/two-factor{}", next_query(&next))));
    };
    let l = Layout::personal(&session, "Set up two-factor authentication", &user, &places);
    render(SetupPage::new(l, &s.secret, &s.email, next, String::new(), SetupErrors::default()))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub struct RecoveryCodesPage {
    l: Layout,
    codes: Vec<String>,
    /// Where "Continue" goes.
    next: String,
    heading: &'static str,
}

fn recovery_codes_page(
    session: &Session,
    user: &crate::db::models::user::User,
    codes: Vec<RecoveryCode>,
    next: String,
    heading: &'static str,
) -> Result<HttpResponse, AppError> {
    let l = Layout::public(session, heading, Some(user));
    let next = if next.is_empty() { "/account/two-factor".to_string() } else { next };
    render(RecoveryCodesPage { l, codes: codes.iter().map(RecoveryCode::display).collect(), next, heading })
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// The current password and the code from the app turn two-factor on; the account's other
/// sessions end and the recovery codes are shown once.
pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, _): CurrentUser,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (next, code) = (safe_next(form.next.as_deref()).unwrap_or_default(), form.code.trim().to_string());
    let keep = session::session_id(&session).ok_or(AppError::SignInRequired { next: "/account/two-factor".into() })?;
    let turn_on = uc::TurnOn { password: form.password, code: code.clone(), keep };
    let errors = match uc::confirm_setup(&state.db, &state.two_factor_key, user.user_id(), turn_on).await? {
        Confirmed::On(codes) => return turned_on(&session, &user, codes, next),
        Confirmed::WrongPassword => SetupErrors { password: Some(WRONG_PASSWORD.into()), code: None },
        Confirmed::WrongCode => SetupErrors { password: None, code: Some(WRONG_SETUP_CODE.into()) },
        Confirmed::NotStarted => {
            let to = format!("/account/two-factor{}", next_query(&next));
            return Ok(redirect_with(&session, &to, FlashKind::Info, "Start again with Turn on."));
        }
    };
    setup_again(&state, &session, &user, next, code, errors).await
}

const WRONG_SETUP_CODE: &str = "That code is not right. Enter the 6-digit code your app shows now.";

/// On: this session gets a new key too (a copy of its old cookie opens nothing), and the
/// recovery codes are shown once.
fn turned_on(
    session: &Session,
    user: &crate::db::models::user::User,
    codes: Vec<RecoveryCode>,
    next: String,
) -> Result<HttpResponse, AppError> {
    session::sign_in(session, user.user_id());
    session::flash(session, FlashKind::Success, "Two-factor authentication is on.");
    recovery_codes_page(session, user, codes, next, "Two-factor authentication is on")
}

/// The setup form again, with the code typed and what is wrong (nothing was turned on).
async fn setup_again(
    state: &AppState,
    session: &Session,
    user: &crate::db::models::user::User,
    next: String,
    code: String,
    errors: SetupErrors,
) -> Result<HttpResponse, AppError> {
    let Some(s) = uc::pending_setup(&state.db, &state.two_factor_key, user.user_id()).await? else {
        return Ok(redirect("/account/two-factor"));
    };
    let l = Layout::public(session, "Set up two-factor authentication", Some(user));
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, SetupPage::new(l, &s.secret, &s.email, next, code, errors))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

const WRONG_PASSWORD: &str = "That password is not right.";

pub async fn disable(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, places): CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    if uc::turn_off(&state.db, user.user_id(), form.into_inner().password).await? {
        return Ok(redirect_with(
            &session,
            "/account/two-factor",
            FlashKind::Success,
            "Two-factor authentication is off.",
        ));
    }
    two_factor_page(&state, &session, &user, &places, None, Some(("disable", WRONG_PASSWORD.into()))).await
}

pub async fn new_codes(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user, places): CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    match uc::new_recovery_codes(&state.db, user.user_id(), form.into_inner().password).await? {
        Some(codes) => recovery_codes_page(&session, &user, codes, String::new(), "New recovery codes"),
        None => two_factor_page(&state, &session, &user, &places, None, Some(("codes", WRONG_PASSWORD.into()))).await,
    }
}

// ---- signing in: the code step ----------------------------------------------------------

/// After the right password: signed in, or (two-factor on) held until a code follows.
pub async fn after_password(
    state: &AppState,
    session: &Session,
    user: UserId,
    next: Option<String>,
) -> Result<HttpResponse, AppError> {
    if uc::is_on(&state.db, user).await? {
        session::hold_for_two_factor(session, user);
        return Ok(redirect(&format!("/login/two-factor{}", next_query(next.as_deref().unwrap_or_default()))));
    }
    session::sign_in(session, user);
    Ok(redirect(next.as_deref().unwrap_or("/")))
}

#[derive(Template)]
#[template(path = "auth/two_factor.html")]
pub struct CodePage {
    l: Layout,
    next: String,
    form_error: Option<String>,
}

pub async fn code_form(session: Session, q: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    let next = safe_next(q.next.as_deref()).unwrap_or_default();
    if session::pending_two_factor(&session).is_none() {
        return Ok(redirect(&format!("/login{}", next_query(&next))));
    }
    render(CodePage { l: Layout::public(&session, "Two-factor authentication", None), next, form_error: None })
}

pub async fn code(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    let Some(uid) = session::pending_two_factor(&session) else {
        let to = format!("/login{}", next_query(next.as_deref().unwrap_or_default()));
        return Ok(redirect_with(&session, &to, FlashKind::Info, "That took too long. Log in again."));
    };
    match uc::check_sign_in(&state.db, &state.two_factor_key, uid, form.code.clone()).await {
        Ok(SignInCode::Accepted { recovery_code }) => Ok(signed_in_with_code(&session, uid, recovery_code, next)),
        Ok(SignInCode::Wrong) => {
            state.metrics.sign_in_refused(SignInRefusal::WrongCode);
            code_again(&session, next, StatusCode::UNPROCESSABLE_ENTITY, WRONG_SIGN_IN_CODE.into())
        }
        Err(ActionError::Limited(r)) => {
            state.metrics.sign_in_refused(SignInRefusal::Limited);
            code_again(&session, next, StatusCode::TOO_MANY_REQUESTS, r.message())
        }
        Err(ActionError::NotFound) => {
            session::end_two_factor_hold(&session);
            Ok(redirect("/login"))
        }
        Err(e) => Err(e.into()),
    }
}

const WRONG_SIGN_IN_CODE: &str =
    "That code is not right, or it was used already. Enter the code your app shows now, or a recovery code.";

fn signed_in_with_code(session: &Session, uid: UserId, recovery_code: bool, next: Option<String>) -> HttpResponse {
    session::sign_in(session, uid);
    if recovery_code {
        let words = "You used a recovery code: it will not work again. Make new ones if you are running low.";
        session::flash(session, FlashKind::Info, words);
    }
    redirect(next.as_deref().unwrap_or("/"))
}

/// The code step again, with what is wrong.
fn code_again(
    session: &Session,
    next: Option<String>,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, AppError> {
    let l = Layout::public(session, "Two-factor authentication", None);
    render_with_status(status, CodePage { l, next: next.unwrap_or_default(), form_error: Some(message) })
}

// ---- Security settings: "Require two-factor authentication" ------------------------------

#[derive(Template)]
#[template(path = "account/require_two_factor.html")]
pub struct RequirePage {
    l: Layout,
    /// Where the form posts.
    action: String,
    /// "your firm's staff" or "everyone in Acme Bakery".
    who: String,
    required: bool,
    grace_days: String,
    since: Option<chrono::NaiveDateTime>,
    error: Option<String>,
    /// The workspace settings' sub-navigation (none on the firm's page).
    ws_id: i64,
}

#[derive(Deserialize)]
pub struct RequireForm {
    required: Option<String>,
    #[serde(default)]
    grace_days: String,
}

impl RequireForm {
    /// None: not required; Some(days).
    fn parse(&self) -> Result<Option<i32>, &'static str> {
        match self.required {
            Some(_) => parse_grace_days(&self.grace_days).map(Some),
            None => Ok(None),
        }
    }
}

fn require_page(l: Layout, action: String, who: String, current: Option<Requirement>, ws_id: i64) -> RequirePage {
    RequirePage {
        l,
        action,
        who,
        required: current.is_some(),
        grace_days: current.map_or(7, |r| r.grace_days).to_string(),
        since: current.map(|r| r.since),
        error: None,
        ws_id,
    }
}

fn saved(grace: Option<i32>) -> String {
    match grace {
        None => "Two-factor authentication is no longer required.".into(),
        Some(0) => "Two-factor authentication is now required, with no grace period: whoever has not turned it on must do so before anything else.".into(),
        Some(1) => "Two-factor authentication is now required, with 1 day to turn it on.".into(),
        Some(d) => format!("Two-factor authentication is now required, with {d} days to turn it on."),
    }
}

fn may_require_in_firm(ctx: &OrgContext) -> Result<(), AppError> {
    if rules::org_may(ctx.membership.role, OrgAction::RequireTwoFactor) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Refusal::FirmRole.message()))
    }
}

fn may_require_in_workspace(ctx: &WorkspaceContext) -> Result<(), AppError> {
    if rules::may(&ctx.access.standing, WorkspaceAction::RequireTwoFactor) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Refusal::Role.message()))
    }
}

pub async fn firm_form(session: Session, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    may_require_in_firm(&ctx)?;
    let m = &ctx.membership;
    let l = Layout::org(&session, "Security", &ctx, "security");
    let action = format!("/orgs/{}/settings/security", m.org_id);
    render(require_page(l, action, format!("everyone on the team of {}", m.org_name), m.require_2fa, 0))
}

pub async fn firm_save(
    state: web::Data<AppState>,
    session: Session,
    ctx: OrgContext,
    form: web::Form<RequireForm>,
) -> Result<HttpResponse, AppError> {
    may_require_in_firm(&ctx)?;
    let m = &ctx.membership;
    let url = format!("/orgs/{}/settings/security", m.org_id);
    let grace = match form.parse() {
        Ok(g) => g,
        Err(e) => {
            let l = Layout::org(&session, "Security", &ctx, "security");
            let page = require_page(l, url, format!("everyone on the team of {}", m.org_name), m.require_2fa, 0);
            return require_again(page, &form, e);
        }
    };
    uc::set_firm_requirement(&state.db, ctx.user.user_id(), m.org_id, grace).await?;
    Ok(redirect_with(&session, &url, FlashKind::Success, saved(grace)))
}

pub async fn workspace_form(session: Session, ctx: WorkspaceContext) -> Result<HttpResponse, AppError> {
    may_require_in_workspace(&ctx)?;
    let (ws, a) = (&ctx.access.workspace, &ctx.access);
    let l = Layout::workspace(&session, "Security", &ctx, "settings");
    let action = format!("/w/{}/settings/security", ws.id);
    render(require_page(l, action, format!("everyone in {}", ws.name), a.require_2fa, ws.id.0))
}

pub async fn workspace_save(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    form: web::Form<RequireForm>,
) -> Result<HttpResponse, AppError> {
    may_require_in_workspace(&ctx)?;
    let (ws, a) = (&ctx.access.workspace, &ctx.access);
    let url = format!("/w/{}/settings/security", ws.id);
    let grace = match form.parse() {
        Ok(g) => g,
        Err(e) => {
            let l = Layout::workspace(&session, "Security", &ctx, "settings");
            let page = require_page(l, url, format!("everyone in {}", ws.name), a.require_2fa, ws.id.0);
            return require_again(page, &form, e);
        }
    };
    uc::set_workspace_requirement(&state.db, ctx.user.user_id(), ws.id, grace).await?;
    Ok(redirect_with(&session, &url, FlashKind::Success, saved(grace)))
}

/// The form again, as the Admin filled it, with what is wrong (nothing was saved).
fn require_again(mut page: RequirePage, form: &RequireForm, error: &str) -> Result<HttpResponse, AppError> {
    page.required = form.required.is_some();
    page.grace_days = form.grace_days.clone();
    page.error = Some(error.to_string());
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page)
}
