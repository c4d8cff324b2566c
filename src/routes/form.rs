//! Forms with repeated fields (one checkbox per entity), which `web::Form` cannot read.

use crate::error::AppError;

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
