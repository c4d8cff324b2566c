//! What an operator sees from outside: Prometheus metrics (`/metrics`, behind
//! METRICS_TOKEN). Requests and latencies per route, the outbox's sends, failures and
//! retries, and sign-in refusals are counted in this process; the outbox's depth and the
//! age of its oldest email are read from the database when Prometheus asks, so every
//! instance reports the same queue.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::db::models::outbox::OutboxStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/w/{ws}/members`), never the path: ids stay out of labels.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why a sign-in was refused.
#[derive(Clone, Copy, Debug)]
pub enum SignInRefusal {
    /// Unknown address or wrong password.
    WrongPassword,
    /// The sign-in limit was reached (no password checked).
    Limited,
    /// A wrong two-factor or recovery code.
    WrongCode,
}

impl SignInRefusal {
    fn label(self) -> &'static str {
        match self {
            SignInRefusal::WrongPassword => "wrong_password",
            SignInRefusal::Limited => "limited",
            SignInRefusal::WrongCode => "wrong_code",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Emails accepted by the SMTP server (or kept in the local mailbox).
    pub emails_sent: Counter,
    /// Attempts that failed (each one; an email may fail several times).
    pub email_failures: Counter,
    /// Attempts at an email that had failed before.
    pub email_retries: Counter,
    /// Emails given up after the last attempt.
    pub emails_given_up: Counter,
    sign_in_refusals: Family<ReasonLabels, Counter>,
    outbox_queued: Gauge,
    outbox_failing: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    outbox_failed: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms … about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("portico");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time to answer, by route", latency.clone());
        let emails_sent = Counter::default();
        registry.register("outbox_sent", "Emails handed to the SMTP server", emails_sent.clone());
        let email_failures = Counter::default();
        registry.register("outbox_send_failures", "Attempts to send an email that failed", email_failures.clone());
        let email_retries = Counter::default();
        registry.register("outbox_retries", "Attempts at an email that had failed before", email_retries.clone());
        let emails_given_up = Counter::default();
        registry.register("outbox_given_up", "Emails given up after their last attempt", emails_given_up.clone());
        let sign_in_refusals = Family::<ReasonLabels, Counter>::default();
        registry.register("sign_in_refusals", "Sign-ins refused, by reason", sign_in_refusals.clone());
        let outbox_queued = Gauge::default();
        registry.register("outbox_queued", "Emails waiting to be sent (all instances)", outbox_queued.clone());
        let outbox_failing = Gauge::default();
        registry.register("outbox_failing", "Queued emails whose last attempt failed", outbox_failing.clone());
        let outbox_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_oldest_queued_age_seconds",
            "Age of the oldest email waiting to be sent (0 when none)",
            outbox_oldest_age.clone(),
        );
        let outbox_failed = Gauge::default();
        registry.register("outbox_failed", "Emails given up on, kept in the outbox", outbox_failed.clone());
        Metrics {
            registry,
            requests,
            latency,
            emails_sent,
            email_failures,
            email_retries,
            emails_given_up,
            sign_in_refusals,
            outbox_queued,
            outbox_failing,
            outbox_oldest_age,
            outbox_failed,
        }
    }

    pub fn sign_in_refused(&self, why: SignInRefusal) {
        self.sign_in_refusals.get_or_create(&ReasonLabels { reason: why.label() }).inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
        self.latency.get_or_create(&RouteLabels { method, route }).observe(seconds);
    }

    /// The text Prometheus reads, with the outbox figures just read from the database.
    pub fn render(&self, outbox: &OutboxStats) -> String {
        self.outbox_queued.set(outbox.queued);
        self.outbox_failing.set(outbox.failing);
        self.outbox_failed.set(outbox.failed);
        self.outbox_oldest_age.set(outbox.oldest_queued_age_seconds);
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        out
    }
}

/// Middleware: counts and times every answer under its route's pattern.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<crate::startup::AppState>>().map(|s| s.metrics.clone());
    let method = req.method().as_str().to_string();
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(res) => {
                let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
                metrics.observe(&method, &route, res.status().as_u16(), seconds);
            }
            Err(e) => metrics.observe(&method, "unmatched", e.as_response_error().status_code().as_u16(), seconds),
        }
    }
    result
}
