//! The firm's Email delivery page (firm Admins): which of its emails are failing, for how
//! long, and what the mail server last answered.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{duration_words, render, Layout, TimeWords};
use crate::auth::OrgContext;
use crate::db::models::now;
use crate::db::models::outbox::FailingEmail;
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::firm;

/// One row: the email and its state in words.
struct Row {
    email: FailingEmail,
    /// "Invite to Acme Bakery" or "Team invite".
    what: String,
    /// "3 hours" (or "" when not known).
    failing_for: String,
    /// "next try in 5 minutes", or "Given up".
    next: String,
}

#[derive(Template)]
#[template(path = "email/delivery.html")]
struct EmailDeliveryPage {
    l: Layout,
    rows: Vec<Row>,
    more: bool,
    waiting: i64,
    /// How long the oldest waiting email has waited ("" when none waits).
    oldest_wait: String,
    limit: i64,
}

// 32 lines, knowingly: it only turns the use case's rows into the page's words
// (`firm::email_delivery` decides who may see what).
pub async fn page(state: web::Data<AppState>, session: Session, ctx: OrgContext) -> Result<HttpResponse, AppError> {
    let (mut failing, queue) = firm::email_delivery(&state.db, &ctx.membership).await?;
    let more = failing.len() as i64 > firm::EMAIL_DELIVERY_LIMIT;
    failing.truncate(firm::EMAIL_DELIVERY_LIMIT as usize);
    let at = now();
    let rows = failing
        .into_iter()
        .map(|email| Row {
            what: match &email.workspace {
                Some(w) => format!("Invite to {w}"),
                None => "Team invite".into(),
            },
            failing_for: email.first_failed_at.map(|t| duration_words(t, at)).unwrap_or_default(),
            next: if email.given_up {
                "Given up".into()
            } else if email.next_attempt_at <= at {
                "next try now".into()
            } else {
                format!("next try in {}", duration_words(at, email.next_attempt_at))
            },
            email,
        })
        .collect();
    render(EmailDeliveryPage {
        l: Layout::org(&session, "Email delivery", &ctx, "email"),
        rows,
        more,
        waiting: queue.waiting,
        oldest_wait: queue.oldest.map(|t| duration_words(t, at)).unwrap_or_default(),
        limit: firm::EMAIL_DELIVERY_LIMIT,
    })
}
