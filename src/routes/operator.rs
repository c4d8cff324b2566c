//! What an operator and a load balancer ask: /healthz (the process and its database
//! answer), /readyz (ready to serve), /metrics (Prometheus, behind METRICS_TOKEN).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::models::{now, outbox};
use crate::error::AppError;
use crate::startup::AppState;

pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}

/// For a load balancer: 200 when this instance can serve (the database answers and has
/// every migration this build needs), 503 with the reason otherwise.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let not_ready = |why: String| {
        tracing::warn!(reason = %why, "not ready");
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "5"))
            .content_type("text/plain; charset=utf-8")
            .body(format!("not ready: {why}\n"))
    };
    match state.db.migrations_current().await {
        Ok(true) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready\n"),
        Ok(false) => not_ready("the database's migrations are not current".into()),
        Err(e) => not_ready(format!("the database does not answer ({e})")),
    }
}

/// Prometheus metrics, for whoever holds METRICS_TOKEN (404 when it is not set).
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(token) = state.settings.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    let given =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let matches = given.is_some_and(|g| bool::from(subtle::ConstantTimeEq::ct_eq(g.as_bytes(), token.as_bytes())));
    if !matches {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("A metrics token is needed: Authorization: Bearer <METRICS_TOKEN>\n"));
    }
    let stats = state.db.read(|c| outbox::stats(c, now())).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&stats)))
}
