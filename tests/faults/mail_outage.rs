//! The mail server is down for a minute while invites are sent, then comes back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::common::{self, say};
use crate::support::row;

/// How long the SMTP server stays down.
const OUTAGE: Duration = Duration::from_secs(60);

/// Every invite's email is delivered exactly once after a 60-second SMTP outage, and each
/// invite's row said "Email failed, retrying" during it and "Email sent" after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_email_is_delivered_once_after_the_mail_server_comes_back() {
    let _one = common::serial().await;
    let stack = common::stack().await;
    let mut env = common::BUSY_FIRM.to_vec();
    env.push(("METRICS_TOKEN", "fault-metrics"));
    let instance = stack.start(&env).await;
    let app = stack.app(&instance);
    let f = common::firm(&app).await;

    stack.smtp.go_down();
    let down_at = Instant::now();
    let invited: Vec<String> = (0..12).map(|i| format!("outage-{i}@client.test")).collect();
    for email in &invited {
        let a = common::invite(&f, &instance.base, email).await;
        assert!(a.is(StatusCode::SEE_OTHER), "invite {email} while the mail server is down: {:?}", a.status);
    }

    // While it is down: every row says its email failed, and the operator sees it.
    let members = format!("/w/{}/settings/members", f.ws);
    let mut failing_rows = 0;
    while down_at.elapsed() < Duration::from_secs(20) {
        let (_, page) = f.ada.page(&format!("{}{members}", instance.base)).await;
        failing_rows = invited.iter().filter(|e| row(&page, e).contains("Email failed, retrying")).count();
        if failing_rows == invited.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(failing_rows, invited.len(), "every invite row says its email failed while the mail server is down");
    let scraped = scrape(&instance.base).await;
    let failing = gauge(&scraped, "portico_outbox_failing");
    assert!(failing >= invited.len() as f64, "/metrics shows the failing emails: {failing}\n{scraped}");
    assert!(gauge(&scraped, "portico_outbox_oldest_queued_age_seconds") > 0.0, "{scraped}");
    let rows = common::outbox(&stack.db, &instance.base).await;
    let errors: Vec<&str> = rows.iter().filter_map(|r| r.last_error.as_deref()).collect();
    assert!(errors.len() >= invited.len(), "each failed attempt is recorded with the server's answer: {rows:?}");

    if let Some(rest) = OUTAGE.checked_sub(down_at.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let attempts_during: i32 = common::outbox(&stack.db, &instance.base).await.iter().map(|r| r.attempts).sum();
    stack.smtp.come_back().await;
    let back_at = Instant::now();

    let rows = common::outbox_drained(&stack.db, &instance.base, Duration::from_secs(180)).await;
    let all_in = back_at.elapsed();
    let delivery = common::compare(&rows, &stack.smtp);
    let invite_rows: Vec<_> = rows.iter().filter(|r| r.invite_id.is_some()).collect();
    assert_eq!(invite_rows.len(), invited.len(), "one email per invite");
    assert!(invite_rows.iter().all(|r| r.state == "sent"), "every invite email was sent: {invite_rows:?}");
    assert!(delivery.lost.is_empty(), "no email lost: {delivery:?}");
    assert!(delivery.duplicated.is_empty(), "no email sent twice: {delivery:?}");
    assert!(delivery.unknown.is_empty(), "nothing sent but what the outbox holds: {delivery:?}");

    let page = f
        .ada
        .page_until(&members, "every row says its email was sent", |page| {
            match invited.iter().find(|e| !row(page, e).contains("Email sent")) {
                Some(e) => Err(format!("{e}: {}", row(page, e))),
                None => Ok(()),
            }
        })
        .await;
    assert!(!page.contains("Email failed"), "no row still says failed");
    let scraped = scrape(&instance.base).await;
    assert_eq!(gauge(&scraped, "portico_outbox_queued"), 0.0, "{scraped}");
    assert!(gauge(&scraped, "portico_outbox_send_failures_total") >= attempts_during as f64 - 1.0, "{scraped}");
    assert!(gauge(&scraped, "portico_outbox_retries_total") >= invited.len() as f64, "{scraped}");

    say(&format!(
        "fault: mail server down {}s: {} invites; {} failed attempts while down; all delivered {:.1}s after it came back; {}",
        OUTAGE.as_secs(),
        invited.len(),
        attempts_during,
        all_in.as_secs_f64(),
        delivery.figures()
    ));
}

async fn scrape(base: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth("fault-metrics")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// The value of an unlabelled metric in Prometheus text.
pub fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}
