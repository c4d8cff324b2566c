//! What the fault tests share: one test at a time, figures on the terminal, a firm to work
//! in, requests that report a dead server instead of panicking, and the outbox and the SMTP
//! sink compared by Message-ID.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;

use portico::db::models::outbox::Claimed;
use portico::db::Db;

use super::instance::{Instance, Stack};
use crate::support::{SmtpSink, TestApp, TestUser};

/// The fault tests start processes, cut connections and fill disks: one at a time, so that
/// one test's load does not turn into another's timeout on a 2-core machine.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE_AT_A_TIME.lock().await
}

/// Says `line` where a person reads `cargo test`'s output: the harness captures `println!`
/// of a passing test, so it also goes straight to the process's stderr.
pub fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
}

/// A test that does not apply here (PostgreSQL-only on SQLite, or the other way round):
/// says so and lets the test pass.
pub fn not_here(test: &str, why: &str) {
    say(&format!("SKIPPED fault test {test}: {why}"));
}

/// True when the run is CI's (`CI` set): what CI provides must be there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty())
}

/// Settings every fault test's instances get: no abuse limits in the way of a stream of
/// invites, and a short database timeout.
pub const BUSY_FIRM: [(&str, &str); 3] =
    [("INVITES_PER_USER_PER_HOUR", "1000000"), ("INVITES_PER_FIRM_PER_DAY", "1000000"), ("DB_TIMEOUT_SECONDS", "3")];

/// A firm with one client and three entities, set up through the app.
pub struct FirmSetup {
    pub ada: TestUser,
    pub org: i64,
    pub ws: i64,
    pub entities: [i64; 3],
}

pub async fn firm(app: &TestApp) -> FirmSetup {
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let e1 = ada.add_entity(ws, "Acme LLC").await;
    let e2 = ada.add_entity(ws, "Acme Holdings").await;
    let e3 = ada.add_entity(ws, "Acme Payroll").await;
    FirmSetup { ada, org, ws, entities: [e1, e2, e3] }
}

/// What one request came to.
#[derive(Clone, Debug)]
pub struct Answer {
    /// None: no answer (connection refused or cut, or the timeout).
    pub status: Option<StatusCode>,
    pub body: String,
    pub took: Duration,
}

impl Answer {
    pub fn is(&self, s: StatusCode) -> bool {
        self.status == Some(s)
    }
}

/// POSTs a form as `user` (their cookies and CSRF token) to `base` + `path`, never
/// panicking: a dead server is `status: None`.
pub async fn post(user: &TestUser, base: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    let token = user.csrf().await;
    let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    let body = all
        .iter()
        .map(|(k, v)| format!("{}={}", crate::support::enc(k), crate::support::enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let started = Instant::now();
    let sent = user
        .client
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .timeout(Duration::from_secs(30))
        .body(body)
        .send()
        .await;
    finish(sent, started).await
}

/// GETs `base` + `path` as `user`, never panicking.
pub async fn get(user: &TestUser, base: &str, path: &str) -> Answer {
    let started = Instant::now();
    let sent = user.client.get(format!("{base}{path}")).timeout(Duration::from_secs(30)).send().await;
    finish(sent, started).await
}

async fn finish(sent: reqwest::Result<reqwest::Response>, started: Instant) -> Answer {
    match sent {
        Ok(r) => {
            let status = r.status();
            match r.text().await {
                Ok(body) => Answer { status: Some(status), body, took: started.elapsed() },
                Err(_) => Answer { status: None, body: String::new(), took: started.elapsed() },
            }
        }
        Err(_) => Answer { status: None, body: String::new(), took: started.elapsed() },
    }
}

/// Sends an invite from Settings → Members (Member of the first entity).
pub async fn invite(f: &FirmSetup, base: &str, email: &str) -> Answer {
    let entity = f.entities[0].to_string();
    post(
        &f.ada,
        base,
        &format!("/w/{}/settings/members/invite", f.ws),
        &[("email", email), ("role", "member"), ("entity", &entity)],
    )
    .await
}

/// One outbox row, and the Message-ID its email carries.
/// (`id` and `to` are for failure messages.)
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub invite_id: Option<i64>,
    pub to: String,
    pub state: String,
    pub attempts: i32,
    pub claimed: bool,
    pub last_error: Option<String>,
    pub message_id: String,
}

/// Every outbox row, oldest first. `public_url`: the instances' PUBLIC_URL (the
/// Message-ID names its host).
pub async fn outbox(db: &Db, public_url: &str) -> Vec<OutboxRow> {
    use portico::db::schema::outbox as o;
    let public_url = public_url.to_string();
    db.read(move |c| {
        let rows = o::table
            .order(o::id)
            .select((
                o::id,
                o::kind,
                o::invite_id,
                o::token_id,
                o::to_email,
                o::state,
                o::attempts,
                o::locked_until,
                o::last_error,
                o::created_at,
            ))
            .load::<(
                i64,
                String,
                Option<i64>,
                Option<i64>,
                String,
                String,
                i32,
                Option<chrono::NaiveDateTime>,
                Option<String>,
                chrono::NaiveDateTime,
            )>(c)?;
        let now = portico::db::models::now();
        Ok(rows
            .into_iter()
            .map(|(id, kind, invite_id, token_id, to, state, attempts, locked_until, last_error, created_at)| {
                let claimed = Claimed {
                    id,
                    kind,
                    invite_id,
                    token_id,
                    membership_id: None,
                    to_email: to.clone(),
                    attempts,
                    created_at,
                };
                let message_id = portico::email::worker::message_id(&claimed, &public_url);
                OutboxRow {
                    id,
                    invite_id,
                    to,
                    state,
                    attempts,
                    claimed: locked_until.is_some_and(|t| t > now),
                    last_error,
                    message_id: message_id.trim_matches(['<', '>']).to_string(),
                }
            })
            .collect())
    })
    .await
    .expect("read the outbox")
}

/// Waits until no outbox row is pending (each sent or dropped), up to `within`; returns
/// the rows.
pub async fn outbox_drained(db: &Db, public_url: &str, within: Duration) -> Vec<OutboxRow> {
    let deadline = Instant::now() + within;
    loop {
        let rows = outbox(db, public_url).await;
        let pending = rows.iter().filter(|r| r.state == "pending").count();
        if pending == 0 {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} of {} emails still unsent after {within:?}: {:?}",
            rows.len(),
            rows.iter().filter(|r| r.state == "pending").take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outbox against the SMTP sink, by Message-ID.
#[derive(Debug)]
pub struct Delivery {
    /// Invite emails the outbox says were sent (the sign-ups' confirmation emails are
    /// forgotten by the sink once used: `TestApp::sign_up`).
    pub sent: usize,
    /// Of those, how many the sink never received.
    pub lost: Vec<String>,
    /// Messages the sink received more than once (the same Message-ID), and how often.
    pub duplicated: HashMap<String, usize>,
    /// Messages the sink received that no outbox row sent.
    pub unknown: Vec<String>,
}

impl Delivery {
    pub fn extra_copies(&self) -> usize {
        self.duplicated.values().map(|n| n - 1).sum()
    }

    pub fn figures(&self) -> String {
        format!(
            "{} emails sent, {} lost, {} duplicated ({} extra copies), {} unknown",
            self.sent,
            self.lost.len(),
            self.duplicated.len(),
            self.extra_copies(),
            self.unknown.len()
        )
    }
}

pub fn compare(rows: &[OutboxRow], sink: &SmtpSink) -> Delivery {
    let mut received: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *received.entry(m.message_id.clone()).or_default() += 1;
    }
    let sent: Vec<&OutboxRow> = rows.iter().filter(|r| r.state == "sent" && r.invite_id.is_some()).collect();
    let lost = sent.iter().filter(|r| !received.contains_key(&r.message_id)).map(|r| r.message_id.clone()).collect();
    let known: std::collections::HashSet<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    let unknown = received.keys().filter(|id| !known.contains(id.as_str())).cloned().collect();
    let duplicated = received.into_iter().filter(|(_, n)| *n > 1).collect();
    Delivery { sent: sent.len(), lost, duplicated, unknown }
}

/// The invites in the database, each with what one invite writes in its transaction: its
/// entity grants, its email and its audit event.
/// (`email` and `state` are for failure messages.)
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct InviteWhole {
    pub email: String,
    pub state: String,
    pub entities: usize,
    pub emails: usize,
    pub audit_events: usize,
}

impl InviteWhole {
    /// Everything one invite writes is there.
    pub fn is_whole(&self) -> bool {
        self.entities == 1 && self.emails >= 1 && self.audit_events >= 1
    }
}

pub async fn invites(db: &Db) -> HashMap<String, InviteWhole> {
    use portico::db::schema::{audit_events as a, invite_entities as ie, invites as i, outbox as o};
    db.read(|c| {
        let rows = i::table.select((i::id, i::email, i::state)).load::<(i64, String, String)>(c)?;
        let mut entities: HashMap<i64, usize> = HashMap::new();
        for id in ie::table.select(ie::invite_id).load::<i64>(c)? {
            *entities.entry(id).or_default() += 1;
        }
        let mut emails: HashMap<i64, usize> = HashMap::new();
        for id in o::table
            .filter(o::invite_id.is_not_null())
            .select(o::invite_id)
            .load::<Option<i64>>(c)?
            .into_iter()
            .flatten()
        {
            *emails.entry(id).or_default() += 1;
        }
        let mut audits: HashMap<String, usize> = HashMap::new();
        for email in a::table.filter(a::action.eq("invited")).select(a::target_email).load::<String>(c)? {
            *audits.entry(email).or_default() += 1;
        }
        Ok(rows
            .into_iter()
            .map(|(id, email, state)| {
                let whole = InviteWhole {
                    email: email.clone(),
                    state,
                    entities: entities.get(&id).copied().unwrap_or(0),
                    emails: emails.get(&id).copied().unwrap_or(0),
                    audit_events: audits.get(&email).copied().unwrap_or(0),
                };
                (email, whole)
            })
            .collect())
    })
    .await
    .expect("read the invites")
}

/// Audit events recording an invite to `email`, whether or not the invite row exists (an
/// audit event without its invite would be a change half-done).
pub async fn invited_events(db: &Db) -> HashMap<String, usize> {
    use portico::db::schema::audit_events as a;
    let mut out = HashMap::new();
    for email in db
        .read(|c| a::table.filter(a::action.eq("invited")).select(a::target_email).load::<String>(c))
        .await
        .expect("read audit events")
    {
        *out.entry(email).or_default() += 1;
    }
    out
}

/// Polls `instance` until `path` answers `want` (up to `within`); returns how long it took.
pub async fn until_status(instance: &Instance, path: &str, want: StatusCode, within: Duration) -> Duration {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{}{path}", instance.base)).send().await {
            if r.status() == want {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < within,
            "{path} did not answer {want} within {within:?}; log:\n{}",
            tail(&instance.log())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last lines of a log, for a failure message.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A stack on SQLite or PostgreSQL, whichever the run is on.
pub async fn stack() -> Stack {
    Stack::new().await
}
