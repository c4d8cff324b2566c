//! Email: each one as three templates (subject, text, HTML), a transport (SMTP through
//! lettre, or the development mailbox when no SMTP server is configured), and the worker
//! that empties the outbox.

pub mod smtp;
pub mod worker;

use askama::Template;

use crate::db::models::account_token::{AccountToken, Purpose};
use crate::db::models::ending::{EndingNotice, NoticePlace};
use crate::db::models::invite::InviteDetails;
use crate::domain::access::{Access, SeatFacts, StaffFacts};
use crate::domain::token::InviteKey;
use crate::domain::{OrgRole, WorkspaceRole};

pub struct RenderedEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What an invite email says, in words ready for the templates.
pub struct InviteEmailView {
    pub inviter_name: String,
    pub inviter_email: String,
    pub org_name: String,
    /// The client's name for a workspace invite; None for a firm (team) invite.
    pub workspace_name: Option<String>,
    pub role: String,
    pub role_description: String,
    pub access: String,
    pub link: String,
    pub expires: String,
    /// The invite's one reminder (before it expires), not the invite itself.
    pub reminder: bool,
}

#[derive(Template)]
#[template(path = "emails/invite_subject.txt")]
struct InviteSubject<'a> {
    inviter_name: &'a str,
    workspace_name: Option<&'a str>,
    org_name: &'a str,
}

/// An invite email's subject: "Ada invited you to Acme Bakery on Portico".
pub fn invite_subject(inviter_name: &str, workspace_name: Option<&str>, org_name: &str) -> String {
    InviteSubject { inviter_name, workspace_name, org_name }.render().unwrap_or_default().trim().to_string()
}

/// An account email's subject (they hold nothing the asker chose), by outbox kind.
pub fn account_subject(kind: &str) -> String {
    let v = AccountEmailView { email: String::new(), link: String::new(), expires: String::new() };
    let subject = match kind {
        crate::db::models::outbox::KIND_RESET_PASSWORD => ResetSubject { v: &v }.render(),
        _ => VerifySubject { v: &v }.render(),
    };
    subject.unwrap_or_default().trim().to_string()
}

#[derive(Template)]
#[template(path = "emails/invite.txt")]
struct InviteText<'a> {
    v: &'a InviteEmailView,
}

#[derive(Template)]
#[template(path = "emails/invite.html")]
struct InviteHtml<'a> {
    v: &'a InviteEmailView,
}

/// The invite link "Copy invite link" shows: it opens the invite, but proves no address.
pub fn invite_link(public_url: &str, key: &InviteKey, nonce: &str) -> String {
    format!("{public_url}/invites/{}", key.token_for(nonce).as_str())
}

/// The invite link of the email: with the proof that it reached the invited address.
pub fn emailed_invite_link(public_url: &str, key: &InviteKey, nonce: &str) -> String {
    format!("{}?proof={}", invite_link(public_url, key, nonce), key.emailed_proof(nonce).as_str())
}

/// The role of an invite in words and its description: a workspace role for an invite to
/// a client, a firm role for one to the team.
pub fn role_words(details: &InviteDetails) -> (&'static str, &'static str) {
    if details.workspace.is_some() {
        WorkspaceRole::parse(&details.role).map_or(("", ""), |r| (r.label(), r.description()))
    } else {
        OrgRole::parse(&details.role).map_or(("", ""), |r| (r.label(), r.description()))
    }
}

/// "All entities", "Acme LLC, Acme Holdings", "All clients", … The rules say which roles
/// hold everything.
pub fn access_words(details: &InviteDetails) -> String {
    if details.workspace.is_some() {
        let chosen = if details.all_entities { Access::All } else { Access::none() };
        let all = WorkspaceRole::parse(&details.role).is_some_and(|r| SeatFacts::with(r, chosen).entities.is_all());
        match (all, details.access.is_empty()) {
            (true, _) => "All entities".into(),
            (false, true) => "No entities yet".into(),
            (false, false) => details.access.join(", "),
        }
    } else {
        let all = OrgRole::parse(&details.role).is_some_and(|r| StaffFacts::new(r, [], false).clients.is_all());
        let mut parts = details.access.clone();
        if details.new_clients {
            parts.push("new clients as they are added".into());
        }
        match (all, parts.is_empty()) {
            (true, _) => "All clients".into(),
            (false, true) => "No clients yet".into(),
            (false, false) => parts.join(", "),
        }
    }
}

pub fn render_invite(details: &InviteDetails, public_url: &str, key: &InviteKey) -> RenderedEmail {
    render_invite_as(details, public_url, key, false)
}

/// The subject of an invite's reminder: "Reminder: Ada invited you to Acme Bakery on Portico".
pub fn reminder_subject(invite_subject: &str) -> String {
    format!("Reminder: {invite_subject}")
}

/// The invite email (`reminder`: its reminder, which says so first).
pub fn render_invite_as(details: &InviteDetails, public_url: &str, key: &InviteKey, reminder: bool) -> RenderedEmail {
    let (role, role_description) = role_words(details);
    let v = InviteEmailView {
        inviter_name: details.inviter_name.clone(),
        inviter_email: details.inviter_email.clone(),
        org_name: details.org_name.clone(),
        workspace_name: details.workspace.as_ref().map(|w| w.1.clone()),
        role: role.to_string(),
        role_description: role_description.to_string(),
        access: access_words(details),
        link: emailed_invite_link(public_url, key, &details.nonce),
        expires: details.expires_at.format("%B %-d, %Y at %H:%M UTC").to_string(),
        reminder,
    };
    let subject = invite_subject(&v.inviter_name, v.workspace_name.as_deref(), &v.org_name);
    RenderedEmail {
        to: details.email.clone(),
        subject: if reminder { reminder_subject(&subject) } else { subject },
        text: InviteText { v: &v }.render().unwrap_or_default(),
        html: InviteHtml { v: &v }.render().unwrap_or_default(),
    }
}

/// What an email verification or password reset email says. No words chosen by whoever
/// asked for it (names, firm names): anyone can type someone else's address.
pub struct AccountEmailView {
    pub email: String,
    pub link: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "emails/verify_email_subject.txt")]
struct VerifySubject<'a> {
    #[allow(dead_code)]
    v: &'a AccountEmailView,
}

#[derive(Template)]
#[template(path = "emails/verify_email.txt")]
struct VerifyText<'a> {
    v: &'a AccountEmailView,
}

#[derive(Template)]
#[template(path = "emails/verify_email.html")]
struct VerifyHtml<'a> {
    v: &'a AccountEmailView,
}

#[derive(Template)]
#[template(path = "emails/reset_password_subject.txt")]
struct ResetSubject<'a> {
    #[allow(dead_code)]
    v: &'a AccountEmailView,
}

#[derive(Template)]
#[template(path = "emails/reset_password.txt")]
struct ResetText<'a> {
    v: &'a AccountEmailView,
}

#[derive(Template)]
#[template(path = "emails/reset_password.html")]
struct ResetHtml<'a> {
    v: &'a AccountEmailView,
}

/// The link of an email verification (`/verify-email/…`) or password reset
/// (`/password/reset/…`) email.
pub fn account_link(public_url: &str, key: &InviteKey, token: &AccountToken) -> String {
    let secret = key.account_links().token_for(&token.token_nonce);
    match Purpose::parse(&token.purpose) {
        Some(Purpose::ResetPassword) => format!("{public_url}/password/reset/{}", secret.as_str()),
        _ => format!("{public_url}/verify-email/{}", secret.as_str()),
    }
}

pub fn render_account(token: &AccountToken, public_url: &str, key: &InviteKey) -> RenderedEmail {
    let v = AccountEmailView {
        email: token.email.clone(),
        link: account_link(public_url, key, token),
        expires: token.expires_at.format("%B %-d, %Y at %H:%M UTC").to_string(),
    };
    let (subject, text, html) = match Purpose::parse(&token.purpose) {
        Some(Purpose::ResetPassword) => {
            (ResetSubject { v: &v }.render(), ResetText { v: &v }.render(), ResetHtml { v: &v }.render())
        }
        _ => (VerifySubject { v: &v }.render(), VerifyText { v: &v }.render(), VerifyHtml { v: &v }.render()),
    };
    RenderedEmail {
        to: token.email.clone(),
        subject: subject.unwrap_or_default().trim().to_string(),
        text: text.unwrap_or_default(),
        html: html.unwrap_or_default(),
    }
}

/// What an "access ends soon" email to a workspace Admin says.
pub struct AccessEndingView {
    pub who: String,
    pub email: String,
    /// "Acme Bakery", or "the clients of Ames & Co" (a firm Member's client access).
    pub place: String,
    pub org_name: String,
    /// Why the reader gets it: "an Admin of Acme Bakery".
    pub recipient: String,
    pub ends: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "emails/access_ending_subject.txt")]
struct AccessEndingSubject<'a> {
    v: &'a AccessEndingView,
}

#[derive(Template)]
#[template(path = "emails/access_ending.txt")]
struct AccessEndingText<'a> {
    v: &'a AccessEndingView,
}

#[derive(Template)]
#[template(path = "emails/access_ending.html")]
struct AccessEndingHtml<'a> {
    v: &'a AccessEndingView,
}

/// The page an "access ends soon" email's Extend button opens: the workspace's Extend page,
/// or (a firm Member's client access) their Configure permissions on the Team page.
pub fn extend_link(public_url: &str, n: &EndingNotice) -> String {
    match n.place {
        NoticePlace::Workspace { id, .. } => format!("{public_url}/w/{}/settings/members/{}/extend", id.0, n.user.0),
        NoticePlace::Firm(org) => format!("{public_url}/orgs/{}/team/{}/permissions", org.0, n.user.0),
    }
}

pub fn render_access_ending(n: &EndingNotice, to: &str, public_url: &str) -> RenderedEmail {
    let who = if n.name.trim().is_empty() { n.email.clone() } else { n.name.clone() };
    let (place, recipient) = match &n.place {
        NoticePlace::Workspace { name, .. } => (name.clone(), format!("an Admin of {name}")),
        NoticePlace::Firm(_) => {
            (format!("the clients of {}", n.org_name), format!("an Admin or Manager of {}", n.org_name))
        }
    };
    let v = AccessEndingView {
        who,
        email: n.email.clone(),
        place,
        recipient,
        org_name: n.org_name.clone(),
        ends: n.ends.words(),
        link: extend_link(public_url, n),
    };
    RenderedEmail {
        to: to.to_string(),
        subject: AccessEndingSubject { v: &v }.render().unwrap_or_default().trim().to_string(),
        text: AccessEndingText { v: &v }.render().unwrap_or_default(),
        html: AccessEndingHtml { v: &v }.render().unwrap_or_default(),
    }
}
