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
use crate::db::models::invite::{self, AcceptError, Accepted, InviteDetails};
use crate::db::models::user::{self, CreateUserError, User};
use crate::domain::token::InviteToken;
use crate::domain::{Name, Password};
use crate::email::{access_words, role_words};
use crate::error::AppError;
use crate::startup::AppState;

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
    render_with_status(
        status,
        EndedPage {
            l: Layout::public(session, heading, user),
            heading,
            message,
        },
    )
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

/// What an invite link finds.
enum Lookup {
    Pending(InviteToken, Box<InviteDetails>),
    /// Not usable: its own page, unless the viewer is the one who accepted it, who simply
    /// goes where it leads.
    Ended {
        status: StatusCode,
        words: (&'static str, &'static str),
        accepted_by: Option<i64>,
        leads_to: String,
    },
}

async fn look_up(state: &AppState, token: &str) -> Result<Lookup, AppError> {
    let unknown = Lookup::Ended {
        status: StatusCode::NOT_FOUND,
        words: UNKNOWN,
        accepted_by: None,
        leads_to: "/".into(),
    };
    let Some(token) = InviteToken::parse(token) else {
        return Ok(unknown);
    };
    let t = token.clone();
    let found = state
        .db
        .read(move |c| match invite::find_by_token(c, &t)? {
            Some(inv) => Ok(Some(invite::details(c, inv)?)),
            None => Ok(None),
        })
        .await?;
    let Some(d) = found else {
        return Ok(unknown);
    };
    let leads_to = match d.workspace {
        Some((ws, _)) => format!("/w/{ws}/entities"),
        None => "/".to_string(),
    };
    let ended = |status, words, accepted_by| Lookup::Ended {
        status,
        words,
        accepted_by,
        leads_to: leads_to.clone(),
    };
    Ok(match d.state.as_str() {
        invite::CANCELLED => ended(StatusCode::GONE, CANCELLED, None),
        invite::ACCEPTED => ended(StatusCode::GONE, USED, d.accepted_by),
        _ if d.expires_at <= crate::db::models::now() => ended(StatusCode::GONE, EXPIRED, None),
        _ => Lookup::Pending(token, Box::new(d)),
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
        Lookup::Ended {
            accepted_by: Some(by),
            leads_to,
            ..
        } if user.as_ref().is_some_and(|u| u.id == by) => Ok(redirect(&leads_to)),
        Lookup::Ended {
            status,
            words: (heading, message),
            ..
        } => ended(&session, user.as_ref(), status, heading, message),
        Lookup::Pending(token, d) => {
            let viewer = match &user {
                None => Viewer::SignedOut,
                Some(u) if u.email == d.email => Viewer::Invited,
                Some(u) => Viewer::SomeoneElse(u.email.clone()),
            };
            render(LandingPage {
                l: Layout::public(&session, "You're invited", user.as_ref()),
                token: token.as_str().to_string(),
                invite: InviteSummary::from(&d),
                viewer,
                name: String::new(),
                errors: RegisterErrors::default(),
            })
        }
    }
}

fn accept_error(session: &Session, user: Option<&User>, e: AcceptError) -> Result<HttpResponse, AppError> {
    let (status, (heading, message)) = match e {
        AcceptError::Unknown => (StatusCode::NOT_FOUND, UNKNOWN),
        AcceptError::Cancelled => (StatusCode::GONE, CANCELLED),
        AcceptError::Expired => (StatusCode::GONE, EXPIRED),
        AcceptError::AlreadyAccepted {
            by_this_user: true,
            leads_to,
        } => return Ok(redirect(&accepted_url(leads_to))),
        AcceptError::AlreadyAccepted { .. } => (StatusCode::GONE, USED),
        AcceptError::WrongAccount { .. } => (
            StatusCode::FORBIDDEN,
            (
                "This invite is for another email address",
                "Log out, then open the link again and log in with the address the invite was sent to.",
            ),
        ),
        AcceptError::Db(e) => return Err(e.into()),
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
        return Ok(redirect(&format!(
            "/login?next={}",
            encode_query(&format!("/invites/{token}"))
        )));
    };
    let Some(token) = InviteToken::parse(&token) else {
        return accept_error(&session, Some(&user), AcceptError::Unknown);
    };
    let u = user.clone();
    let result = state
        .db
        .write(move |c| match invite::accept(c, &token, &u) {
            Err(AcceptError::Db(e)) => Err(e.into()),
            other => Ok(other),
        })
        .await?;
    match result {
        Ok(to) => Ok(redirect_with(
            &session,
            &accepted_url(to),
            FlashKind::Success,
            "Invite accepted. Welcome!",
        )),
        Err(e) => accept_error(&session, Some(&user), e),
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
        Lookup::Pending(token, details) => (token, details),
        Lookup::Ended {
            status,
            words: (heading, message),
            ..
        } => return ended(&session, None, status, heading, message),
    };
    let form = form.into_inner();
    let again = |errors: RegisterErrors| {
        render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            LandingPage {
                l: Layout::public(&session, "You're invited", None),
                token: token.as_str().to_string(),
                invite: InviteSummary::from(&details),
                viewer: Viewer::SignedOut,
                name: form.name.clone(),
                errors,
            },
        )
    };
    let (name, pw) = match (Name::parse(&form.name, "name", 100), Password::parse(&form.password)) {
        (Ok(n), Ok(p)) => (n, p),
        (n, p) => {
            return again(RegisterErrors {
                name: n.err(),
                password: p.err(),
                form: None,
            })
        }
    };
    let hash = web::block(move || password::hash(pw.expose()))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let email = crate::domain::EmailAddress::from_trusted(details.email.clone());
    let t = token.clone();
    let result = state
        .db
        .write(move |c| {
            // Checked first, so that a refused invite creates no account.
            match invite::acceptable(c, &t, email.as_str(), None) {
                Ok(_) => {}
                Err(AcceptError::Db(e)) => return Err(e.into()),
                Err(refused) => return Ok(Err(Refused::Invite(refused))),
            }
            let uid = match user::create(c, &email, name.as_str(), &hash) {
                Ok(uid) => uid,
                Err(CreateUserError::EmailTaken) => return Ok(Err(Refused::EmailTaken)),
                Err(CreateUserError::Db(e)) => return Err(e.into()),
            };
            let new_user = user::find(c, uid)?.ok_or(AppError::NotFound)?;
            match invite::accept(c, &t, &new_user) {
                Ok(to) => Ok(Ok((uid, to))),
                Err(AcceptError::Db(e)) => Err(e.into()),
                // Cannot happen after the check above, in the same transaction; if it did,
                // the error rolls the new account back.
                Err(other) => Err(AppError::Internal(format!("invite changed during sign-up: {other:?}"))),
            }
        })
        .await?;
    match result {
        Ok((uid, to)) => {
            session::sign_in(&session, uid);
            Ok(redirect_with(
                &session,
                &accepted_url(to),
                FlashKind::Success,
                "Your account is ready and the invite is accepted. Welcome!",
            ))
        }
        Err(Refused::EmailTaken) => again(RegisterErrors {
            form: Some("An account with this email already exists. Log in to accept the invite.".into()),
            ..RegisterErrors::default()
        }),
        Err(Refused::Invite(e)) => accept_error(&session, None, e),
    }
}

/// Why creating an account from an invite did not go through.
enum Refused {
    EmailTaken,
    Invite(AcceptError),
}
