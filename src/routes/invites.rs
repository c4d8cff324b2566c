//! The invite link: a page that says who invited whom to what, and "Accept invite".
//! Opening the link changes nothing (mail scanners open links); accepting is a POST.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{encode_query, redirect, redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::extract::MaybeUser;
use crate::auth::session::FlashKind;
use crate::auth::{password, session};
use crate::db::models::invite::{AcceptError, Accepted, InviteDetails};
use crate::db::models::user::User;
use crate::domain::token::InviteToken;
use crate::domain::{EmailAddress, Name, Password, UserId};
use crate::email::{access_words, role_words};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::identity::{self, AddressHolder};
use crate::usecases::invites::{self, Lookup};
use crate::usecases::ActionError;

/// The invite as the landing page tells it.
pub struct InviteSummary {
    inviter_name: String,
    org_name: String,
    workspace_name: Option<String>,
    email: String,
    role: &'static str,
    role_description: &'static str,
    access: String,
    expires: chrono::NaiveDateTime,
}

impl InviteSummary {
    fn from(d: &InviteDetails) -> InviteSummary {
        let (role, role_description) = role_words(d);
        InviteSummary {
            inviter_name: d.inviter_name.clone(),
            org_name: d.org_name.clone(),
            workspace_name: d.workspace.as_ref().map(|w| w.1.clone()),
            email: d.email.clone(),
            role,
            role_description,
            access: access_words(d),
            expires: d.expires_at,
        }
    }
}

/// Who is looking at the invite.
pub enum Viewer {
    SignedOut,
    Invited,
    SomeoneElse(String),
}

#[derive(Template)]
#[template(path = "invites/landing.html")]
pub struct LandingPage {
    l: Layout,
    token: String,
    invite: InviteSummary,
    viewer: Viewer,
    /// The invited address belongs to an account nobody confirmed: creating the account
    /// here replaces it.
    stale: bool,
    name: String,
    errors: RegisterErrors,
}

#[derive(Default)]
pub struct RegisterErrors {
    name: Option<String>,
    password: Option<String>,
    form: Option<String>,
}

#[derive(Template)]
#[template(path = "invites/ended.html")]
pub struct EndedPage {
    l: Layout,
    heading: &'static str,
    message: &'static str,
}

fn ended(
    session: &Session,
    user: Option<&User>,
    status: StatusCode,
    heading: &'static str,
    message: &'static str,
) -> Result<HttpResponse, AppError> {
    render_with_status(status, EndedPage { l: Layout::public(session, heading, user), heading, message })
}

const UNKNOWN: (&str, &str) = ("This invite link is not valid", "Check that you opened the whole link from the email. If it still does not work, ask the person who invited you to send a new invite.");
const CANCELLED: (&str, &str) = (
    "This invite was cancelled",
    "The invite is no longer valid. If you still need access, ask the person who invited you to send a new invite.",
);
const EXPIRED: (&str, &str) = (
    "This invite has expired",
    "Invite links work for a limited time. Ask the person who invited you to resend the invite.",
);
const USED: (&str, &str) = ("This invite has already been used", "Each invite link works once. If you accepted it, log in to reach your workspace; otherwise ask the person who invited you for a new invite.");

fn accepted_url(to: Accepted) -> String {
    match to {
        Accepted::Workspace(ws) => format!("/w/{ws}/entities"),
        Accepted::Organization(org) => format!("/orgs/{org}/clients"),
    }
}

/// What an invite link finds, as a page: pending (its landing page) or ended.
enum Found {
    Pending(InviteToken, Box<InviteDetails>),
    /// Not usable: its own page, unless the viewer is the one who accepted it, who simply
    /// goes where it leads.
    Ended {
        status: StatusCode,
        words: (&'static str, &'static str),
        accepted_by: Option<UserId>,
        leads_to: String,
    },
}

async fn look_up(state: &AppState, token: &str) -> Result<Found, AppError> {
    let ended = |status, words, accepted_by, leads_to: String| Found::Ended { status, words, accepted_by, leads_to };
    let Some(token) = InviteToken::parse(token) else {
        return Ok(ended(StatusCode::NOT_FOUND, UNKNOWN, None, "/".into()));
    };
    Ok(match invites::look_up(&state.db, token.clone()).await? {
        Lookup::Pending(d) => Found::Pending(token, d),
        Lookup::Unknown => ended(StatusCode::NOT_FOUND, UNKNOWN, None, "/".into()),
        Lookup::Cancelled => ended(StatusCode::GONE, CANCELLED, None, "/".into()),
        Lookup::Expired => ended(StatusCode::GONE, EXPIRED, None, "/".into()),
        Lookup::Used { accepted_by, leads_to } => ended(StatusCode::GONE, USED, accepted_by, accepted_url(leads_to)),
    })
}

pub async fn landing(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let user = user.0;
    match look_up(&state, &token).await? {
        Found::Ended { accepted_by: Some(by), leads_to, .. } if user.as_ref().is_some_and(|u| u.user_id() == by) => {
            Ok(redirect(&leads_to))
        }
        Found::Ended { status, words: (heading, message), .. } => {
            ended(&session, user.as_ref(), status, heading, message)
        }
        Found::Pending(token, d) => render(LandingPage {
            l: Layout::public(&session, "You're invited", user.as_ref()),
            token: token.as_str().to_string(),
            invite: InviteSummary::from(&d),
            viewer: Viewer::of(user.as_ref(), &d),
            stale: user.is_none() && is_stale(&state, &d).await?,
            name: String::new(),
            errors: RegisterErrors::default(),
        }),
    }
}

/// Whether the invited address belongs to an unconfirmed account (which the invite replaces).
async fn is_stale(state: &AppState, d: &InviteDetails) -> Result<bool, AppError> {
    let email = EmailAddress::from_trusted(d.email.clone());
    Ok(identity::holder_of(&state.db, email).await? == AddressHolder::Unverified)
}

impl Viewer {
    fn of(user: Option<&User>, d: &InviteDetails) -> Viewer {
        match user {
            None => Viewer::SignedOut,
            Some(u) if u.email == d.email => Viewer::Invited,
            Some(u) => Viewer::SomeoneElse(u.email.clone()),
        }
    }
}

fn accept_error(session: &Session, user: Option<&User>, e: AcceptError) -> Result<HttpResponse, AppError> {
    let (status, (heading, message)) = match e {
        AcceptError::Unknown => (StatusCode::NOT_FOUND, UNKNOWN),
        AcceptError::Cancelled => (StatusCode::GONE, CANCELLED),
        AcceptError::Expired => (StatusCode::GONE, EXPIRED),
        AcceptError::AlreadyAccepted { by_this_user: true, leads_to } => return Ok(redirect(&accepted_url(leads_to))),
        AcceptError::AlreadyAccepted { .. } => (StatusCode::GONE, USED),
        AcceptError::WrongAccount { .. } => (
            StatusCode::FORBIDDEN,
            (
                "This invite is for another email address",
                "Log out, then open the link again and log in with the address the invite was sent to.",
            ),
        ),
        AcceptError::Db(e) => return Err(crate::db::DbError::from(e).into()),
    };
    ended(session, user, status, heading, message)
}

pub async fn accept(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        let next = encode_query(&format!("/invites/{token}"));
        return Ok(redirect(&format!("/login?next={next}")));
    };
    let Some(token) = InviteToken::parse(&token) else {
        return accept_error(&session, Some(&user), AcceptError::Unknown);
    };
    match invites::accept(&state.db, token, user.clone()).await {
        Ok(to) => Ok(redirect_with(&session, &accepted_url(to), FlashKind::Success, "Invite accepted. Welcome!")),
        Err(ActionError::InviteEnded(e)) => accept_error(&session, Some(&user), e),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Creates the invited person's account (email fixed to the invited address) and accepts
/// the invite, in one transaction.
pub async fn register(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return accept(state, session, token, user).await;
    }
    let (token, details) = match look_up(&state, &token).await? {
        Found::Pending(token, details) => (token, details),
        Found::Ended { status, words, .. } => return ended(&session, None, status, words.0, words.1),
    };
    let form = form.into_inner();
    let stale = is_stale(&state, &details).await?;
    let again = |errors| register_again(&session, &token, &details, &form, stale, errors);
    let parsed = parse_account(&form);
    let Ok((name, pw)) = parsed else { return again(parsed.err().unwrap_or_default()) };
    let (hash, email) = (password::hash_off_thread(pw).await?, EmailAddress::from_trusted(details.email.clone()));
    match invites::create_account_and_accept(&state.db, token.clone(), email, name, hash).await {
        Ok((uid, to)) => {
            session::sign_in(&session, uid);
            let message = "Your account is ready and the invite is accepted. Welcome!";
            Ok(redirect_with(&session, &accepted_url(to), FlashKind::Success, message))
        }
        Err(ActionError::Conflict(c)) => again(RegisterErrors { form: Some(c.message()), ..RegisterErrors::default() }),
        Err(ActionError::InviteEnded(e)) => accept_error(&session, None, e),
        Err(e) => Err(e.into()),
    }
}

/// The name and password of the account form.
fn parse_account(form: &RegisterForm) -> Result<(Name, Password), RegisterErrors> {
    match (Name::parse(&form.name, "name", 100), Password::parse(&form.password)) {
        (Ok(n), Ok(p)) => Ok((n, p)),
        (n, p) => Err(RegisterErrors { name: n.err(), password: p.err(), form: None }),
    }
}

fn register_again(
    session: &Session,
    token: &InviteToken,
    details: &InviteDetails,
    form: &RegisterForm,
    stale: bool,
    errors: RegisterErrors,
) -> Result<HttpResponse, AppError> {
    render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        LandingPage {
            l: Layout::public(session, "You're invited", None),
            token: token.as_str().to_string(),
            invite: InviteSummary::from(details),
            viewer: Viewer::SignedOut,
            stale,
            name: form.name.clone(),
            errors,
        },
    )
}
