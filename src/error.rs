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
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Query(diesel::result::Error::NotFound) => AppError::NotFound,
            DbError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Internal(other.to_string()),
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
                "Portico is busy",
                "The database did not answer in time. Please try again in a moment.",
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "The error has been logged. Nothing was changed; please try again.",
            ),
            AppError::SignInRequired { .. } | AppError::TwoFactorRequired { .. } => unreachable!("handled above"),
        };
        if let AppError::Internal(detail) | AppError::Unavailable(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        let status = self.status_code();
        let page = ErrorPage { code: status.as_u16(), title, message };
        let body = page.render().unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
        let mut response = HttpResponse::build(status);
        if let AppError::Limited(r) = self {
            response.insert_header((header::RETRY_AFTER, r.retry_after_seconds().to_string()));
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
