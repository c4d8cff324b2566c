//! Drives Portico from outside: a real server on a free port, a fresh database (a temp
//! SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), a real SMTP
//! sink, and cookie-keeping clients whose helpers read like a user's steps.

#![allow(dead_code)]

pub mod browser;
pub mod smtp;

use std::sync::{Arc, Mutex};

use portico::config::Settings;
use portico::db::Db;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};

pub use smtp::SmtpSink;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub smtp: SmtpSink,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

pub struct Options {
    pub smtp: bool,
    pub login_attempts_per_minute: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { smtp: true, login_attempts_per_minute: 10 }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpSink::start().await;
    let (database_url, pg) = match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(admin_url) => {
            let pg = PgDatabase::create(&admin_url);
            (pg.url.clone(), Some(pg))
        }
        None => (dir.path().join("portico.db").to_string_lossy().into_owned(), None),
    };
    let settings = Settings {
        database_url,
        smtp_url: options.smtp.then(|| smtp.url()),
        mail_from: "Portico <portico@portico.test>".into(),
        public_url: None,
        bind: "127.0.0.1:0".into(),
        session_key: Some("test-session-key-that-is-long-enough-for-portico-0123456789abcdef".into()),
        data_dir: dir.path().to_path_buf(),
        secure_cookies: Some(false),
        invite_ttl_days: 7,
        db_pool_size: 8,
        workers: Some(2),
        login_attempts_per_minute: options.login_attempts_per_minute,
    };
    let app = portico::startup::Application::build(settings).await.expect("the app starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    TestApp { base, db, smtp, _dir: dir, _pg: pg }
}

impl TestApp {
    /// A browser-like client with its own cookies, signed out.
    pub fn visitor(&self) -> TestUser {
        TestUser::new(&self.base)
    }

    /// "Sign up": a new firm and its first Admin, signed in.
    pub async fn sign_up(&self, name: &str, email: &str, firm: &str) -> (TestUser, i64) {
        let user = self.visitor();
        let r = user
            .post("/signup", &[("name", name), ("email", email), ("password", PASSWORD), ("firm", firm)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-up of {email} failed: {}", r.text().await.unwrap_or_default());
        let org = id_after(&location(&r), "/orgs/");
        (user, org)
    }

    /// The invite link from the newest email to `to`, as delivered to the SMTP sink.
    pub async fn invite_link(&self, to: &str, n: usize) -> String {
        let mails = self.smtp.wait_for(to, n).await;
        let mail = mails.last().expect("a mail");
        mail.link(&format!("{}/invites/", self.base)).unwrap_or_else(|| panic!("no invite link in: {}", mail.text))
    }

    /// Accepts an invite as a new person: opens the link, creates the account there.
    pub async fn accept_as_new_user(&self, link: &str, name: &str) -> TestUser {
        let user = self.visitor();
        let page = user.get(link).await;
        assert_eq!(page.status(), StatusCode::OK);
        let r = user.post(&format!("{link}/register"), &[("name", name), ("password", PASSWORD)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "accepting failed: {}", r.text().await.unwrap_or_default());
        user
    }

    /// Invites `email` to a workspace and accepts it as a new user.
    pub async fn add_client_user(&self, admin: &TestUser, ws: i64, email: &str, role: &str, entities: &[i64]) -> TestUser {
        let before = self.smtp.messages().iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(email))).count();
        let r = admin.invite(ws, email, role, entities).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "invite failed: {}", r.text().await.unwrap_or_default());
        let link = self.invite_link(email, before + 1).await;
        self.accept_as_new_user(&link, &format!("User {email}")).await
    }

    pub fn queries(&self) -> u64 {
        self.db.query_count()
    }
}

pub struct TestUser {
    pub base: String,
    pub client: reqwest::Client,
    csrf: Arc<Mutex<Option<String>>>,
}

impl TestUser {
    fn new(base: &str) -> TestUser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("http client");
        TestUser { base: base.to_string(), client, csrf: Arc::new(Mutex::new(None)) }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET, and the page's HTML (remembering its CSRF token).
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        self.remember_csrf(&body);
        (status, body)
    }

    /// GET following redirects to the final page.
    pub async fn visit(&self, path: &str) -> (StatusCode, String, String) {
        let mut path = path.to_string();
        for _ in 0..5 {
            let r = self.get(&path).await;
            if r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::FOUND {
                path = location(&r);
                continue;
            }
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            self.remember_csrf(&body);
            return (status, body, path);
        }
        panic!("too many redirects from {path}");
    }

    fn remember_csrf(&self, body: &str) {
        if let Some(t) = csrf_in(body) {
            *self.csrf.lock().unwrap() = Some(t);
        }
    }

    pub async fn csrf(&self) -> String {
        if let Some(t) = self.csrf.lock().unwrap().clone() {
            return t;
        }
        let (_, body, _) = self.visit("/login").await;
        csrf_in(&body).expect("a CSRF token on the page")
    }

    /// POST a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POST exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded_encode(fields);
        let r = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        // After sign-in or sign-out the session (and its token) changes.
        if path.ends_with("/login") || path.ends_with("/logout") || path.ends_with("/signup") || path.ends_with("/register") {
            *self.csrf.lock().unwrap() = None;
        }
        r
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Response {
        self.post("/login", &[("email", email), ("password", password)]).await
    }

    pub async fn log_out(&self) -> Response {
        self.post("/logout", &[]).await
    }

    pub async fn add_client(&self, org: i64, name: &str) -> i64 {
        let r = self.post(&format!("/orgs/{org}/clients"), &[("name", name)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "add client: {}", r.text().await.unwrap_or_default());
        id_after(&location(&r), "/w/")
    }

    pub async fn add_entity(&self, ws: i64, name: &str) -> i64 {
        let r = self.post(&format!("/w/{ws}/entities"), &[("name", name)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "add entity: {}", r.text().await.unwrap_or_default());
        id_after(&location(&r), "/entities/")
    }

    pub async fn invite(&self, ws: i64, email: &str, role: &str, entities: &[i64]) -> Response {
        let ids: Vec<String> = entities.iter().map(|e| e.to_string()).collect();
        let mut fields = vec![("email", email), ("role", role)];
        fields.extend(ids.iter().map(|i| ("entity", i.as_str())));
        self.post(&format!("/w/{ws}/settings/members/invite"), &fields).await
    }
}

pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location header (status {})", r.status()))
        .to_string()
}

/// The number after `marker` in a path: id_after("/w/12/entities", "/w/") == 12.
pub fn id_after(path: &str, marker: &str) -> i64 {
    let start = path.find(marker).unwrap_or_else(|| panic!("{marker} not in {path}")) + marker.len();
    path[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("an id")
}

fn serde_urlencoded_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    fn create(admin_url: &str) -> PgDatabase {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("portico_test_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut conn = PgConnection::establish(admin_url).expect("TEST_DATABASE_URL must reach PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        PgDatabase { admin_url: admin_url.to_string(), url: format!("{base}/{name}"), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn);
        }
    }
}

/// Body text without tags, whitespace collapsed: what a person reads.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&#38;", "&").replace("&amp;", "&").replace("&#39;", "'").replace("&quot;", "\"").replace("&#34;", "\"")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
