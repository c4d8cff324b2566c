//! The local mailbox (development only): with no SMTP server configured, every email is
//! kept in the outbox and readable here, so the whole flow works on a fresh machine.
//! When SMTP_URL is set these pages do not exist; even then they are for signed-in users
//! only, as the emails hold invite links.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

#[allow(unused_imports)]
use super::{render, Layout, TimeWords};
use crate::auth::CurrentUser;
use crate::db::models::outbox;
use crate::domain::InviteId;
use crate::email::worker::render_invite_email;
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
    mails: Vec<MailView>,
}

fn require_dev(state: &AppState) -> Result<(), AppError> {
    if state.settings.dev_mailbox() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn list(state: web::Data<AppState>, session: Session, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_dev(&state)?;
    let rows = state.db.read(|c| outbox::recent(c, 100)).await?;
    let mails = rows
        .into_iter()
        .map(|r| MailView {
            id: r.id,
            to: r.to_email,
            subject: if r.invite_id.is_some() { "Invitation to Portico".into() } else { "Email".into() },
            state: r.state,
            at: r.created_at,
        })
        .collect();
    render(MailboxPage { l: Layout::public(&session, "Local mailbox", Some(&user.0)), mails })
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

/// The invite link of an email's text, put first on the page.
fn link_in(text: &str, prefix: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(String::from)
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<i64>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    require_dev(&state)?;
    let id = id.into_inner();
    let row = state.db.read(move |c| outbox::find(c, id)).await?.ok_or(AppError::NotFound)?;
    let mail = match row.invite_id {
        Some(invite) => {
            render_invite_email(&state.db, InviteId(invite), &state.public_url, &state.invite_key, false).await?
        }
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    let link = link_in(&mail.text, &format!("{}/invites/", state.public_url));
    render(MessagePage {
        l: Layout::public(&session, mail.subject.clone(), Some(&user.0)),
        to: mail.to,
        subject: mail.subject,
        state: row.state,
        text: mail.text,
        link,
    })
}
