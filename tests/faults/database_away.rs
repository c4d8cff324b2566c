//! PostgreSQL goes away under load (a proxy between the app and the server is cut), then
//! comes back: the app answers 503 with a clear page meanwhile, never hangs, never a 500,
//! and recovers by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::common::{self, say, Answer};
use super::instance::{on_postgres, Stack};
use super::proxy::Proxy;
use crate::support::PgDatabase;

const DB_TIMEOUT: Duration = Duration::from_secs(2);
const AWAY: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    Before,
    Away,
    Back,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_answers_503_and_the_app_recovers_by_itself() {
    if !on_postgres() {
        common::not_here(
            "the_database_going_away_answers_503_and_the_app_recovers_by_itself",
            "needs PostgreSQL (TEST_DATABASE_URL); on SQLite the database is a file (see disk_full)",
        );
        return;
    }
    let _one = common::serial().await;
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let pg = PgDatabase::create(&admin);
    let (before_host, rest) = pg.url.split_once('@').expect("user@host in TEST_DATABASE_URL");
    let (host_port, name) = rest.split_once('/').expect("a database name");
    let target: std::net::SocketAddr = tokio::net::lookup_host(host_port).await.unwrap().next().unwrap();
    let proxy = Proxy::start(target).await;
    let through_proxy = format!("{before_host}@127.0.0.1:{}/{name}", proxy.port());
    let check = pg.url.clone();
    let stack = Stack::with_check_url(tempfile::tempdir().unwrap(), through_proxy, check, Some(pg)).await;
    let mut env = common::BUSY_FIRM.to_vec();
    env.retain(|(k, _)| *k != "DB_TIMEOUT_SECONDS");
    env.push(("DB_TIMEOUT_SECONDS", "2"));
    let instance = stack.start(&env).await;
    let pid = instance.pid();
    let app = stack.app(&instance);
    let f = Arc::new(common::firm(&app).await);

    let phase = Arc::new(Mutex::new(Phase::Before));
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<(Phase, &'static str, String, Answer)>::new()));
    let mut load = Vec::new();
    for task in 0..4 {
        let (f, phase, stop, answers, base) =
            (f.clone(), phase.clone(), stop.clone(), answers.clone(), instance.base.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let now = *phase.lock().unwrap();
                let (what, email, a) = if i % 2 == 0 {
                    let email = format!("away-{task}-{i}@client.test");
                    ("invite", email.clone(), common::invite(&f, &base, &email).await)
                } else {
                    (
                        "members",
                        String::new(),
                        common::get(&f.ada, &base, &format!("/w/{}/settings/members", f.ws)).await,
                    )
                };
                answers.lock().unwrap().push((now, what, email, a));
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    *phase.lock().unwrap() = Phase::Away;
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let health = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    for path in ["/healthz", "/readyz"] {
        let started = Instant::now();
        let r = health.get(format!("{}{path}", instance.base)).send().await.expect(path);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path} while the database is away");
        assert!(started.elapsed() < DB_TIMEOUT + Duration::from_secs(3), "{path} answered in time");
    }
    let login = health.get(format!("{}/login", instance.base)).send().await.expect("login page");
    let login_status = login.status();
    if let Some(rest) = AWAY.checked_sub(cut_at.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    proxy.restore().await;
    *phase.lock().unwrap() = Phase::Back;
    let back_at = Instant::now();
    let recovered = common::until_status(&instance, "/readyz", StatusCode::OK, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }
    assert_eq!(instance.pid(), pid, "the same process, not restarted");

    let answers = answers.lock().unwrap().clone();
    let count =
        |p: Phase, s: Option<StatusCode>| answers.iter().filter(|(ph, _, _, a)| *ph == p && a.status == s).count();
    let slowest = answers.iter().map(|(_, _, _, a)| a.took).max().unwrap_or_default();
    for (p, what, email, a) in &answers {
        assert!(a.status.is_some(), "{p:?} {what} {email}: no answer within 30 s (a hang)");
        assert_ne!(
            a.status,
            Some(StatusCode::INTERNAL_SERVER_ERROR),
            "{p:?} {what} {email}: a 500: {}",
            crate::support::text_of(&a.body)
        );
        if a.is(StatusCode::SERVICE_UNAVAILABLE) {
            assert!(
                a.body.contains("Portico cannot reach its database") || a.body.contains("Portico cannot save changes"),
                "a 503 says what is wrong: {}",
                crate::support::text_of(&a.body)
            );
        }
    }
    assert!(slowest < DB_TIMEOUT * 3 + Duration::from_secs(2), "no request waited long: slowest {slowest:?}");
    let unavailable = count(Phase::Away, Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(unavailable > 0, "requests while the database was away were answered 503");
    assert!(
        answers.iter().any(|(p, what, _, a)| *p == Phase::Back && *what == "invite" && a.is(StatusCode::SEE_OTHER)),
        "invites work again once it is back"
    );
    assert!(
        login_status == StatusCode::OK || login_status == StatusCode::SERVICE_UNAVAILABLE,
        "the sign-in page while the database is away: {login_status}"
    );

    // Acknowledged invites are there and whole, and no invite is half-done.
    let in_db = common::invites(&stack.db).await;
    for (_, what, email, a) in &answers {
        if *what == "invite" && a.is(StatusCode::SEE_OTHER) {
            let whole = in_db.get(email).unwrap_or_else(|| panic!("acknowledged invite to {email} lost"));
            assert!(whole.is_whole(), "{whole:?}");
        }
    }
    assert!(in_db.values().all(|w| w.is_whole()), "no invite half-done");
    let total = |p: Phase| answers.iter().filter(|(ph, ..)| *ph == p).count();
    say(&format!(
        "fault: PostgreSQL away {}s under load: before {} requests ({} ok); away {} requests: {} answered 503, {} 500, \
         0 unanswered; /healthz and /readyz 503; ready again {:.1}s after it came back ({:.1}s after the cut), no \
         restart; after {} requests ({} 5xx); slowest answer {:.2}s; sign-in page while away: {}",
        AWAY.as_secs(),
        total(Phase::Before),
        count(Phase::Before, Some(StatusCode::OK)) + count(Phase::Before, Some(StatusCode::SEE_OTHER)),
        total(Phase::Away),
        unavailable,
        count(Phase::Away, Some(StatusCode::INTERNAL_SERVER_ERROR)),
        recovered.as_secs_f64(),
        (back_at - cut_at + recovered).as_secs_f64(),
        total(Phase::Back),
        answers.iter().filter(|(p, _, _, a)| *p == Phase::Back && a.status.is_some_and(|s| s.is_server_error())).count(),
        slowest.as_secs_f64(),
        login_status
    ));
}
