//! The local mailbox (development only): with no SMTP server configured, emails are kept
//! in the outbox and a signed-in person reads here the mail sent to their own, confirmed,
//! address (never anyone else's: the emails hold invite and password links). When
//! SMTP_URL is set these pages do not exist.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

#[allow(unused_imports)]
use super::{render, Layout, TimeWords};
use crate::auth::CurrentUser;
use crate::db::models::outbox::{self, MailboxRow};
use crate::domain::InviteId;
use crate::email::worker::{render_account_email, render_invite_email, render_notice_email, render_reminder_email};
use crate::email::{account_subject, invite_subject, reminder_subject, RenderedEmail};
use crate::error::AppError;
use crate::startup::AppState;

pub struct MailView {
    id: i64,
    to: String,
    subject: String,
    state: String,
    at: chrono::NaiveDateTime,
}

#[derive(Template)]
#[template(path = "dev/mailbox.html")]
pub struct MailboxPage {
    l: Layout,
    /// The address is not confirmed: no mail is shown, the log has the link.
    unverified: bool,
    mails: Vec<MailView>,
}

fn require_dev(state: &AppState) -> Result<(), AppError> {
    if state.settings.dev_mailbox() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The email of an outbox row, as it was (or will be) sent.
async fn rendered(state: &AppState, row: &MailboxRow) -> Result<Option<RenderedEmail>, AppError> {
    let (url, key) = (&state.public_url, &state.invite_key);
    match (row.invite_id, row.token_id, row.membership_id) {
        (Some(invite), _, _) if row.kind == outbox::KIND_INVITE_REMINDER => {
            render_reminder_email(&state.db, InviteId(invite), url, key, false).await
        }
        (Some(invite), _, _) => render_invite_email(&state.db, InviteId(invite), url, key, false).await,
        (None, Some(token), _) => render_account_email(&state.db, token, url, key, false).await,
        (None, None, Some(m)) => {
            let staff = row.kind == outbox::KIND_CLIENT_ACCESS_ENDING;
            render_notice_email(&state.db, Some(m), staff, &row.to_email, url, false).await
        }
        (None, None, None) => Ok(None),
    }
}

pub async fn list(state: web::Data<AppState>, session: Session, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_dev(&state)?;
    let unverified = !user.0.is_verified();
    let to = user.0.email.clone();
    let (rows, parts) = match unverified {
        true => Default::default(),
        false => state.db.read(move |c| outbox::mailbox_of(c, &to, 50)).await?,
    };
    let mails = rows
        .into_iter()
        .map(|r| {
            let subject = match r.invite_id.and_then(|i| parts.get(&i)) {
                Some(p) if r.kind == outbox::KIND_INVITE_REMINDER => {
                    reminder_subject(&invite_subject(&p.inviter, p.workspace.as_deref(), &p.org))
                }
                Some(p) => invite_subject(&p.inviter, p.workspace.as_deref(), &p.org),
                None if r.membership_id.is_some() => "Someone's access ends soon".to_string(),
                None => account_subject(&r.kind),
            };
            MailView { id: r.id, to: r.to_email, subject, state: r.state, at: r.created_at }
        })
        .collect();
    render(MailboxPage { l: Layout::personal(&session, "Local mailbox", &user.0, &user.1), unverified, mails })
}

#[derive(Template)]
#[template(path = "dev/message.html")]
pub struct MessagePage {
    l: Layout,
    to: String,
    subject: String,
    state: String,
    text: String,
    link: Option<String>,
}

/// The link of an email's text (invite, confirmation or reset), put first on the page.
fn link_in(text: &str, public_url: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| l.starts_with(public_url)).map(String::from)
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<i64>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    require_dev(&state)?;
    let id = id.into_inner();
    let row = state.db.read(move |c| outbox::find(c, id)).await?;
    // Another person's mail, or any mail before the address is confirmed, is not found.
    let row = row.filter(|r| user.0.is_verified() && r.to_email == user.0.email).ok_or(AppError::NotFound)?;
    let mail = rendered(&state, &row).await?.ok_or(AppError::NotFound)?;
    let link = link_in(&mail.text, &state.public_url);
    render(MessagePage {
        l: Layout::personal(&session, mail.subject.clone(), &user.0, &user.1),
        to: mail.to,
        subject: mail.subject,
        state: row.state,
        text: mail.text,
        link,
    })
}
