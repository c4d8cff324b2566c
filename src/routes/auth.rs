//! Sign up, log in, log out.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{redirect, render, render_with_status, safe_next, Layout};
use crate::auth::client_ip::limit_subject;
use crate::auth::extract::MaybeUser;
use crate::auth::login_limit;
use crate::auth::{password, session};
use crate::db::models::user;
use crate::domain::limits::Reached;
use crate::domain::{EmailAddress, Name, OrgId, Password, UserId};
use crate::error::AppError;
use crate::metrics::SignInRefusal;
use crate::startup::AppState;
use crate::usecases::{identity, ActionError};

#[derive(Default)]
pub struct SignupErrors {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub firm: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
pub struct SignupPage {
    l: Layout,
    name: String,
    email: String,
    firm: String,
    errors: SignupErrors,
    form_error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    firm: String,
}

pub async fn signup_form(session: Session, user: MaybeUser) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return Ok(redirect("/"));
    }
    render(SignupPage {
        l: Layout::public(&session, "Sign up", None),
        name: String::new(),
        email: String::new(),
        firm: String::new(),
        errors: SignupErrors::default(),
        form_error: None,
    })
}

fn parse_signup(form: &SignupForm) -> Result<(Name, EmailAddress, Password, Name), SignupErrors> {
    let name = Name::parse(&form.name, "name", 100);
    let email = EmailAddress::parse(&form.email);
    let pw = Password::parse(&form.password);
    let firm = Name::parse(&form.firm, "firm name", 120);
    match (name, email, pw, firm) {
        (Ok(n), Ok(e), Ok(p), Ok(f)) => Ok((n, e, p, f)),
        (n, e, p, f) => {
            Err(SignupErrors { name: n.err(), email: e.err().map(String::from), password: p.err(), firm: f.err() })
        }
    }
}

pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (name, email, pw, firm) = match parse_signup(&form) {
        Ok(parsed) => parsed,
        Err(errors) => return signup_again(&session, form, errors, None),
    };
    let limit = identity::Limits::from(&state.settings).signups;
    let client = limit_subject(&req, &state.settings.trusted_proxies);
    let new = identity::SignUp { email, name: name.clone(), password: pw, firm };
    match identity::sign_up(&state.db, new, state.invite_key.clone(), limit, client).await {
        Ok((uid, org)) => Ok(signed_up(&state, &session, uid, org, &name)),
        Err(ActionError::Conflict(c)) => {
            let errors = SignupErrors { email: Some(c.message()), ..SignupErrors::default() };
            signup_again(&session, form, errors, None)
        }
        Err(ActionError::Limited(r)) => signup_again(&session, form, SignupErrors::default(), Some(r.message())),
        Err(e) => Err(e.into()),
    }
}

/// Signed in to the new firm, with a welcome (the verification email is on its way).
fn signed_up(state: &AppState, session: &Session, uid: UserId, org: OrgId, name: &Name) -> HttpResponse {
    state.wake_mailer();
    session::sign_in(session, uid);
    let welcome = format!("Welcome to Portico, {}. Add your first client to get started.", name.as_str());
    session::flash(session, session::FlashKind::Success, welcome);
    redirect(&format!("/orgs/{org}/clients"))
}

fn signup_again(
    session: &Session,
    form: SignupForm,
    errors: SignupErrors,
    form_error: Option<String>,
) -> Result<HttpResponse, AppError> {
    render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        SignupPage {
            l: Layout::public(session, "Sign up", None),
            name: form.name,
            email: form.email,
            firm: form.firm,
            errors,
            form_error,
        },
    )
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    l: Layout,
    email: String,
    next: String,
    form_error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(
    session: Session,
    user: MaybeUser,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(q.next.as_deref());
    if user.0.is_some() {
        return Ok(redirect(next.as_deref().unwrap_or("/")));
    }
    render(LoginPage {
        l: Layout::public(&session, "Log in", None),
        email: String::new(),
        next: next.unwrap_or_default(),
        form_error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let attempt = match login_limit::begin(&state, &req, &form.email).await? {
        Ok(attempt) => attempt,
        Err(reached) => {
            state.metrics.sign_in_refused(SignInRefusal::Limited);
            return login_limited(&session, form.email, next, &reached);
        }
    };
    let user = check_credentials(&state, &form.email, form.password).await?;
    if user.is_some() {
        login_limit::succeeded(&state, attempt).await?;
    }
    match user {
        Some(user) => super::two_factor::after_password(&state, &session, user, next).await,
        None => {
            state.metrics.sign_in_refused(SignInRefusal::WrongPassword);
            let message = "That email and password do not match an account.";
            login_again(&session, form.email, next, message, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// The sign-in form again, with the email typed and what is wrong.
fn login_again(
    session: &Session,
    email: String,
    next: Option<String>,
    message: &str,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let l = Layout::public(session, "Log in", None);
    let page = LoginPage { l, email, next: next.unwrap_or_default(), form_error: Some(message.to_string()) };
    render_with_status(status, page)
}

/// Refused by the sign-in limit (no password checked): the form, with when to try again.
fn login_limited(
    session: &Session,
    email: String,
    next: Option<String>,
    reached: &Reached,
) -> Result<HttpResponse, AppError> {
    let message = format!("Too many sign-in attempts. {}", reached.message());
    let mut r = login_again(session, email, next, &message, StatusCode::TOO_MANY_REQUESTS)?;
    r.headers_mut().insert(header::RETRY_AFTER, reached.retry_after_seconds().into());
    Ok(r)
}

/// The account these credentials open, if any. A password is checked (against a dummy hash
/// when there is no such account) either way, so timing does not tell whether one exists.
async fn check_credentials(state: &AppState, email: &str, password: String) -> Result<Option<UserId>, AppError> {
    let user = match EmailAddress::parse(email) {
        Ok(email) => state.db.read(move |c| user::find_by_email(c, &email)).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = web::block(move || match hash {
        Some(h) => password::verify(&password, &h),
        None => {
            let _ = password::verify(&password, password::dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(user.filter(|_| ok).map(|u| u.user_id()))
}

pub async fn logout(session: Session, form: web::Form<LogoutForm>) -> HttpResponse {
    session::sign_out(&session);
    session::flash(&session, session::FlashKind::Info, "You are logged out.");
    // "Log out" on an invite meant for someone else returns to that invite, which offers
    // both "Log in" and creating the invited person's account.
    redirect(&safe_next(form.next.as_deref()).unwrap_or_else(|| "/login".to_string()))
}

#[derive(Deserialize)]
pub struct LogoutForm {
    next: Option<String>,
}
