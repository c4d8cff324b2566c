//! Page benchmarks: `cargo bench --bench pages` (needs `wrk`: `apt-get install -y wrk`).
//!
//! Starts Portico (release build, in this process, 2 HTTP workers) on a temporary SQLite
//! file, or on PostgreSQL with TEST_DATABASE_URL; seeds a firm through HTTP with `rows` of
//! each kind (clients, entities, transactions, client invites, staff invites); then drives
//! each page with `wrk` (a separate process, so the load generator is not this one) as a
//! signed-in Admin, and reports requests per second **as a ratio to `/healthz` measured in
//! the same run** (absolute numbers on a shared machine mean little), latency percentiles
//! and database queries per request. Then the invite POST rate (wrk with a script that
//! sends a new address each time) and the outbox: how long a bulk invite of 50 takes to
//! reach a local SMTP sink, and its rate.
//!
//! Memory after a million requests is measured on the real binary by benches/memory.sh.
//!
//! BENCH_ROWS (default "50"; e.g. "50,5000") sets the sizes, BENCH_SECONDS (default 5) the
//! time per page, BENCH_CONNECTIONS (default 16) wrk's connections, BENCH_ONLY (e.g.
//! "team,members,post,outbox") the parts to run: pages whose path holds one of the words,
//! "post" for the invite POST, "outbox" for the outbox. BENCH_TRACE=1 prints every SQL
//! statement of one request of each page with its time in microseconds (for profiling). Not a timed test: it
//! reports numbers to compare between changes on the same machine.

#[path = "../tests/app/support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{spawn_app_with, Options, TestApp, TestUser, PASSWORD};

/// BENCH_TRACE: the SQL of one request is logged while this is true.
static TRACING: AtomicBool = AtomicBool::new(false);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let connections: u64 = env_or("BENCH_CONNECTIONS", 16);
    let sizes: Vec<usize> = std::env::var("BENCH_ROWS")
        .unwrap_or_else(|_| "50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("SKIPPED page benchmarks: wrk is not installed (apt-get install -y wrk)");
        return;
    }
    if std::env::var("BENCH_TRACE").is_ok_and(|v| !v.is_empty()) {
        use tracing_subscriber::prelude::*;
        let only_sql = tracing_subscriber::filter::dynamic_filter_fn(|m, _| {
            TRACING.load(Ordering::Relaxed) && m.target() == "portico::sql"
        });
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .without_time()
                    .with_ansi(false)
                    .with_target(false)
                    .with_level(false)
                    .with_filter(only_sql),
            )
            .init();
    }
    let db = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) { "PostgreSQL" } else { "SQLite" };
    println!("Portico page benchmarks on {db}: {seconds} s per page, wrk with {connections} connections");
    for rows in sizes {
        run(rows, seconds, connections).await;
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

async fn run(rows: usize, seconds: u64, connections: u64) {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.workers = Some(2);
            s.invites_per_user_per_hour = 1_000_000;
            s.invites_per_firm_per_day = 1_000_000;
        },
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    let (ada, org, ws, entity) = seed(&app, rows).await;
    println!("\n{rows} rows of each kind (seeded in {:.0} s)", started.elapsed().as_secs_f64());
    drain_outbox(&app).await;
    let cookie = session_cookie(&app, "ada@firm.test").await;
    let wrk = |path: &str| measure(&app.base, path, &cookie, seconds, connections, None);

    println!("{:<34} {:>9} {:>8} {:>8} {:>8} {:>8}", "page", "req/s", "ratio", "p50 ms", "p99 ms", "queries");
    // /healthz as a load balancer calls it: no session, one database ping (the yardstick).
    let bare = |path: &str| measure(&app.base, path, "", seconds, connections, None);
    let healthz = bare("/healthz");
    print_row("/healthz", &healthz, healthz.rps, 1);
    // The same with the signed-in session's cookie: what every signed-in page pays first
    // (the session is read from the database).
    let signed_in = wrk("/healthz");
    print_row("/healthz (signed-in cookie)", &signed_in, healthz.rps, 2);
    let mut total = healthz.rps;
    let mut runs = 1.0;
    for path in [
        format!("/orgs/{org}/clients"),
        format!("/orgs/{org}/team"),
        format!("/orgs/{org}/invites"),
        format!("/w/{ws}/entities"),
        format!("/w/{ws}/entities/{entity}"),
        format!("/w/{ws}/settings/members"),
        format!("/w/{ws}/settings/activity"),
        format!("/w/{ws}/settings/access-report"),
    ] {
        if !chosen(&path) {
            continue;
        }
        let queries = queries_of(&app, &ada, &path).await;
        let m = wrk(&path);
        // /healthz again between pages: the ratio is to its mean over the run.
        let h = bare("/healthz");
        total += h.rps;
        runs += 1.0;
        print_row(&path, &m, total / runs, queries);
    }
    let healthz_mean = total / runs;

    if chosen("post") {
        invite_posts(&app, &cookie, ws, entity, seconds, connections, healthz_mean).await;
    }
    if chosen("outbox") {
        bulk_invite(&app, &ada, org, rows).await;
    }
}

/// One invite POST with wrk's session, its answer not followed.
async fn one_invite(app: &TestApp, ws: i64, cookie: &str, csrf: &str, entity: i64, email: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/w/{ws}/settings/members/invite", app.base))
        .header("cookie", cookie)
        .form(&[("csrf", csrf), ("role", "member"), ("entity", &entity.to_string()), ("email", email)])
        .send()
        .await
        .expect("an invite POST")
}

/// Whether BENCH_ONLY (a list of words) picks this part; everything without it.
fn chosen(part: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => {
            only.split(',').map(str::trim).any(|w| !w.is_empty() && part.contains(w))
        }
        _ => true,
    }
}

/// Invite POSTs at full speed, counted by answer.
async fn invite_posts(
    app: &TestApp,
    cookie: &str,
    ws: i64,
    entity: i64,
    seconds: u64,
    connections: u64,
    healthz_mean: f64,
) {
    // Invite POSTs: each request a new address (a wrk script; each of wrk's threads numbers
    // its own), as the signed-in Admin.
    // The form's CSRF token belongs to wrk's session (the cookie's), not to `ada`'s.
    let form = reqwest::Client::new()
        .get(format!("{}/w/{ws}/settings/members/invite", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("the invite form")
        .text()
        .await
        .unwrap_or_default();
    let csrf = support::csrf_in(&form).expect("a CSRF token");
    let script = std::env::temp_dir().join(format!("portico-bench-invite-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "local n = 0\n\
             local threads = {{}}\n\
             function setup(thread) table.insert(threads, thread); thread:set(\"id\", #threads) end\n\
             function init(args) statuses = {{}} end\n\
             function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end\n\
             function done(summary, latency, requests)\n\
               local total = {{}}\n\
               for _, t in ipairs(threads) do for k, v in pairs(t:get(\"statuses\")) do total[k] = (total[k] or 0) + v end end\n\
               for k, v in pairs(total) do io.write(string.format(\"status %d: %d\\n\", k, v)) end\n\
             end\n\
             wrk.method = \"POST\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             request = function()\n\
               n = n + 1\n\
               local body = \"csrf={csrf}&role=member&entity={entity}&email=bench-\" .. id .. \"-\" .. n .. \"%40client.test\"\n\
               return wrk.format(nil, nil, nil, body)\n\
             end\n"
        ),
    )
    .expect("the wrk script");
    if std::env::var("BENCH_TRACE").is_ok_and(|v| !v.is_empty()) {
        println!("-- SQL of one invite POST");
        TRACING.store(true, Ordering::Relaxed);
        let r = one_invite(app, ws, cookie, &csrf, entity, "traced@client.test").await;
        TRACING.store(false, Ordering::Relaxed);
        println!("-- {}", r.status());
    }
    let invites_before = app.invite_count().await;
    let post = measure(
        &app.base,
        &format!("/w/{ws}/settings/members/invite"),
        cookie,
        seconds,
        connections,
        Some(script.to_str().unwrap()),
    );
    let _ = std::fs::remove_file(&script);
    let made = app.invite_count().await - invites_before;
    if post.errors > 0 {
        // What a refused invite POST says (the status and the page's first words).
        let r = one_invite(app, ws, cookie, &csrf, entity, "probe@client.test").await;
        let status = r.status();
        let text = support::text_of(&r.text().await.unwrap_or_default());
        println!("  a probe invite POST: {status}: {}", text.chars().take(300).collect::<String>());
    }
    println!(
        "{:<34} {:>9.0} {:>8.3} {:>8.2} {:>8.2}   ({made} invites made, {:.0}/s; {} answers not 2xx/3xx)",
        "invite POST",
        post.rps,
        post.rps / healthz_mean,
        post.p50,
        post.p99,
        made as f64 / seconds as f64,
        post.errors
    );
    if !post.statuses.is_empty() {
        println!("  answers: {}", post.statuses.join(", "));
    }
}

/// The outbox: a bulk team invite of 50, timed from the POST to the 50th email received.
async fn bulk_invite(app: &TestApp, ada: &TestUser, org: i64, rows: usize) {
    drain_outbox(app).await;
    backlog(app, 2000).await;
    let before = app.smtp.count();
    let emails: Vec<String> = (0..50).map(|i| format!("bulk{i}-{rows}@firm.test")).collect();
    let t = Instant::now();
    let r = ada.post(&format!("/orgs/{org}/team/invite"), &[("emails", &emails.join(", ")), ("role", "manager")]).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "bulk invite: {}", r.status());
    while app.smtp.count() < before + 50 {
        assert!(t.elapsed() < Duration::from_secs(120), "the outbox did not deliver 50 emails in 2 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t.elapsed().as_secs_f64();
    println!("outbox: a bulk invite of 50 delivered to the SMTP sink in {took:.2} s ({:.0} emails/s)", 50.0 / took);
}

/// The outbox alone: up to `n` of the seeded invites' emails queued again at once (as if
/// the mail server had been away), timed until the last one is received.
async fn backlog(app: &TestApp, n: i64) {
    use diesel::prelude::*;
    use portico::db::schema::outbox;
    let before = app.smtp.count();
    let t = Instant::now();
    let queued = app
        .db
        .write(move |c| {
            let ids: Vec<i64> = outbox::table
                .filter(outbox::kind.eq("invite"))
                .select(outbox::id)
                .order(outbox::id)
                .limit(n)
                .load(c)?;
            diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                .set((
                    outbox::state.eq("pending"),
                    outbox::attempts.eq(0),
                    outbox::next_attempt_at.eq(support::now()),
                    outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                    outbox::sent_at.eq(None::<chrono::NaiveDateTime>),
                    outbox::last_error.eq(None::<String>),
                ))
                .execute(c)
        })
        .await
        .expect("queue a backlog");
    // Until none is left to send (the emails of invites accepted meanwhile are dropped).
    let pending = || async {
        app.db
            .read(|c| outbox::table.filter(outbox::state.eq("pending")).count().get_result::<i64>(c))
            .await
            .expect("count pending emails")
    };
    while pending().await > 0 {
        assert!(t.elapsed() < Duration::from_secs(600), "the outbox did not send {queued} emails in 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t.elapsed().as_secs_f64();
    let sent = app.smtp.count() - before;
    println!("outbox: a backlog of {queued} emails: {sent} sent in {took:.2} s ({:.0} emails/s)", sent as f64 / took);
}

/// Waits for the outbox to be empty, saying how fast it went.
async fn drain_outbox(app: &TestApp) {
    use diesel::prelude::*;
    use portico::db::schema::outbox;
    let pending = || async {
        app.db
            .read(|c| outbox::table.filter(outbox::state.eq("pending")).count().get_result::<i64>(c))
            .await
            .expect("count pending emails")
    };
    let (start, t) = (pending().await, Instant::now());
    let sent_before = app.smtp.count();
    while pending().await > 0 {
        assert!(t.elapsed() < Duration::from_secs(1800), "the outbox did not drain in 30 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if start > 0 {
        let took = t.elapsed().as_secs_f64();
        let sent = app.smtp.count() - sent_before;
        println!("outbox: a backlog of {start} emails drained in {took:.1} s ({:.0} emails/s)", sent as f64 / took);
    }
}

fn print_row(path: &str, m: &Measured, healthz: f64, queries: u64) {
    println!(
        "{:<34} {:>9.0} {:>8.3} {:>8.2} {:>8.2} {:>8}{}",
        path,
        m.rps,
        m.rps / healthz,
        m.p50,
        m.p99,
        queries,
        if m.errors > 0 { format!("   ({} answers not 2xx/3xx)", m.errors) } else { String::new() }
    );
}

struct Measured {
    /// "status 303: 1234" lines, from a script that counts answers by status.
    statuses: Vec<String>,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

/// `wrk --latency` against `path` with the session cookie; its figures.
fn measure(base: &str, path: &str, cookie: &str, seconds: u64, connections: u64, script: Option<&str>) -> Measured {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    if !cookie.is_empty() {
        cmd.args(["-H", &format!("Cookie: {cookie}")]);
    }
    if let Some(s) = script {
        cmd.args(["-s", s]);
    }
    cmd.arg(format!("{base}{path}"));
    let out = cmd.output().expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let number_after = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
        line.trim_start()[label.len()..].split_whitespace().next().map(millis_or_number)
    };
    Measured {
        statuses: text.lines().filter(|l| l.starts_with("status ")).map(str::to_string).collect(),
        rps: number_after("Requests/sec:").unwrap_or(0.0),
        p50: number_after("50%").unwrap_or(f64::NAN),
        p99: number_after("99%").unwrap_or(f64::NAN),
        errors: number_after("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64,
    }
}

/// wrk's "1.23ms", "850.00us", "1.02s" as milliseconds; a plain number as it is.
fn millis_or_number(v: &str) -> f64 {
    let (n, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    n.parse::<f64>().map(|x| x * scale).unwrap_or(f64::NAN)
}

/// A signed-in session's cookie ("name=value"), signing in with a client of its own.
async fn session_cookie(app: &TestApp, email: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client.get(format!("{}/login", app.base)).send().await.unwrap();
    let visitor = first_cookie(&login).expect("a visitor session");
    let page = login.text().await.unwrap();
    let csrf = support::csrf_in(&page).expect("a CSRF token on the sign-in page");
    let r = client
        .post(format!("{}/login", app.base))
        .header("cookie", &visitor)
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "sign-in: {}", r.status());
    first_cookie(&r).expect("a signed-in session")
}

fn first_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers().get_all("set-cookie").iter().find_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
}

/// Queries of one request, the smallest of a few (the outbox worker shares the pool).
async fn queries_of(app: &TestApp, user: &TestUser, path: &str) -> u64 {
    let mut queries = u64::MAX;
    for i in 0..3 {
        let before = app.queries();
        if i == 2 && std::env::var("BENCH_TRACE").is_ok_and(|v| !v.is_empty()) {
            println!("-- SQL of GET {path}");
            TRACING.store(true, Ordering::Relaxed);
        }
        let (status, _) = user.page(path).await;
        TRACING.store(false, Ordering::Relaxed);
        assert!(status.is_success(), "{path}: {status}");
        queries = queries.min(app.queries() - before);
    }
    queries
}

/// A firm with `rows` of each kind (clients, staff, team invites, client invites, Activity
/// events: written straight into the database by `seed::grow`), and through HTTP a client
/// with ten entities, ten transactions and ten client users.
async fn seed(app: &TestApp, rows: usize) -> (TestUser, i64, i64, i64) {
    let (ada, org) = app.sign_up("Ada Accountant", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let entity = ada.add_entity(ws, "Acme LLC").await;
    for i in 0..10 {
        ada.add_entity(ws, &format!("Entity {i:05}")).await;
        ada.post(
            &format!("/w/{ws}/entities/{entity}/transactions"),
            &[("date", "2026-01-02"), ("description", &format!("Line {i}")), ("amount", "12.34")],
        )
        .await;
        app.add_client_user(&ada, ws, &format!("member{i}@client.test"), "accountant", &[entity]).await;
    }
    let me = support::seed::user_id(app, "ada@firm.test").await;
    support::seed::grow(app, org, ws, me, 0, rows).await;
    (ada, org, ws, entity)
}
