//! The outermost layer of every request: refuses control characters in the address before
//! anything else runs, puts the security headers on every answer (refusals by the layers
//! inside it too: CSRF 403, 413 too large, 400, which those layers return as answers), and
//! logs refused requests.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{StatusCode, Uri};
use actix_web::middleware::Next;

use crate::error::AppError;

/// Sent on every answer (unless the answer set its own).
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
];

pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let method = req.method().clone();
    let path = crate::routes::redact_path(req.path());
    let mut res = match unreadable_address(req.uri()) {
        Some(why) => req.error_response(AppError::BadRequest(why.into())),
        // The layers inside answer their refusals; an error still raised is the session
        // store's, which fails only when the database does: 503 with the error page (the
        // request is gone with the error, so this page goes without the headers below).
        None => {
            next.call(req).await.map_err(|e| AppError::session_store_failed(format!("{e:?}")))?.map_into_boxed_body()
        }
    };
    let reason = res.response().error().map(ToString::to_string);
    let headers = res.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    let status = res.status();
    if is_refusal(status) {
        let reason = reason.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        // Reasons are the app's own words; the path's invite token is masked; no query, no body.
        let reason: String = reason.chars().filter(|c| !c.is_control()).take(160).collect();
        tracing::warn!(%method, path = %path.escape_debug(), status = status.as_u16(), %reason, "request refused");
    }
    Ok(res)
}

/// Refusals worth an operator's eye; not the everyday "form has a mistake" (422), "already
/// done" (409) or "no such page" (404).
fn is_refusal(status: StatusCode) -> bool {
    status.is_client_error()
        && !matches!(status, StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY)
}

/// Why the path or query cannot be taken, if so: a control character once percent-decoded,
/// or bytes that are not UTF-8.
fn unreadable_address(uri: &Uri) -> Option<&'static str> {
    if has_control(uri.path()) {
        return Some("The address contains control characters, which are not allowed. Check the link and try again.");
    }
    if uri.query().is_some_and(has_control) {
        return Some(
            "The address (its query string) contains control characters, which are not allowed. Check the link and try again.",
        );
    }
    None
}

fn has_control(raw: &str) -> bool {
    let bytes = percent_decode(raw.as_bytes());
    match std::str::from_utf8(&bytes) {
        Ok(s) => s.chars().any(char::is_control),
        // Not UTF-8: treat as unreadable too.
        Err(_) => true,
    }
}

/// `%XX` decoded; a `%` not followed by two hex digits is kept as it is.
pub fn percent_decode(raw: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(raw).collect()
}

/// Why a form's fields cannot be taken, if so: a control character in a field's name, or in
/// its value other than the tab and line breaks a text area sends.
pub fn unreadable_form(fields: &[(String, String)]) -> Option<String> {
    for (name, value) in fields {
        if name.chars().any(char::is_control) {
            return Some("The form contains a field whose name has control characters. Go back and try again.".into());
        }
        if value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            let shown = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && name.len() <= 40 {
                format!("The field \"{name}\"")
            } else {
                "A field".to_string()
            };
            return Some(format!(
                "{shown} contains control characters, which are not allowed. Remove them and try again."
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_addresses() {
        assert!(!has_control("/login"));
        assert!(!has_control("next=%2Fw%2F1&x=%zz&y=%"));
        assert!(!has_control("next=caf%C3%A9"));
        for bad in ["next=%0a", "next=%0D", "next=%00", "next=%7f", "a=%C2%85", "a=%ff", "/w/1%09"] {
            assert!(has_control(bad), "{bad}");
        }
        assert_eq!(percent_decode(b"a%41%4"), b"aA%4");
        assert_eq!(percent_decode(b"%"), b"%");
    }

    #[test]
    fn control_characters_in_forms() {
        let f = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(unreadable_form(&f("notes", "line 1\r\n\tline 2")).is_none());
        assert!(unreadable_form(&f("name", "a\u{0}")).unwrap().contains("\"name\""));
        assert!(unreadable_form(&f("na\u{1}me", "a")).is_some());
        assert!(unreadable_form(&f("name", "a\u{7f}")).is_some());
    }
}
