//! Forms with repeated fields (one checkbox per entity), which `web::Form` cannot read.

use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::usecases::ActionError;

pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(body: &[u8]) -> Result<FormFields, AppError> {
        serde_urlencoded::from_bytes(body)
            .map(FormFields)
            .map_err(|_| AppError::BadRequest("The form could not be read.".into()))
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of a repeated numeric field (ids); anything else is a bad request.
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, AppError> {
        let mut ids = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| {
                v.trim().parse::<i64>().map_err(|_| AppError::BadRequest(format!("\"{v}\" is not a valid choice.")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

/// An "Access ends" date field, as a form shows it (again): what was typed, the earliest
/// date the browser offers (tomorrow), and what is wrong with it.
pub struct EndField {
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub min: String,
    pub error: Option<String>,
}

impl EndField {
    pub const SEAT_HINT: &'static str =
        "Leave empty for no end date. On that date their access ends by itself; the workspace's Admins get an email a week before.";
    pub const STAFF_HINT: &'static str = "For Members; leave empty for no end date. On that date their access to the firm's clients ends by itself, and the firm's Admins and Managers get an email a week before. Admins and Managers see every client for as long as they hold the role.";

    pub fn new(label: &'static str, hint: &'static str, value: String, error: Option<String>) -> EndField {
        let min = (crate::clock::today() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        EndField { label, hint, value, min, error }
    }
}

/// The "ends" field of a form: no end date, a date after today, or what is wrong.
pub fn end_date(form: &FormFields) -> Result<Option<crate::domain::EndDate>, &'static str> {
    crate::domain::EndDate::parse(form.get("ends"), crate::clock::today())
}

/// Changing one's own access would take some away: what, and the field that confirms it.
pub struct Losing {
    pub items: Vec<String>,
    /// The change it confirms (see each form's `change_key`): another change is asked
    /// about again.
    pub key: String,
}

/// What a Configure form (a client's person, or a Team member) says after a save that
/// did not happen.
pub enum Said {
    Nothing,
    /// At the top of the form.
    Error(String),
    /// Next to the list of entities or clients.
    ListError(String),
    WouldLose(Losing),
}

/// A refusal a Configure form shows (next to its list, or at its top), with its status;
/// any other error is the page's.
pub fn refused_on_form(e: ActionError) -> Result<(StatusCode, Said), AppError> {
    match e {
        ActionError::Refused(why) if why.is_about_the_list() => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Said::ListError(why.message().into())))
        }
        ActionError::Refused(why) if why.is_form_message() => {
            Ok((StatusCode::CONFLICT, Said::Error(why.message().into())))
        }
        other => Err(other.into()),
    }
}
