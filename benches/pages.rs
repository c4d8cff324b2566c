//! Page benchmarks: `cargo bench --bench pages`.
//!
//! Starts Portico on a temporary SQLite file (or PostgreSQL with TEST_DATABASE_URL), seeds
//! a firm with clients, entities, members, invites and transactions through HTTP, then
//! measures each page: requests per second with a few concurrent clients, latency
//! percentiles, and database queries per request. Not a timed test: it reports numbers
//! to compare between changes on the same machine (run twice, alternate, compare ratios).
//! BENCH_SECONDS (default 3) sets the time per page; BENCH_ROWS (default 50) the size.

#[path = "../tests/app/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{spawn_app, TestApp, TestUser};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let rows: usize = std::env::var("BENCH_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let app = spawn_app().await;
    let (ada, org, ws, entity) = seed(&app, rows).await;
    println!("Portico page benchmarks: {rows} rows of each kind, {seconds} s per page, 4 concurrent clients");
    println!("{:<34} {:>9} {:>9} {:>9} {:>9}", "page", "req/s", "p50 ms", "p99 ms", "queries");
    for path in [
        format!("/orgs/{org}/clients"),
        format!("/orgs/{org}/team"),
        format!("/orgs/{org}/invites"),
        format!("/w/{ws}/entities"),
        format!("/w/{ws}/entities/{entity}"),
        format!("/w/{ws}/settings/members"),
        format!("/w/{ws}/settings/activity"),
    ] {
        measure(&app, &ada, &path, Duration::from_secs(seconds)).await;
    }
}

async fn seed(app: &TestApp, rows: usize) -> (TestUser, i64, i64, i64) {
    let (ada, org) = app.sign_up("Ada Accountant", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let entity = ada.add_entity(ws, "Acme LLC").await;
    let client = ws.to_string();
    for i in 0..rows {
        ada.add_client(org, &format!("Client {i:03}")).await;
        let e = ada.add_entity(ws, &format!("Entity {i:03}")).await;
        ada.post(
            &format!("/w/{ws}/entities/{entity}/transactions"),
            &[("date", "2026-01-02"), ("description", &format!("Line {i}")), ("amount", "12.34")],
        )
        .await;
        ada.invite(ws, &format!("client{i}@client.test"), "member", &[entity, e]).await;
        ada.post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", &format!("staff{i}@firm.test")), ("role", "member"), ("client", &client)],
        )
        .await;
    }
    for i in 0..rows.min(10) {
        app.add_client_user(&ada, ws, &format!("member{i}@client.test"), "accountant", &[entity]).await;
    }
    (ada, org, ws, entity)
}

async fn measure(app: &TestApp, user: &TestUser, path: &str, time: Duration) {
    // Queries of one request, the smallest of a few (the outbox worker shares the pool).
    let mut queries = u64::MAX;
    for _ in 0..3 {
        let before = app.queries();
        let (status, _) = user.page(path).await;
        assert!(status.is_success(), "{path}: {status}");
        queries = queries.min(app.queries() - before);
    }
    let deadline = Instant::now() + time;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = user.client.clone();
        let url = format!("{}{}", user.base, path);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                let r = client.get(&url).send().await.expect("request");
                let _ = r.bytes().await;
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{:<34} {:>9.0} {:>9.2} {:>9.2} {:>9}",
        path,
        all.len() as f64 / time.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        queries
    );
}
