//! CSRF protection, as Rails does it: a random token in the session, a hidden `csrf` field
//! in every form, compared in constant time on every POST. Second layer: a POST that the
//! browser says is cross-site, or whose Origin is another host, is refused outright.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use subtle::ConstantTimeEq;

use crate::error::AppError;

pub const FIELD: &str = "csrf";

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::POST {
        // Refused here as an answer (not an error), so that the layers outside it (the
        // security headers, the log of refused requests) see it like any other.
        if let Err(e) = check(&mut req).await {
            return Ok(req.error_response(e));
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

async fn check(req: &mut ServiceRequest) -> Result<(), actix_web::Error> {
    if is_cross_site(req) {
        return Err(AppError::Csrf.into());
    }
    let body = req.extract::<Bytes>().await?;
    // The one read of the body: also refuses control characters before any handler runs.
    let fields = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default();
    if let Some(why) = super::edge::unreadable_form(&fields) {
        return Err(AppError::BadRequest(why).into());
    }
    let sent = fields.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v);
    let expected = super::session::stored_csrf_token(&req.get_session());
    let ok = match (sent, expected) {
        (Some(s), Some(e)) => bool::from(s.as_bytes().ct_eq(e.as_bytes())),
        _ => false,
    };
    if !ok {
        return Err(AppError::Csrf.into());
    }
    req.set_payload(Payload::from(body));
    Ok(())
}

fn is_cross_site(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    // Browsers that send Sec-Fetch-Site say exactly where the request comes from.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "cross-site";
    }
    // Otherwise compare Origin with Host. "null" is what a browser sends under
    // `Referrer-Policy: no-referrer`, so it proves nothing either way: the token decides.
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        if origin != "null" {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            let host = req.connection_info().host().to_string();
            return !origin_host.eq_ignore_ascii_case(&host);
        }
    }
    false
}
