//! One error type for the whole request path, mapped to a status and an error page.
//! Internals (database messages, panics) are logged, never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
use crate::usecases::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, or belongs to another firm: the two must look the same.
    #[error("not found")]
    NotFound,
    /// Inside a workspace or firm the caller belongs to, but their role does not allow it.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// A firm or workspace requires two-factor authentication and the grace period is over.
    #[error("two-factor authentication required")]
    TwoFactorRequired { next: String },
    #[error("CSRF check failed")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The change clashes with the state of things (already invited, sent a moment ago).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many requests")]
    TooManyRequests,
    /// An abuse limit: says which, and when it frees up.
    #[error("limit reached: {}", .0.limit.scope)]
    Limited(crate::domain::limits::Reached),
    /// The database is away, or too busy to answer in time.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database answers but cannot be written: disk full, read-only file or disk.
    #[error("database cannot be written: {0}")]
    CannotSave(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Query(diesel::result::Error::NotFound) => AppError::NotFound,
            DbError::Unavailable(why) => AppError::Unavailable(why),
            DbError::Query(e) => match Outage::of(&e) {
                Some(Outage::Away) => AppError::Unavailable(e.to_string()),
                Some(Outage::CannotWrite) => AppError::CannotSave(e.to_string()),
                None => AppError::Internal(e.to_string()),
            },
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl AppError {
    /// The answer when the session store failed (its error is only known as text): the
    /// database is away, or cannot be written.
    pub fn session_store_failed(detail: String) -> AppError {
        match Outage::of_message(&detail) {
            Some(Outage::CannotWrite) => AppError::CannotSave(detail),
            _ => AppError::Unavailable(detail),
        }
    }
}

/// True when the database answers but cannot be written (disk full, read-only file).
pub fn cannot_write(e: &DbError) -> bool {
    matches!(e, DbError::Query(q) if matches!(Outage::of(q), Some(Outage::CannotWrite)))
}

/// A database error that says the database, not the request, is in trouble.
enum Outage {
    /// The connection was lost, or the database is locked by another writer for too long.
    Away,
    /// The disk is full, or the file or disk is read-only.
    CannotWrite,
}

impl Outage {
    fn of(e: &diesel::result::Error) -> Option<Outage> {
        use diesel::result::{DatabaseErrorKind, Error};
        let Error::DatabaseError(kind, info) = e else { return None };
        if matches!(kind, DatabaseErrorKind::ClosedConnection) {
            return Some(Outage::Away);
        }
        Outage::of_message(info.message())
    }

    fn of_message(message: &str) -> Option<Outage> {
        let message = message.to_ascii_lowercase();
        const CANNOT_WRITE: [&str; 4] =
            ["readonly database", "read-only file system", "database or disk is full", "disk i/o error"];
        const AWAY: [&str; 6] = [
            "database is locked",
            "server closed the connection",
            "terminating connection",
            "could not receive data",
            "could not send data",
            "no connection to the server",
        ];
        if CANNOT_WRITE.iter().any(|m| message.contains(m)) {
            Some(Outage::CannotWrite)
        } else if AWAY.iter().any(|m| message.contains(m)) {
            Some(Outage::Away)
        } else {
            None
        }
    }
}

/// Domain outcomes become answers here, and only here.
impl From<ActionError> for AppError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound => AppError::NotFound,
            ActionError::Refused(why) => AppError::Forbidden(why.message()),
            ActionError::Invalid(why) => AppError::BadRequest(why.into()),
            ActionError::Conflict(c) => AppError::Conflict(c.message()),
            // The invite pages answer these themselves; anywhere else they are not found.
            ActionError::InviteEnded(_) => AppError::NotFound,
            ActionError::Unconfirmed => AppError::Forbidden("Confirm your email address first."),
            ActionError::Limited(r) => AppError::Limited(r),
            ActionError::Db(e) => e.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    code: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } | AppError::TwoFactorRequired { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests | AppError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::CannotSave(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::SignInRequired { next } = self {
            let location = format!("/login?next={}", crate::routes::encode_query(next));
            return HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish();
        }
        if let AppError::TwoFactorRequired { next } = self {
            let location = format!("/account/two-factor?next={}", crate::routes::encode_query(next));
            return HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish();
        }
        let limited;
        let (title, message): (&str, &str) = match self {
            AppError::NotFound => (
                "Page not found",
                "This page does not exist, or you do not have access to it.",
            ),
            AppError::Forbidden(why) => ("You can't do that here", why),
            AppError::Csrf => (
                "This form has expired",
                "For your security the form could not be accepted: it was opened in another session or is too old. Go back, reload the page and try again.",
            ),
            AppError::BadRequest(why) => ("That request could not be understood", why.as_str()),
            AppError::Conflict(why) => ("That could not be done", why.as_str()),
            AppError::TooManyRequests => (
                "Too many attempts",
                "Please wait a minute before trying again.",
            ),
            AppError::Limited(r) => {
                limited = r.message();
                ("Limit reached", limited.as_str())
            }
            AppError::Unavailable(_) => (
                "Portico cannot reach its database",
                "Portico's database did not answer in time, so nothing was done. Please try again in a minute.",
            ),
            AppError::CannotSave(_) => (
                "Portico cannot save changes just now",
                "Its database cannot be written to (the disk may be full or read-only), so nothing was changed. Please try again later; the people who run Portico have been told.",
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "The error has been logged. Nothing was changed; please try again.",
            ),
            AppError::SignInRequired { .. } | AppError::TwoFactorRequired { .. } => unreachable!("handled above"),
        };
        match self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            AppError::Unavailable(detail) => {
                tracing::error!(error = %detail, "request failed: the database is unavailable")
            }
            AppError::CannotSave(detail) => {
                tracing::error!(error = %detail, "request failed: the database cannot be written (disk full or read-only?)")
            }
            _ => {}
        }
        let status = self.status_code();
        let page = ErrorPage { code: status.as_u16(), title, message };
        let body = page.render().unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
        let mut response = HttpResponse::build(status);
        match self {
            AppError::Limited(r) => {
                response.insert_header((header::RETRY_AFTER, r.retry_after_seconds().to_string()));
            }
            AppError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "30"));
            }
            AppError::CannotSave(_) => {
                response.insert_header((header::RETRY_AFTER, "300"));
            }
            _ => {}
        }
        response.content_type("text/html; charset=utf-8").body(body)
    }
}

/// Errors at start-up, where the only thing to do is print them and exit.
#[derive(Debug)]
pub struct StartupError(String);

impl StartupError {
    pub fn new(message: impl Into<String>) -> Self {
        StartupError(message.into())
    }
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}
