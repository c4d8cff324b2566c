//! What an operator asks of Portico: /healthz, /readyz and /metrics.

use diesel::prelude::*;
use reqwest::StatusCode;

use crate::support::{spawn_app, spawn_app_with, Options};

const TOKEN: &str = "operator-test-token";

fn with_metrics() -> Options {
    Options { adjust: |s| s.metrics_token = Some(TOKEN.into()), ..Options::default() }
}

async fn metrics(base: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.expect("GET /metrics");
    (r.status(), r.text().await.unwrap_or_default())
}

/// The value of the metric line that starts with `prefix` (name and labels).
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(prefix).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_404_without_a_token_setting_and_401_without_the_token() {
    let app = spawn_app().await;
    assert_eq!(metrics(&app.base, None).await.0, StatusCode::NOT_FOUND, "no METRICS_TOKEN: no /metrics");
    assert_eq!(metrics(&app.base, Some("Bearer anything")).await.0, StatusCode::NOT_FOUND);

    let app = spawn_app_with(with_metrics()).await;
    let r = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer realm=\"metrics\""));
    for wrong in ["Bearer operator-test-toke", "Bearer operator-test-tokenX", "operator-test-token", "Basic b3A="] {
        assert_eq!(metrics(&app.base, Some(wrong)).await.0, StatusCode::UNAUTHORIZED, "{wrong}");
    }
    let (status, text) = metrics(&app.base, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("# TYPE portico_outbox_queued gauge") && text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_pattern_outbox_and_sign_in_refusals() {
    let app = spawn_app_with(with_metrics()).await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    for _ in 0..3 {
        assert_eq!(ada.page(&format!("/w/{ws}/settings/members")).await.0, StatusCode::OK);
    }
    let stranger = app.visitor();
    for _ in 0..2 {
        let r = stranger.log_in("ada@firm.test", "wrong password").await;
        assert_ne!(r.status(), StatusCode::SEE_OTHER);
    }
    // An invite queued while the mail server refuses: the outbox shows one failing email.
    app.smtp.set_refusing(true);
    let r = ada.invite_to_all_entities(ws, "cleo@client.test", "member").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let text = loop {
        let (_, text) = metrics(&app.base, Some(&format!("Bearer {TOKEN}"))).await;
        if value(&text, "portico_outbox_failing ") == Some(1.0) {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "the failing email never showed: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    let members = r#"portico_http_requests_total{method="GET",route="/w/{ws}/settings/members",status="200"} "#;
    assert_eq!(value(&text, members), Some(3.0), "three Members pages, under the route's pattern:\n{text}");
    assert!(!text.contains(&format!("/w/{ws}/")), "no ids in labels");
    assert!(
        text.contains(
            r#"portico_http_request_duration_seconds_count{method="GET",route="/w/{ws}/settings/members"} 3"#
        ),
        "{text}"
    );
    assert_eq!(value(&text, r#"portico_sign_in_refusals_total{reason="wrong_password"} "#), Some(2.0), "{text}");
    assert_eq!(value(&text, "portico_outbox_queued "), Some(1.0), "{text}");
    assert!(value(&text, "portico_outbox_oldest_queued_age_seconds ").is_some_and(|v| v >= 0.0));
    assert!(value(&text, "portico_outbox_send_failures_total ").is_some_and(|v| v >= 1.0), "{text}");
    // The sign-up's confirmation email was sent.
    assert!(value(&text, "portico_outbox_sent_total ").is_some_and(|v| v >= 1.0), "{text}");

    app.smtp.set_refusing(false);
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_says_ready_and_not_ready_when_migrations_are_missing() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!((r.status(), r.text().await.unwrap()), (StatusCode::OK, "ok".to_string()));
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!((r.status(), r.text().await.unwrap()), (StatusCode::OK, "ready\n".to_string()));

    // A database behind this build (as when a new instance meets an old schema).
    app.db
        .write(|c| {
            diesel::sql_query(
                "DELETE FROM __diesel_schema_migrations WHERE version = \
                 (SELECT MAX(version) FROM __diesel_schema_migrations)",
            )
            .execute(c)
        })
        .await
        .unwrap();
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    assert_eq!(r.text().await.unwrap(), "not ready: the database's migrations are not current\n");
}
