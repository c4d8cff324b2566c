//! SIGTERM: a graceful stop.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{self, say};

/// SIGTERM stops taking requests, finishes the emails being sent (two at once here:
/// OUTBOX_CONCURRENCY=2; recorded as sent), hands back the rest of its batch unsent and
/// uncounted, and exits in time; after a restart the rest go out, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_email_being_sent_and_exits_in_time() {
    let _one = common::serial().await;
    let stack = common::stack().await;
    let mut env = common::BUSY_FIRM.to_vec();
    env.push(("SHUTDOWN_TIMEOUT_SECONDS", "10"));
    env.push(("OUTBOX_CONCURRENCY", "2"));
    let mut instance = stack.start(&env).await;
    let port = instance.port;
    let app = stack.app(&instance);
    let f = common::firm(&app).await;

    // A slow mail server: each email takes 2 s.
    stack.smtp.set_delay(Duration::from_secs(2));
    // One Add team of three addresses: three emails queued in one transaction, claimed by
    // the worker in one batch.
    let invited = ["a@firm.test", "b@firm.test", "c@firm.test"];
    let path = format!("/orgs/{}/team/invite", f.org);
    let fields = [("emails", "a@firm.test, b@firm.test, c@firm.test"), ("role", "member"), ("new_clients", "on")];
    let a = common::post(&f.ada, &instance.base, &path, &fields).await;
    assert!(a.is(StatusCode::SEE_OTHER), "Add team: {:?} {}", a.status, crate::support::text_of(&a.body));
    // The worker has claimed them and is sending the first two.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::outbox(&stack.db, &instance.base).await.iter().filter(|r| r.claimed).count() < invited.len() {
        assert!(Instant::now() < deadline, "the worker never claimed the emails");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A request in flight: its headers and half its form are in when the signal comes.
    let body = "email=someone%40firm.test&password=not-the-password&csrf=none";
    let (first, rest) = body.split_at(20);
    let mut in_flight = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    instance.signal(libc::SIGTERM);
    // It stops taking requests at once.
    let deadline = Instant::now() + Duration::from_secs(3);
    let refused = loop {
        let a = common::get(&f.ada, &instance.base, "/healthz").await;
        if a.status.is_none() {
            break signalled.elapsed();
        }
        assert!(Instant::now() < deadline, "still answering after SIGTERM: {:?}", a.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The request in flight is still waiting for the rest of its form, and once that comes
    // it is answered in full.
    let mut peek = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), in_flight.peek(&mut peek)).await.is_err(),
        "no answer before the form is complete"
    );
    in_flight.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).await.unwrap();
    let status_line = answer.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        status_line, "HTTP/1.1 403 Forbidden",
        "the request in flight got its answer (a form without a CSRF token)"
    );
    assert!(answer.contains("This form has expired"), "{answer}");
    let status = instance.wait_exit(Duration::from_secs(12)).await.expect("exits within SHUTDOWN_TIMEOUT_SECONDS");
    let took = signalled.elapsed();
    assert!(status.success(), "a clean exit: {status:?}");
    let log = instance.log();
    assert!(log.contains("SIGTERM received") && log.contains("stopped"), "{}", common::tail(&log));

    let rows = common::outbox(&stack.db, &instance.base).await;
    let invites: Vec<_> = rows.iter().filter(|r| r.invite_id.is_some()).collect();
    let sent: Vec<_> = invites.iter().filter(|r| r.state == "sent").collect();
    assert_eq!(sent.len(), 2, "the emails being sent were finished and recorded: {invites:?}");
    for s in &sent {
        assert_eq!(stack.smtp.messages().iter().filter(|m| m.message_id == s.message_id).count(), 1);
    }
    assert_eq!(invites.len() - sent.len(), 1, "one not started when the signal came: {invites:?}");
    for r in invites.iter().filter(|r| r.state != "sent") {
        assert_eq!(r.state, "pending");
        assert!(!r.claimed, "handed back, not left to its lease: {r:?}");
        assert_eq!(r.attempts, 0, "the claim did not count as an attempt: {r:?}");
    }

    stack.smtp.set_delay(Duration::ZERO);
    let instance = stack.start_on(port, &env).await;
    let rows = common::outbox_drained(&stack.db, &instance.base, Duration::from_secs(30)).await;
    let delivery = common::compare(&rows, &stack.smtp);
    assert!(delivery.lost.is_empty() && delivery.duplicated.is_empty() && delivery.unknown.is_empty(), "{delivery:?}");
    say(&format!(
        "fault: SIGTERM while two emails were being sent (2 s each) and a request was half received: new connections \
         refused after {:.2}s, the request answered in full ({status_line}), exited cleanly after {:.1}s with those emails sent and recorded and the other {} handed back; after the restart {}",
        refused.as_secs_f64(),
        took.as_secs_f64(),
        invited.len() - 2,
        delivery.figures()
    ));
}
