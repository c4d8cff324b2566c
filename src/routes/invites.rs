//! The invite link: a page that says who invited whom to what, and "Accept invite".
//! Opening the link changes nothing (mail scanners open links); accepting is a POST.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{encode_query, redirect, redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::client_ip::limit_subject;
use crate::auth::extract::MaybeUser;
use crate::auth::session::FlashKind;
use crate::auth::{password, session};
use crate::db::models::invite::{AcceptError, Accepted, InviteDetails};
use crate::db::models::user::User;
use crate::domain::token::{InviteProof, InviteToken};
use crate::domain::{EmailAddress, Name, Password, UserId};
use crate::email::{access_words, role_words};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::identity::{self, AddressHolder};
use crate::usecases::invites::{self, Joined, LinkProof, Lookup};
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
    /// Signed in with the invited address, which is confirmed or this link proves.
    Invited,
    /// Signed in with the invited address, unconfirmed, from a link that proves nothing (a
    /// copied one): they confirm the address first.
    InvitedUnconfirmed,
    SomeoneElse(String),
}

#[derive(Template)]
#[template(path = "invites/landing.html")]
pub struct LandingPage {
    l: Layout,
    token: String,
    /// The proof of the emailed link, carried into the forms; empty for any other link.
    proof: String,
    /// This page with its proof, for "Log in" and "Log out" to come back to (URL-encoded).
    back: String,
    invite: InviteSummary,
    viewer: Viewer,
    /// The invited address belongs to an account nobody confirmed and this is the emailed
    /// link: creating the account here replaces it.
    stale: bool,
    /// The invited address belongs to an account nobody confirmed, and this link proves
    /// nothing: only "Log in" and "Forgot password?".
    taken: bool,
    /// The emailed link: creating the account accepts at once (otherwise it waits for the
    /// address to be confirmed).
    emailed: bool,
    name: String,
    errors: RegisterErrors,
}

#[derive(Default)]
pub struct RegisterErrors {
    name: Option<String>,
    password: Option<String>,
    form: Option<String>,
}

impl RegisterErrors {
    /// An error about the whole form (the account exists, …).
    fn form(message: String) -> RegisterErrors {
        RegisterErrors { form: Some(message), ..RegisterErrors::default() }
    }
}

#[derive(Template)]
#[template(path = "invites/ended.html")]
pub struct EndedPage {
    l: Layout,
    heading: &'static str,
    message: String,
    /// An expired invite's "Send me a new link" form (its action), if it may be renewed.
    new_link: Option<String>,
}

fn ended(
    session: &Session,
    user: Option<&User>,
    status: StatusCode,
    heading: &'static str,
    message: &'static str,
) -> Result<HttpResponse, AppError> {
    let message = message.to_string();
    render_with_status(
        status,
        EndedPage { l: Layout::public(session, heading, user), heading, message, new_link: None },
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
const EXPIRED_RENEWABLE: &str =
    "Invite links work for a limited time. You can have a new link sent to the address this invite was for.";
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
    /// Expired, and whoever holds the link may have a new one sent to the invited address.
    Renewable,
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
        Lookup::Expired { renewable: true } => Found::Renewable,
        Lookup::Expired { renewable: false } => ended(StatusCode::GONE, EXPIRED, None, "/".into()),
        Lookup::Used { accepted_by, leads_to } => ended(StatusCode::GONE, USED, accepted_by, accepted_url(leads_to)),
    })
}

pub async fn landing(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
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
        Found::Renewable => {
            let page = EndedPage {
                l: Layout::public(&session, EXPIRED.0, user.as_ref()),
                heading: EXPIRED.0,
                message: EXPIRED_RENEWABLE.into(),
                new_link: Some(format!("/invites/{}/new-link", token.as_str())),
            };
            render_with_status(StatusCode::GONE, page)
        }
        Found::Pending(token, d) => {
            let proof = proof_in(req.query_string());
            render(LandingPage::new(&state, &session, user.as_ref(), &token, &d, proof).await?)
        }
    }
}

/// The `proof` in an invite link's query string, if well-formed. (Query strings are never
/// logged: see the request log's format in `startup`.)
fn proof_in(query: &str) -> Option<InviteProof> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == "proof").and_then(|(_, v)| InviteProof::parse(&v))
}

fn link_proof(state: &AppState, proof: Option<InviteProof>) -> LinkProof {
    LinkProof { key: state.invite_key.clone(), proof }
}

/// The invite page's own path, with the proof when there is one.
fn invite_path(token: &InviteToken, proof: Option<&InviteProof>) -> String {
    match proof {
        Some(p) => format!("/invites/{}?proof={}", token.as_str(), p.as_str()),
        None => format!("/invites/{}", token.as_str()),
    }
}

impl LandingPage {
    async fn new(
        state: &AppState,
        session: &Session,
        user: Option<&User>,
        token: &InviteToken,
        d: &InviteDetails,
        proof: Option<InviteProof>,
    ) -> Result<LandingPage, AppError> {
        let emailed = link_proof(state, proof.clone()).emailed(&d.nonce);
        let proof = proof.filter(|_| emailed);
        let unconfirmed_holder = match user {
            None => {
                identity::holder_of(&state.db, EmailAddress::from_trusted(d.email.clone())).await?
                    == AddressHolder::Unverified
            }
            Some(_) => false,
        };
        Ok(LandingPage {
            l: Layout::public(session, "You're invited", user),
            token: token.as_str().to_string(),
            back: encode_query(&invite_path(token, proof.as_ref())),
            proof: proof.map(|p| p.as_str().to_string()).unwrap_or_default(),
            invite: InviteSummary::from(d),
            viewer: Viewer::of(user, d, emailed),
            stale: unconfirmed_holder && emailed,
            taken: unconfirmed_holder && !emailed,
            emailed,
            name: String::new(),
            errors: RegisterErrors::default(),
        })
    }

    /// The page again, after the account form was refused: the name kept, what was wrong.
    fn again(mut self, form: &RegisterForm, errors: RegisterErrors) -> Result<HttpResponse, AppError> {
        self.name = form.name.clone();
        self.errors = errors;
        render_with_status(StatusCode::UNPROCESSABLE_ENTITY, self)
    }
}

impl Viewer {
    fn of(user: Option<&User>, d: &InviteDetails, emailed: bool) -> Viewer {
        match user {
            None => Viewer::SignedOut,
            Some(u) if u.email == d.email && (u.is_verified() || emailed) => Viewer::Invited,
            Some(u) if u.email == d.email => Viewer::InvitedUnconfirmed,
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

#[derive(Deserialize)]
pub struct AcceptForm {
    /// The emailed link's proof, from the page's hidden field.
    #[serde(default)]
    proof: String,
}

pub async fn accept(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    accept_as(&state, &session, &token, user.0, InviteProof::parse(&form.proof)).await
}

async fn accept_as(
    state: &AppState,
    session: &Session,
    token: &str,
    user: Option<User>,
    proof: Option<InviteProof>,
) -> Result<HttpResponse, AppError> {
    let Some(parsed) = InviteToken::parse(token) else {
        return accept_error(session, user.as_ref(), AcceptError::Unknown);
    };
    let back = invite_path(&parsed, proof.as_ref());
    let Some(user) = user else {
        return Ok(redirect(&format!("/login?next={}", encode_query(&back))));
    };
    match invites::accept(&state.db, parsed, user.clone(), link_proof(state, proof)).await {
        Ok(to) => Ok(redirect_with(session, &accepted_url(to), FlashKind::Success, "Invite accepted. Welcome!")),
        Err(ActionError::Unconfirmed) => Ok(redirect_with(session, &back, FlashKind::Error, UNCONFIRMED)),
        Err(ActionError::InviteEnded(e)) => accept_error(session, Some(&user), e),
        Err(e) => Err(e.into()),
    }
}

const UNCONFIRMED: &str = "Confirm your email address first: open the link we sent to it, then accept the invite.";

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    /// The emailed link's proof, from the page's hidden field.
    #[serde(default)]
    proof: String,
}

/// Creates the invited person's account (email fixed to the invited address): from the
/// emailed link it accepts the invite too, in one transaction; from any other link the
/// account waits, unconfirmed, for its address to be confirmed.
pub async fn register(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    user: MaybeUser,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let proof = InviteProof::parse(&form.proof);
    if user.0.is_some() {
        return accept_as(&state, &session, &token, user.0, proof).await;
    }
    let (token, details) = match look_up(&state, &token).await? {
        Found::Pending(token, details) => (token, details),
        Found::Ended { status, words, .. } => return ended(&session, None, status, words.0, words.1),
        Found::Renewable => return ended(&session, None, StatusCode::GONE, EXPIRED.0, EXPIRED.1),
    };
    let page = LandingPage::new(&state, &session, None, &token, &details, proof.clone()).await?;
    let parsed = parse_account(&form);
    let Ok((name, pw)) = parsed else { return page.again(&form, parsed.err().unwrap_or_default()) };
    let (hash, email) = (password::hash_off_thread(pw).await?, EmailAddress::from_trusted(details.email.clone()));
    let with = link_proof(&state, proof.clone());
    match invites::create_account_and_accept(&state.db, token.clone(), email, name, hash, with).await {
        Ok(joined) => Ok(welcome(&state, &session, &invite_path(&token, proof.as_ref()), joined)),
        Err(ActionError::Conflict(c)) => page.again(&form, RegisterErrors::form(c.message())),
        Err(ActionError::InviteEnded(e)) => accept_error(&session, None, e),
        Err(e) => Err(e.into()),
    }
}

/// The new account is signed in: where the invite leads, or (a link that proved nothing)
/// back to the invite, which waits for the address to be confirmed.
fn welcome(state: &AppState, session: &Session, back: &str, joined: Joined) -> HttpResponse {
    match joined {
        Joined::Accepted(uid, to) => {
            session::sign_in(session, uid);
            let message = "Your account is ready and the invite is accepted. Welcome!";
            redirect_with(session, &accepted_url(to), FlashKind::Success, message)
        }
        Joined::ConfirmFirst(uid, email) => {
            state.wake_mailer();
            session::sign_in(session, uid);
            let hint = state.own_mail_hint();
            let message = format!("Confirm your email address to accept this invite: we sent a link to {email}{hint}.");
            redirect_with(session, back, FlashKind::Info, message)
        }
    }
}

/// The name and password of the account form.
fn parse_account(form: &RegisterForm) -> Result<(Name, Password), RegisterErrors> {
    match (Name::parse(&form.name, "name", 100), Password::parse(&form.password)) {
        (Ok(n), Ok(p)) => Ok((n, p)),
        (n, p) => Err(RegisterErrors { name: n.err(), password: p.err(), form: None }),
    }
}

/// A page that only says something: a heading and a sentence.
fn said(
    session: &Session,
    user: Option<&User>,
    status: StatusCode,
    heading: &'static str,
    message: String,
) -> Result<HttpResponse, AppError> {
    render_with_status(
        status,
        EndedPage { l: Layout::public(session, heading, user), heading, message, new_link: None },
    )
}

// 31 lines, knowingly: the limit, the renewal and its two pages (sent, or nothing to renew)
// are one flow; the decisions are the use case's (`invites::renew_on_request`).
/// "Send me a new link" on an expired invite: a new link goes to the invited address, and
/// the page says so (with the address masked). Rate-limited; a cancelled or used invite
/// offers nothing.
pub async fn new_link(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    token: web::Path<String>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let user = user.0;
    let Some(parsed) = InviteToken::parse(&token) else {
        return ended(&session, user.as_ref(), StatusCode::NOT_FOUND, UNKNOWN.0, UNKNOWN.1);
    };
    let client = limit_subject(&req, &state.settings.trusted_proxies);
    match invites::request_new_link(&state.db, parsed, client, state.invite_settings()).await {
        Ok(masked) => {
            state.wake_mailer();
            let days = state.settings.invite_ttl_days;
            let message = format!("A new invite link is on its way to {masked}, the address this invite was for. It works for {days} days; this old link no longer works.");
            said(&session, user.as_ref(), StatusCode::OK, "We sent you a new link", message)
        }
        Err(ActionError::Limited(r)) => {
            let message = format!("Check the inbox of the address this invite was for. {}", r.message());
            said(&session, user.as_ref(), StatusCode::TOO_MANY_REQUESTS, "A new link was sent a moment ago", message)
        }
        // Not (or no longer) an expired pending invite: say what it is.
        Err(ActionError::NotFound) => match look_up(&state, &token).await? {
            Found::Ended { status, words, .. } => ended(&session, user.as_ref(), status, words.0, words.1),
            Found::Pending(..) | Found::Renewable => Ok(redirect(&format!("/invites/{}", token.as_str()))),
        },
        Err(e) => Err(e.into()),
    }
}
