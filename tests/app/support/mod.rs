//! Drives Portico from outside: a real server on a free port, a fresh database (a temp
//! SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), a real SMTP
//! sink, and cookie-keeping clients whose helpers read like a user's steps.

#![allow(dead_code)]

pub mod axe;
pub mod browser;
pub mod pg;
pub mod seed;
pub mod smtp;

use std::sync::{Arc, Mutex};

use portico::config::Settings;
use portico::db::Db;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};

pub use pg::PgDatabase;
pub use smtp::{Mail, SmtpSink};

pub const PASSWORD: &str = "correct horse battery";
pub const SESSION_KEY: &str = "test-session-key-that-is-long-enough-for-portico-0123456789abcdef";

/// The app's clock (UTC, as the database stores times).
pub fn now() -> chrono::NaiveDateTime {
    portico::db::models::now()
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub smtp: SmtpSink,
    /// False: no SMTP_URL (the local mailbox).
    pub smtp_mode: bool,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

pub struct Options {
    pub smtp: bool,
    /// Any other setting a test needs changed.
    pub adjust: fn(&mut Settings),
}

impl Default for Options {
    fn default() -> Self {
        Options { smtp: true, adjust: |_| {} }
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
    // Every other setting as `cargo run` with no arguments would have it.
    let mut settings = <Settings as clap::Parser>::parse_from(["portico"]);
    settings.database_url = database_url;
    settings.smtp_url = options.smtp.then(|| smtp.url());
    settings.mail_from = "Portico <portico@portico.test>".into();
    settings.public_url = None;
    settings.bind = "127.0.0.1:0".into();
    settings.session_key = Some("test-session-key-that-is-long-enough-for-portico-0123456789abcdef".into());
    settings.data_dir = dir.path().to_path_buf();
    settings.secure_cookies = Some(false);
    settings.workers = Some(2);
    (options.adjust)(&mut settings);
    let app = portico::startup::Application::build(settings).await.expect("the app starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    TestApp { base, db, smtp, smtp_mode: options.smtp, _dir: dir, _pg: pg }
}

impl TestApp {
    /// A view of an app that runs elsewhere (a child process: tests/faults): the helpers
    /// here drive it over HTTP and read its database through `db`.
    pub fn attached(base: String, db: Db, smtp: SmtpSink) -> TestApp {
        TestApp { base, db, smtp, smtp_mode: true, _dir: tempfile::tempdir().expect("temp dir"), _pg: None }
    }

    /// A browser-like client with its own cookies, signed out.
    pub fn visitor(&self) -> TestUser {
        TestUser::new(&self.base)
    }

    /// "Sign up": a new firm and its first Admin, signed in, who confirms the address with
    /// the link of the confirmation email (then forgotten by the SMTP sink, so that tests
    /// count only the emails they are about).
    pub async fn sign_up(&self, name: &str, email: &str, firm: &str) -> (TestUser, i64) {
        let (user, org) = self.sign_up_unconfirmed(name, email, firm).await;
        let link = match self.smtp_mode {
            true => {
                let subject = "Confirm your email address for Portico";
                let mails = self.smtp.wait_for_subject(email, subject).await;
                self.smtp.forget(|m| m.subject == subject && m.is_to(email));
                mails.link(&format!("{}/verify-email/", self.base)).expect("a confirmation link")
            }
            false => self.confirmation_link(email).await,
        };
        let r = user.post(&link, &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "confirming {email}: {}", r.text().await.unwrap_or_default());
        (user, org)
    }

    /// The link of the newest confirmation email to `email`, derived from the database as
    /// the server does (without SMTP it is only in the log).
    pub async fn confirmation_link(&self, email: &str) -> String {
        use diesel::prelude::*;
        use portico::db::schema::account_tokens as t;
        let e = email.to_string();
        let nonce = self
            .db
            .read(move |c| {
                t::table
                    .filter(t::email.eq(e))
                    .filter(t::purpose.eq("verify_email"))
                    .order(t::id.desc())
                    .select(t::token_nonce)
                    .first::<String>(c)
            })
            .await
            .expect("a confirmation link was issued");
        let key = portico::domain::token::InviteKey::derive(SESSION_KEY.as_bytes()).account_links();
        format!("{}/verify-email/{}", self.base, key.token_for(&nonce).as_str())
    }

    /// "Sign up", leaving the address unconfirmed.
    pub async fn sign_up_unconfirmed(&self, name: &str, email: &str, firm: &str) -> (TestUser, i64) {
        let user = self.visitor();
        let r = user.post("/signup", &[("name", name), ("email", email), ("password", PASSWORD), ("firm", firm)]).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "sign-up of {email} failed: {}",
            r.text().await.unwrap_or_default()
        );
        let org = id_after(&location(&r), "/orgs/");
        (user, org)
    }

    /// The invite link from the newest email to `to`, as delivered to the SMTP sink.
    /// (Waits past other emails to `to`, such as a confirmation email, for one with a link.)
    pub async fn invite_link(&self, to: &str, n: usize) -> String {
        let prefix = format!("{}/invites/", self.base);
        let mut want = n;
        loop {
            let mails = self.smtp.wait_for(to, want).await;
            if let Some(link) = mails[n.saturating_sub(1)..].iter().rev().find_map(|m| m.link(&prefix)) {
                return link;
            }
            want = mails.len() + 1;
        }
    }

    /// Accepts an invite as a new person: opens the link, creates the account there.
    pub async fn accept_as_new_user(&self, link: &str, name: &str) -> TestUser {
        let user = self.visitor();
        let page = user.get(link).await;
        assert_eq!(page.status(), StatusCode::OK);
        let r = user.invite_post(link, "register", &[("name", name), ("password", PASSWORD)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "accepting failed: {}", r.text().await.unwrap_or_default());
        user
    }

    /// Invites `email` to a workspace and accepts it as a new user.
    pub async fn add_client_user(
        &self,
        admin: &TestUser,
        ws: i64,
        email: &str,
        role: &str,
        entities: &[i64],
    ) -> TestUser {
        let before = self.mails_to(email).len();
        let r = admin.invite(ws, email, role, entities).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "invite failed: {}", r.text().await.unwrap_or_default());
        let link = self.invite_link(email, before + 1).await;
        self.accept_as_new_user(&link, &format!("User {email}")).await
    }

    pub fn queries(&self) -> u64 {
        self.db.query_count()
    }

    /// Every mail the SMTP sink has received for `email` (any case), in arrival order.
    pub fn mails_to(&self, email: &str) -> Vec<Mail> {
        self.smtp.messages().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(email))).collect()
    }
}

/// An invite link and its emailed proof: `…/invites/{token}` and what followed `?proof=`.
pub fn split_invite_link(link: &str) -> (String, Option<String>) {
    match link.split_once("?proof=") {
        Some((path, proof)) => (path.to_string(), Some(proof.to_string())),
        None => (link.to_string(), None),
    }
}

/// The link "Copy invite link" gives for an emailed link: the same, without its proof.
pub fn copied(link: &str) -> String {
    split_invite_link(link).0
}

pub struct TestUser {
    pub base: String,
    pub client: reqwest::Client,
    csrf: Arc<Mutex<Option<String>>>,
}

impl TestUser {
    pub fn new(base: &str) -> TestUser {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("http client");
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
        if path.ends_with("/login")
            || path.ends_with("/logout")
            || path.ends_with("/signup")
            || path.ends_with("/register")
        {
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

    /// Add team with "All entities, current and future" (a Member or Accountant invited into
    /// a workspace that has no entity yet, or where which entities does not matter).
    pub async fn invite_to_all_entities(&self, ws: i64, email: &str, role: &str) -> Response {
        let fields = [("email", email), ("role", role), ("all_entities", "on")];
        self.post(&format!("/w/{ws}/settings/members/invite"), &fields).await
    }
}

pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}

/// The value of the "Save and lose this access" button (what it confirms), if the page has one.
pub fn confirm_loss_in(body: &str) -> Option<String> {
    let at = body.find("name=\"confirm_loss\" value=\"")? + "name=\"confirm_loss\" value=\"".len();
    let end = body[at..].find('"')?;
    Some(body[at..at + end].to_string())
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
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes for a form body or query string (space as `+`).
pub fn enc(s: &str) -> String {
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
    out.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `value` attribute of the `<input name="NAME">` of a page, as written in the HTML.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    html.split("<input").skip(1).find_map(|tag| {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if !tag.contains(&marker) {
            return None;
        }
        let start = tag.find("value=\"")? + "value=\"".len();
        let end = tag[start..].find('"')?;
        Some(tag[start..start + end].to_string())
    })
}

/// The text of each row of the page's table bodies (`<tbody>…</tbody>`), in order.
pub fn body_rows(html: &str) -> Vec<String> {
    html.split("<tbody")
        .skip(1)
        .flat_map(|body| {
            let body = &body[..body.find("</tbody>").unwrap_or(body.len())];
            body.split("<tr").skip(1).map(|row| {
                let end = row.find("</tr>").unwrap_or(row.len());
                text_of(&format!("<tr{}", &row[..end]))
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Settings → Members, invites and their rows in the database (members, invites and authz
// tests). The database helpers set up states a test cannot reach through HTTP in a few
// seconds (an expired invite, an old "last sent" time) or read what a page cannot show
// (what the invites table holds).
// ---------------------------------------------------------------------------------------

impl TestUser {
    /// Settings → Members, as this user sees it (asserting it opens).
    pub async fn members_page(&self, ws: i64) -> String {
        let (status, body) = self.page(&format!("/w/{ws}/settings/members")).await;
        assert_eq!(status, StatusCode::OK, "the Members page of workspace {ws} did not open: {}", text_of(&body));
        body
    }

    /// ⋯ → Configure permissions → Save.
    pub async fn configure_member(&self, ws: i64, user: i64, role: &str, entities: &[i64]) -> Response {
        let ids: Vec<String> = entities.iter().map(|e| e.to_string()).collect();
        let mut fields = vec![("role", role)];
        fields.extend(ids.iter().map(|i| ("entity", i.as_str())));
        self.post(&format!("/w/{ws}/settings/members/{user}/permissions"), &fields).await
    }

    /// ⋯ → Configure permissions of oneself → Save, then "Save and lose this access": the
    /// first save only says what would be lost, the second (with the confirmation the page
    /// carries) saves. The answer to the second, or to the first when it was not asked.
    pub async fn configure_own_access(&self, ws: i64, user: i64, role: &str, entities: &[i64]) -> Response {
        let r = self.configure_member(ws, user, role, entities).await;
        if r.status() != StatusCode::OK {
            return r;
        }
        let body = r.text().await.unwrap_or_default();
        let key = confirm_loss_in(&body)
            .unwrap_or_else(|| panic!("no \"Save and lose this access\" on the page: {}", text_of(&body)));
        let ids: Vec<String> = entities.iter().map(|e| e.to_string()).collect();
        let mut fields = vec![("role", role), ("confirm_loss", key.as_str())];
        fields.extend(ids.iter().map(|i| ("entity", i.as_str())));
        self.post(&format!("/w/{ws}/settings/members/{user}/permissions"), &fields).await
    }

    /// ⋯ → Remove from workspace → confirm.
    pub async fn remove_member(&self, ws: i64, user: i64) -> Response {
        self.post(&format!("/w/{ws}/settings/members/{user}/remove"), &[]).await
    }

    /// ⋯ → Resend invite.
    pub async fn resend_invite(&self, ws: i64, invite: i64) -> Response {
        self.post(&format!("/w/{ws}/settings/invites/{invite}/resend"), &[]).await
    }

    /// ⋯ → Cancel invite → confirm.
    pub async fn cancel_invite(&self, ws: i64, invite: i64) -> Response {
        self.post(&format!("/w/{ws}/settings/invites/{invite}/cancel"), &[]).await
    }

    /// "Accept invite" on the invite page, signed in (a POST to `{link}/accept`).
    pub async fn accept_invite(&self, link: &str) -> Response {
        self.invite_post(link, "accept", &[]).await
    }

    /// A form of the invite page (`action`: "accept" or "register") as the page sends it:
    /// the emailed link's `?proof=` travels in the hidden `proof` field.
    pub async fn invite_post(&self, link: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let (path, proof) = split_invite_link(link);
        let mut all = fields.to_vec();
        if let Some(p) = &proof {
            all.push(("proof", p));
        }
        self.post(&format!("{path}/{action}"), &all).await
    }

    /// The status of a GET, and the text of the page.
    pub async fn status_and_text(&self, path: &str) -> (StatusCode, String) {
        let (status, body) = self.page(path).await;
        (status, text_of(&body))
    }

    /// Reloads `path` until `check` accepts the page (up to 15 s), and returns its HTML;
    /// panics with `what` and the last reason `check` gave.
    pub async fn page_until(&self, path: &str, what: &str, check: impl Fn(&str) -> Result<(), String>) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (status, body) = self.page(path).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {}", text_of(&body));
            match check(&body) {
                Ok(()) => return body,
                Err(e) if tokio::time::Instant::now() > deadline => panic!("{what}: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
}

/// The text of the first table row (`<tr>…`) of a page whose HTML contains `needle`.
pub fn row_of(html: &str, needle: &str) -> Option<String> {
    html.split("<tr").skip(1).find(|row| row.contains(needle)).map(|row| {
        let end = row.find("</tr>").unwrap_or(row.len());
        text_of(&format!("<tr{}", &row[..end]))
    })
}

/// The row of `needle` on a Members page, or a panic naming what the page shows.
pub fn row(html: &str, needle: &str) -> String {
    row_of(html, needle).unwrap_or_else(|| panic!("no row for {needle} on the page: {}", text_of(html)))
}

/// The HTML of the ⋯ menu labelled "Actions for LABEL" (up to the end of its row).
pub fn actions_menu<'a>(html: &'a str, label: &str) -> Option<&'a str> {
    let marker = format!("aria-label=\"Actions for {label}\"");
    let start = html.find(&marker)?;
    let rest = &html[start..];
    Some(&rest[..rest.find("</tr>").unwrap_or(rest.len())])
}

/// The id of the pending invite to `email`, from its ⋯ menu on the Members page.
pub fn invite_id_on(html: &str, email: &str) -> i64 {
    let menu = actions_menu(html, email).unwrap_or_else(|| panic!("no ⋯ menu for {email}: {}", text_of(html)));
    id_after(menu, "/settings/invites/")
}

/// The user id of the member labelled `label`, from their ⋯ menu on the Members page.
pub fn member_id_on(html: &str, label: &str) -> i64 {
    let menu = actions_menu(html, label).unwrap_or_else(|| panic!("no ⋯ menu for {label}: {}", text_of(html)));
    id_after(menu, "/settings/members/")
}

/// One row of the invites table, as stored.
#[derive(Clone, Debug)]
pub struct InviteRecord {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub email: String,
    pub role: String,
    pub state: String,
    pub token_hash: String,
    pub token_nonce: String,
    pub created_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    pub last_sent_at: chrono::NaiveDateTime,
    pub accepted_by: Option<i64>,
}

impl TestApp {
    pub async fn user_id(&self, email: &str) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::users;
        let email = email.trim().to_lowercase();
        let e = email.clone();
        self.db
            .read(move |c| users::table.filter(users::email.eq(e)).select(users::id).first::<i64>(c))
            .await
            .unwrap_or_else(|err| panic!("no user {email}: {err}"))
    }

    /// Every invite row to `email` (any workspace or firm), oldest first.
    pub async fn invite_records(&self, email: &str) -> Vec<InviteRecord> {
        use diesel::prelude::*;
        use portico::db::schema::invites::dsl as i;
        let email = email.to_string();
        self.db
            .read(move |c| {
                Ok(i::invites
                    .filter(i::email.eq(email))
                    .order(i::id.asc())
                    .select((
                        i::id,
                        i::workspace_id,
                        i::email,
                        i::role,
                        i::state,
                        i::token_hash,
                        i::token_nonce,
                        i::created_at,
                        i::expires_at,
                        i::last_sent_at,
                        i::accepted_by,
                    ))
                    .load::<(
                        i64,
                        Option<i64>,
                        String,
                        String,
                        String,
                        String,
                        String,
                        chrono::NaiveDateTime,
                        chrono::NaiveDateTime,
                        chrono::NaiveDateTime,
                        Option<i64>,
                    )>(c)?
                    .into_iter()
                    .map(
                        |(
                            id,
                            workspace_id,
                            email,
                            role,
                            state,
                            token_hash,
                            token_nonce,
                            created_at,
                            expires_at,
                            last_sent_at,
                            accepted_by,
                        )| InviteRecord {
                            id,
                            workspace_id,
                            email,
                            role,
                            state,
                            token_hash,
                            token_nonce,
                            created_at,
                            expires_at,
                            last_sent_at,
                            accepted_by,
                        },
                    )
                    .collect())
            })
            .await
            .expect("read invites")
    }

    /// The newest invite row to `email`.
    pub async fn invite_record(&self, email: &str) -> InviteRecord {
        self.invite_records(email).await.pop().unwrap_or_else(|| panic!("no invite to {email} in the database"))
    }

    /// The state of invite `id`: `pending`, `accepted` or `cancelled`.
    pub async fn invite_state(&self, id: i64) -> String {
        use diesel::prelude::*;
        use portico::db::schema::invites;
        self.db
            .read(move |c| invites::table.find(id).select(invites::state).first::<String>(c))
            .await
            .expect("read invite")
    }

    /// The organization role of `user` in `org`, if they are on its team.
    pub async fn org_role(&self, org: i64, user: i64) -> Option<String> {
        use diesel::prelude::*;
        use portico::db::schema::org_memberships as m;
        self.db
            .read(move |c| {
                m::table
                    .filter(m::organization_id.eq(org))
                    .filter(m::user_id.eq(user))
                    .select(m::role)
                    .first::<String>(c)
                    .optional()
            })
            .await
            .expect("read membership")
    }

    pub async fn invite_count(&self) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::invites;
        self.db.read(|c| invites::table.count().get_result::<i64>(c)).await.expect("count invites")
    }

    /// Moves an invite's times: `expires_at` and `last_sent_at`, when given.
    pub async fn set_invite_times(
        &self,
        invite: i64,
        expires_at: Option<chrono::NaiveDateTime>,
        last_sent_at: Option<chrono::NaiveDateTime>,
    ) {
        use diesel::prelude::*;
        use portico::db::schema::invites;
        self.db
            .write(move |c| {
                if let Some(t) = expires_at {
                    diesel::update(invites::table.find(invite)).set(invites::expires_at.eq(t)).execute(c)?;
                }
                if let Some(t) = last_sent_at {
                    diesel::update(invites::table.find(invite)).set(invites::last_sent_at.eq(t)).execute(c)?;
                }
                Ok(())
            })
            .await
            .expect("update invite times");
    }

    /// Lets an invite be resent now: its last email went out two minutes ago.
    pub async fn allow_resend(&self, invite: i64) {
        self.set_invite_times(invite, None, Some(now() - chrono::Duration::minutes(2))).await;
    }

    /// Every outbox row of an invite: (state, attempts, next_attempt_at), oldest first.
    pub async fn outbox_of(&self, invite: i64) -> Vec<(String, i32, chrono::NaiveDateTime)> {
        use diesel::prelude::*;
        use portico::db::schema::outbox;
        self.db
            .read(move |c| {
                outbox::table
                    .filter(outbox::invite_id.eq(invite))
                    .order(outbox::id.asc())
                    .select((outbox::state, outbox::attempts, outbox::next_attempt_at))
                    .load(c)
            })
            .await
            .expect("read outbox")
    }

    /// The outbox rows of an invite once each has been dealt with (sent, dropped, or given
    /// up): (state, attempts), oldest first. Waits up to 15 s for rows still `pending`. A
    /// settled row is never claimed again, and every claim adds one to `attempts`: a row
    /// `sent` at attempt 1 went out exactly once, and no further email can come of it.
    pub async fn settled_outbox(&self, invite: i64) -> Vec<(String, i32)> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let rows = self.outbox_of(invite).await;
            if rows.iter().all(|(state, _, _)| state != "pending") {
                return rows.into_iter().map(|(state, attempts, _)| (state, attempts)).collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox rows of invite {invite} were never dealt with: {rows:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until the invite's outbox rows are settled, and asserts they are `expected`:
    /// (state, attempts) of each email queued for it, oldest first.
    pub async fn assert_outbox(&self, invite: i64, expected: &[(&str, i32)], why: &str) {
        let rows = self.settled_outbox(invite).await;
        let rows: Vec<(&str, i32)> = rows.iter().map(|(s, a)| (s.as_str(), *a)).collect();
        assert_eq!(rows, expected, "the outbox of invite {invite}: {why}");
    }

    /// The invite's only email has been sent, once, and the SMTP sink holds exactly that one
    /// email to `email` (waiting for it as needed).
    pub async fn assert_sent_once(&self, invite: i64, email: &str) {
        self.smtp.wait_for(email, 1).await;
        self.assert_outbox(invite, &[("sent", 1)], &format!("one email to {email}, sent once")).await;
        let mails = self.mails_to(email);
        assert_eq!(
            mails.len(),
            1,
            "exactly one email to {email}: {:?}",
            mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }

    /// How many invite emails (queued, whatever became of them) are addressed to `email`.
    pub async fn outbox_rows_to(&self, email: &str) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::outbox;
        let email = email.to_string();
        self.db
            .read(move |c| {
                outbox::table
                    .filter(outbox::to_email.eq(email))
                    .filter(outbox::kind.eq("invite"))
                    .count()
                    .get_result::<i64>(c)
            })
            .await
            .expect("count outbox rows")
    }

    /// How many workspace membership rows `user` has in `ws` (0 or 1).
    pub async fn membership_rows(&self, ws: i64, user: i64) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::workspace_memberships as m;
        self.db
            .read(move |c| {
                m::table.filter(m::workspace_id.eq(ws)).filter(m::user_id.eq(user)).count().get_result::<i64>(c)
            })
            .await
            .expect("count memberships")
    }

    /// How many people are workspace Admins of `ws` (Admin rows plus firm staff without a
    /// row), as the app counts them for the last-Admin rule.
    pub async fn workspace_admins(&self, ws: i64) -> usize {
        use portico::db::models::access;
        use portico::domain::WorkspaceId;
        self.db
            .read(move |c| {
                let info = access::workspace_info(c, WorkspaceId(ws))?.expect("the workspace exists");
                access::count_admins(c, &info)
            })
            .await
            .expect("count admins")
    }

    /// Puts a signed-up user on a firm's team with an organization role (`admin`, `manager`
    /// or `member`), as accepting a team invite would.
    pub async fn add_to_team(&self, org: i64, user: i64, role: &str) {
        use diesel::prelude::*;
        use portico::db::schema::org_memberships as m;
        let role = role.to_string();
        self.db
            .write(move |c| {
                diesel::insert_into(m::table)
                    .values((
                        m::organization_id.eq(org),
                        m::user_id.eq(user),
                        m::role.eq(role),
                        m::new_clients.eq(false),
                        m::created_at.eq(now()),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await
            .expect("add to team");
    }

    /// Gives a firm team member access to one client (workspace).
    pub async fn grant_client(&self, org: i64, user: i64, ws: i64) {
        use diesel::prelude::*;
        use portico::db::schema::{org_client_grants as g, org_memberships as m};
        self.db
            .write(move |c| {
                let mid = m::table
                    .filter(m::organization_id.eq(org))
                    .filter(m::user_id.eq(user))
                    .select(m::id)
                    .first::<i64>(c)?;
                diesel::insert_into(g::table).values((g::membership_id.eq(mid), g::workspace_id.eq(ws))).execute(c)?;
                Ok(())
            })
            .await
            .expect("grant client");
    }
}

/// The rows of every table that inviting, accepting, configuring, removing, resending and
/// cancelling write, one line per row (`table id: columns`), in table then key order: to
/// check that a refused request changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub Vec<String>);

impl Snapshot {
    /// The lines only one side has: `- ` before, `+ ` after.
    pub fn diff(&self, after: &Snapshot) -> String {
        let gone = self.0.iter().filter(|l| !after.0.contains(l)).map(|l| format!("- {l}"));
        let new = after.0.iter().filter(|l| !self.0.contains(l)).map(|l| format!("+ {l}"));
        gone.chain(new).collect::<Vec<_>>().join("\n")
    }
}

impl TestApp {
    /// What the database holds now (see [`Snapshot`]): org_memberships, org_client_grants,
    /// workspace_memberships, workspace_entity_grants, invites, invite_clients,
    /// invite_entities, outbox and audit_events.
    pub async fn snapshot(&self) -> Snapshot {
        use chrono::NaiveDateTime as At;
        use diesel::prelude::*;
        use portico::db::schema::{
            audit_events as a, invite_clients as ic, invite_entities as ie, invites as i, org_client_grants as og,
            org_memberships as om, outbox as o, workspace_entity_grants as weg, workspace_memberships as wm,
        };
        self.db
            .read(|c| {
                let mut lines = Vec::new();
                for (id, org, user, role, new_clients) in om::table
                    .order(om::id)
                    .select((om::id, om::organization_id, om::user_id, om::role, om::new_clients))
                    .load::<(i64, i64, i64, String, bool)>(c)?
                {
                    lines.push(format!("org_memberships {id}: org {org} user {user} {role} new_clients={new_clients}"));
                }
                for (m, ws) in og::table
                    .order((og::membership_id, og::workspace_id))
                    .select((og::membership_id, og::workspace_id))
                    .load::<(i64, i64)>(c)?
                {
                    lines.push(format!("org_client_grants: membership {m} workspace {ws}"));
                }
                for (id, ws, user, role) in wm::table
                    .order(wm::id)
                    .select((wm::id, wm::workspace_id, wm::user_id, wm::role))
                    .load::<(i64, i64, i64, String)>(c)?
                {
                    lines.push(format!("workspace_memberships {id}: workspace {ws} user {user} {role}"));
                }
                for (m, e) in weg::table
                    .order((weg::membership_id, weg::entity_id))
                    .select((weg::membership_id, weg::entity_id))
                    .load::<(i64, i64)>(c)?
                {
                    lines.push(format!("workspace_entity_grants: membership {m} entity {e}"));
                }
                type InviteLine =
                    (i64, i64, Option<i64>, String, String, bool, String, At, At, Option<i64>, Option<At>);
                for (id, org, ws, email, role, new_clients, state, expires, sent, by, ended) in i::table
                    .order(i::id)
                    .select((
                        i::id,
                        i::organization_id,
                        i::workspace_id,
                        i::email,
                        i::role,
                        i::new_clients,
                        i::state,
                        i::expires_at,
                        i::last_sent_at,
                        i::accepted_by,
                        i::ended_at,
                    ))
                    .load::<InviteLine>(c)?
                {
                    lines.push(format!(
                        "invites {id}: org {org} workspace {ws:?} {email} {role} new_clients={new_clients} \
                         {state} expires {expires} sent {sent} accepted_by {by:?} ended {ended:?}"
                    ));
                }
                for (invite, ws) in ic::table
                    .order((ic::invite_id, ic::workspace_id))
                    .select((ic::invite_id, ic::workspace_id))
                    .load::<(i64, i64)>(c)?
                {
                    lines.push(format!("invite_clients: invite {invite} workspace {ws}"));
                }
                for (invite, e) in ie::table
                    .order((ie::invite_id, ie::entity_id))
                    .select((ie::invite_id, ie::entity_id))
                    .load::<(i64, i64)>(c)?
                {
                    lines.push(format!("invite_entities: invite {invite} entity {e}"));
                }
                // Which emails are queued, not how far the outbox worker (which runs beside
                // the requests) has got with them: its progress is nobody's request's doing.
                for (id, invite, to) in
                    o::table
                        .order(o::id)
                        .select((o::id, o::invite_id, o::to_email))
                        .load::<(i64, Option<i64>, String)>(c)?
                {
                    lines.push(format!("outbox {id}: invite {invite:?} to {to}"));
                }
                for (id, org, ws, actor, action, target, detail) in a::table
                    .order(a::id)
                    .select((
                        a::id,
                        a::organization_id,
                        a::workspace_id,
                        a::actor_id,
                        a::action,
                        a::target_email,
                        a::detail,
                    ))
                    .load::<(i64, i64, Option<i64>, Option<i64>, String, String, String)>(c)?
                {
                    lines.push(format!(
                        "audit_events {id}: org {org} workspace {ws:?} actor {actor:?} {action} {target} ({detail})"
                    ));
                }
                Ok(Snapshot(lines))
            })
            .await
            .expect("read a snapshot")
    }

    /// Waits (up to 15 s) until no email in the outbox is waiting to be sent, so that the
    /// outbox worker changes nothing until a request queues another.
    /// How many accounts exist.
    pub async fn user_count(&self) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::users;
        self.db.read(|c| users::table.count().get_result::<i64>(c)).await.expect("count users")
    }

    pub async fn outbox_settled(&self) {
        use diesel::prelude::*;
        use portico::db::schema::outbox;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let pending = self
                .db
                .read(|c| outbox::table.filter(outbox::state.eq("pending")).count().get_result::<i64>(c))
                .await
                .expect("count pending emails");
            if pending == 0 {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{pending} emails were never sent");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A firm (Ada Ames of "Ames & Co") with one client, "Acme Bakery", holding two entities.
pub struct Firm {
    pub app: TestApp,
    pub ada: TestUser,
    pub org: i64,
    pub ws: i64,
    pub llc: i64,
    pub holdings: i64,
}

pub async fn firm_with_a_client() -> Firm {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    let holdings = ada.add_entity(ws, "Acme Holdings").await;
    Firm { app, ada, org, ws, llc, holdings }
}

impl Firm {
    pub fn members(&self) -> String {
        format!("/w/{}/settings/members", self.ws)
    }

    /// Ada invites `email` and the invite link arrives by email.
    pub async fn invite(&self, email: &str, role: &str, entities: &[i64]) -> String {
        let before = self.app.mails_to(email).len();
        let r = self.ada.invite(self.ws, email, role, entities).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "inviting {email}: {}",
            text_of(&r.text().await.unwrap_or_default())
        );
        self.app.invite_link(email, before + 1).await
    }

    /// Ada invites `email`, who accepts as a new person called `name`.
    pub async fn client_user(&self, email: &str, name: &str, role: &str, entities: &[i64]) -> (TestUser, i64) {
        let link = self.invite(email, role, entities).await;
        let user = self.app.accept_as_new_user(&link, name).await;
        (user, self.app.user_id(email).await)
    }

    /// Reloads the Members page (as Ada) until the row of `needle` says `words`.
    pub async fn until_row_says(&self, needle: &str, words: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let body = self.ada.members_page(self.ws).await;
            let text = row(&body, needle);
            if text.contains(words) {
                return text;
            }
            assert!(tokio::time::Instant::now() < deadline, "the row of {needle} never said {words:?}: {text}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl TestApp {
    /// A second instance of the app on the same database, the same SMTP sink, the same keys
    /// and the same public address, as behind a load balancer.
    pub async fn another_instance(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match &self._pg {
            Some(pg) => pg.url.clone(),
            None => self._dir.path().join("portico.db").to_string_lossy().into_owned(),
        };
        let mut settings = <Settings as clap::Parser>::parse_from(["portico"]);
        settings.database_url = database_url;
        settings.smtp_url = Some(self.smtp.url());
        settings.mail_from = "Portico <portico@portico.test>".into();
        settings.public_url = Some(self.base.clone());
        settings.bind = "127.0.0.1:0".into();
        settings.session_key = Some("test-session-key-that-is-long-enough-for-portico-0123456789abcdef".into());
        settings.data_dir = dir.path().to_path_buf();
        settings.secure_cookies = Some(false);
        settings.workers = Some(2);
        let app = portico::startup::Application::build(settings).await.expect("the second instance starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let db = app.db();
        tokio::spawn(app.run_until_stopped());
        TestApp { base, db, smtp: self.smtp.clone(), smtp_mode: true, _dir: dir, _pg: None }
    }
}
