//! The hostile-input test: crawls the app as several people in every state the pages
//! depend on (roles of a firm and of a client, a second session, two-factor on, two-factor
//! being set up, a sign-in waiting for its code, an unverified account, an account with an
//! invite waiting, a visitor holding reset and confirmation links), collects every form it
//! can reach, and sends thousands of malformed versions of them. No answer may be a 5xx,
//! and no refused request (4xx) may change a row.
//!
//! It reads the POST routes from the route table (`src/routes/mod.rs`,
//! `src/routes/invite_actions.rs`) and fails when one of them was reached by no form: a new
//! form nobody crawls fails it.
//!
//! Seeded (HOSTILE_SEED, default 8) so that a failure replays; HOSTILE_REQUESTS sets how
//! many requests to send (default 5,000).

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::Instant;

use reqwest::StatusCode;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::*;

/// xorshift64*: small, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Debug)]
struct Form {
    /// The page it was found on.
    page: String,
    method: String,
    action: String,
    fields: Vec<(String, String)>,
    /// Checkbox and radio values not ticked by default.
    options: Vec<(String, String)>,
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

fn has_flag(tag: &str, name: &str) -> bool {
    tag.split(|c: char| c.is_whitespace() || c == '>').any(|w| w == name)
}

/// Same-origin links of a page (paths only).
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| {
            let href = unescape(&rest[..rest.find('"')?]);
            let href = href.split('#').next().unwrap_or("").to_string();
            (href.starts_with('/') && !href.starts_with("//")).then_some(href)
        })
        .filter(|h| !h.starts_with("/static/") && !h.starts_with("/logout") && !h.starts_with("/dev/"))
        .collect()
}

/// Every `<form>` of a page: its method, action, and fields with their default values.
fn forms(html: &str, page: &str) -> Vec<Form> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(tag_end) = chunk.find('>') else { continue };
        let tag = &chunk[..tag_end];
        let body = &chunk[tag_end..chunk.find("</form>").unwrap_or(chunk.len())];
        let method = attr(tag, "method").unwrap_or_else(|| "get".into()).to_lowercase();
        let action = attr(tag, "action").filter(|a| !a.is_empty()).unwrap_or_else(|| page.to_string());
        let mut fields = Vec::new();
        let mut options = Vec::new();
        let mut radios_seen = HashSet::new();
        for input in body.split("<input").skip(1) {
            let t = &input[..input.find('>').unwrap_or(input.len())];
            let Some(name) = attr(t, "name") else { continue };
            let kind = attr(t, "type").unwrap_or_else(|| "text".into());
            let value = attr(t, "value").unwrap_or_default();
            match kind.as_str() {
                "checkbox" | "radio" => {
                    let value = if value.is_empty() { "on".to_string() } else { value };
                    let first_radio = kind == "radio" && radios_seen.insert(name.clone());
                    if has_flag(t, "checked") || first_radio {
                        fields.push((name, value));
                    } else {
                        options.push((name, value));
                    }
                }
                _ => fields.push((name, value)),
            }
        }
        for ta in body.split("<textarea").skip(1) {
            let t = &ta[..ta.find('>').unwrap_or(ta.len())];
            if let Some(name) = attr(t, "name") {
                let content = ta[ta.find('>').map_or(0, |i| i + 1)..].split("</textarea>").next().unwrap_or("");
                fields.push((name, unescape(content)));
            }
        }
        for sel in body.split("<select").skip(1) {
            let t = &sel[..sel.find('>').unwrap_or(sel.len())];
            if let (Some(name), Some(first)) = (attr(t, "name"), sel.split("<option").nth(1)) {
                fields.push((name, attr(first, "value").unwrap_or_default()));
            }
        }
        for button in body.split("<button").skip(1) {
            let t = &button[..button.find('>').unwrap_or(button.len())];
            if let (Some(name), Some(value)) = (attr(t, "name"), attr(t, "value")) {
                if fields.iter().any(|(n, _)| *n == name) {
                    options.push((name, value));
                } else {
                    fields.push((name, value));
                }
            }
        }
        out.push(Form { page: page.to_string(), method, action, fields, options });
    }
    out
}

/// A plausible value for an empty field, so that mutations reach past "Enter a name".
fn plausible(name: &str, n: usize) -> String {
    match name {
        "name" | "firm" => format!("Fuzz Name {n}"),
        "email" | "emails" => format!("fuzz{n}@client.test"),
        "description" => "Fuzz payment".into(),
        "amount" => "12.34".into(),
        "date" | "on" => "2026-01-02".into(),
        "password" | "current_password" | "new_password" => PASSWORD.into(),
        _ => String::new(),
    }
}

struct Ids {
    other: Vec<i64>,
}

const HOSTILE_VALUES: &[&str] = &[
    "\u{0}",
    "a\u{0}b",
    "\u{7}\u{8}",
    "\u{1b}[31mred",
    "\u{7f}",
    "\u{85}",
    "line\nbreak",
    "\r\n\r\n",
    "\ttab",
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' OR 1=1 --",
    "1; DROP TABLE users; --",
    "Robert'); DELETE FROM invites; --",
    "Invoice \u{202e}gnp.exe",
    "\u{2066}Acme\u{2069}",
    "\u{200b}",
    "\u{200b}\u{200c}\u{200d}\u{feff}",
    "\u{3164}",
    "\"<img/src=x>\"@x.test",
    "\"a b\"@x.test",
    "a@b@c.test",
    "a@[127.0.0.1]",
    "name@example",
    "x@xn--.test",
    "-1",
    "0",
    "-9223372036854775808",
    "9223372036854775807",
    "99999999999999999999999",
    "1e3",
    "0x10",
    " 1 ",
    "1.5",
    "",
    "   ",
    "名前",
    "🙂🙂",
    "e\u{301}",
    "//evil.example",
    "/\t/evil.example/x",
    "/\\evil.example",
    "https://evil.example/x",
    "javascript:alert(1)",
    "%00",
    "%0a%0d",
    "../../etc/passwd",
    "admin",
    "owner",
    "on",
    "off",
    "true",
];

const NEXT_VALUES: &[&str] = &[
    "/%09/evil.example/x",
    "/\t/evil.example/x",
    "//evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "https://evil.example",
    "/x\n",
    "/x\u{0}",
    "/x\u{7f}",
    "\u{202e}/x",
];

/// Forms whose valid version would end a state the crawl depends on, or use up a link it
/// holds: they get only refused (malformed) versions.
fn guarded(action: &str) -> bool {
    // Removing people ends their part in the crawl.
    action.ends_with("/remove")
        // Tess keeps two-factor on.
        || action == "/account/two-factor/disable"
        // Una stays unverified; Bob's reset link and Eve's invite stay usable.
        || action.starts_with("/verify-email/")
        || action.starts_with("/password/reset/")
        || (action.starts_with("/invites/") && action.ends_with("/accept"))
}

/// One request to send.
struct Req {
    method: String,
    path: String,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    csrf: bool,
}

fn mutate_path(rng: &mut Rng, path: &str, ids: &Ids) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let numeric: Vec<usize> = segments
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        .map(|(i, _)| i)
        .collect();
    match rng.below(7) {
        0 | 1 if !numeric.is_empty() => {
            let i = *rng.pick(&numeric);
            let replacement = match rng.below(6) {
                0 => rng.pick(&ids.other).to_string(),
                1 => "-1".to_string(),
                2 => "0".to_string(),
                3 => "99999999999999999999".to_string(),
                4 => "9223372036854775807".to_string(),
                _ => "1%00".to_string(),
            };
            let mut s: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
            s[i] = replacement;
            s.join("/")
        }
        2 => format!("{path}%00"),
        3 => format!("{path}/..%2f..%2f"),
        4 => format!("{path}?next={}", enc(rng.pick::<&str>(NEXT_VALUES))),
        5 => format!("{path}%zz%"),
        _ => format!("{path}%ff%fe"),
    }
}

fn mutate(rng: &mut Rng, form: &Form, ids: &Ids, n: usize) -> Req {
    let mut fields: Vec<(String, Vec<u8>)> = form
        .fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| {
            let v = if v.is_empty() { plausible(k, n) } else { v.clone() };
            (k.clone(), v.into_bytes())
        })
        .collect();
    let mut path = form.action.clone();
    let mut csrf = !rng.chance(8);
    let mut content_type = "application/x-www-form-urlencoded";
    let mut raw_tail = String::new();
    let destructive = guarded(&form.action);
    let kinds = if destructive { 4 } else { 13 };
    match rng.below(kinds) {
        0 => csrf = false,
        1 => path = mutate_path(rng, &path, ids),
        2 => fields.push(("x".into(), rng.pick(&["\u{0}", "\u{1b}", "\u{7f}"]).as_bytes().to_vec())),
        3 => {
            if let Some(i) = (!fields.is_empty()).then(|| rng.below(fields.len())) {
                fields[i].1 = format!("{}\u{0}", String::from_utf8_lossy(&fields[i].1)).into_bytes();
            } else {
                csrf = false;
            }
        }
        4..=6 if !fields.is_empty() => {
            let i = rng.below(fields.len());
            fields[i].1 = rng.pick(HOSTILE_VALUES).as_bytes().to_vec();
            if rng.chance(30) && fields.len() > 1 {
                let j = rng.below(fields.len());
                fields[j].1 = rng.pick(HOSTILE_VALUES).as_bytes().to_vec();
            }
        }
        7 if !fields.is_empty() => {
            let i = rng.below(fields.len());
            fields.remove(i);
        }
        8 if !fields.is_empty() => {
            let i = rng.below(fields.len());
            let (k, _) = fields[i].clone();
            fields.push((k, rng.pick(HOSTILE_VALUES).as_bytes().to_vec()));
        }
        9 => {
            if !form.options.is_empty() && rng.chance(50) {
                let (k, v) = rng.pick(&form.options).clone();
                fields.push((k, v.into_bytes()));
            }
            let value = match rng.below(4) {
                0 => rng.pick(&ids.other).to_string(),
                1 => "-5".into(),
                2 => "18446744073709551616".into(),
                _ => "abc".into(),
            };
            let name =
                rng.pick(&["entity", "client", "invite", "role", "action", "all_entities", "new_clients", "user"]);
            fields.push((name.to_string(), value.into_bytes()));
        }
        10 => {
            let huge = if rng.chance(10) { 300 * 1024 } else { 70 * 1024 };
            if let Some(i) = (!fields.is_empty()).then(|| rng.below(fields.len())) {
                fields[i].1 = "x".repeat(huge).into_bytes();
            } else {
                fields.push(("x".into(), "x".repeat(huge).into_bytes()));
            }
        }
        11 => {
            raw_tail = rng.pick(&["&%zz=%", "&name=%ff%fe", "&%C0%AF=1", "&&&==&", "&name=%E2%80", "&a=%"]).to_string();
            if let Some(i) = (!fields.is_empty()).then(|| rng.below(fields.len())) {
                fields[i].1 = vec![0xff, 0xfe, b'x'];
            }
        }
        _ => {
            if rng.chance(50) {
                fields.push(("next".into(), rng.pick(NEXT_VALUES).as_bytes().to_vec()));
            } else {
                content_type = *rng.pick(&["text/plain", "multipart/form-data; boundary=x", "application/json"]);
            }
        }
    }
    // (`?next=…` after the address still reaches the same form.)
    if destructive && csrf && path.starts_with(&form.action) && raw_tail.is_empty() {
        // Still valid: make sure it is not (a control character is always refused).
        fields.push(("x".into(), b"\x00".to_vec()));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), v.iter().map(|b| format!("%{b:02X}")).collect::<String>()))
        .collect();
    if form.method == "get" {
        let query = body.join("&");
        return Req {
            method: "GET".into(),
            path: format!("{path}?{query}{raw_tail}"),
            body: None,
            content_type,
            csrf: false,
        };
    }
    let mut encoded = body.join("&");
    encoded.push_str(&raw_tail);
    Req { method: "POST".into(), path, body: Some(encoded.into_bytes()), content_type, csrf }
}
/// What must not change when a request is refused: the rows of the shared snapshot (the
/// outbox's delivery columns aside, which the worker changes on its own), the other tables
/// people write, and the identity columns and tables (verification, two-factor, recovery
/// codes, account links). Not `sessions` nor `rate_events`: a refused request legitimately
/// writes them (a session seen, a wrong code or a refused sign-in counted against a limit).
async fn state_of(app: &TestApp) -> Vec<String> {
    use chrono::NaiveDateTime as At;
    use diesel::prelude::*;
    use portico::db::schema::{
        account_tokens as at, entities as e, organizations as o, recovery_codes as rc, transactions as t, users as u,
        workspaces as w,
    };
    let mut lines: Vec<String> = app
        .snapshot()
        .await
        .0
        .into_iter()
        .map(|l| if l.starts_with("outbox ") { l.rsplitn(4, ' ').last().unwrap_or("").to_string() } else { l })
        .collect();
    let more = app
        .db
        .read(|c| {
            let mut lines = Vec::new();
            type UserLine = (i64, String, String, String, Option<At>, Option<String>, Option<At>, i64);
            for (id, email, name, hash, verified, secret, totp_on, step) in u::table
                .order(u::id)
                .select((
                    u::id,
                    u::email,
                    u::name,
                    u::password_hash,
                    u::email_verified_at,
                    u::totp_secret,
                    u::totp_enabled_at,
                    u::totp_last_step,
                ))
                .load::<UserLine>(c)?
            {
                lines.push(format!(
                    "users {id}: {email} {name} {hash} verified {verified:?} totp {secret:?} on {totp_on:?} step {step}"
                ));
            }
            for (id, name, since, days) in o::table
                .order(o::id)
                .select((o::id, o::name, o::require_2fa_since, o::require_2fa_grace_days))
                .load::<(i64, String, Option<At>, i32)>(c)?
            {
                lines.push(format!("organizations {id}: {name} 2fa {since:?} {days}"));
            }
            for (id, name, since, days) in w::table
                .order(w::id)
                .select((w::id, w::name, w::require_2fa_since, w::require_2fa_grace_days))
                .load::<(i64, String, Option<At>, i32)>(c)?
            {
                lines.push(format!("workspaces {id}: {name} 2fa {since:?} {days}"));
            }
            for (id, ws, name) in
                e::table.order(e::id).select((e::id, e::workspace_id, e::name)).load::<(i64, i64, String)>(c)?
            {
                lines.push(format!("entities {id}: ws {ws} {name}"));
            }
            lines.push(format!("transactions: {}", t::table.count().get_result::<i64>(c)?));
            for (id, user, hash, used) in rc::table
                .order(rc::id)
                .select((rc::id, rc::user_id, rc::code_hash, rc::used_at))
                .load::<(i64, i64, String, Option<At>)>(c)?
            {
                lines.push(format!("recovery_codes {id}: user {user} {hash} used {used:?}"));
            }
            for (id, user, purpose, email, hash, expires, used) in at::table
                .order(at::id)
                .select((at::id, at::user_id, at::purpose, at::email, at::token_hash, at::expires_at, at::used_at))
                .load::<(i64, i64, String, String, String, At, Option<At>)>(c)?
            {
                lines
                    .push(format!("account_tokens {id}: user {user} {purpose} {email} {hash} {expires} used {used:?}"));
            }
            Ok(lines)
        })
        .await
        .expect("read state");
    lines.extend(more);
    lines
}

async fn send(user: &TestUser, req: &Req) -> (StatusCode, String) {
    let url = format!("{}{}", user.base, req.path);
    let r = if req.method == "GET" {
        user.client.get(&url).send().await
    } else {
        let mut body = Vec::new();
        if req.csrf {
            body.extend_from_slice(format!("csrf={}&", user.csrf().await).as_bytes());
        }
        body.extend_from_slice(req.body.as_deref().unwrap_or_default());
        user.client.post(&url).header("content-type", req.content_type).body(body).send().await
    };
    match r {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            (status, text)
        }
        // A client-side failure (the server cut a huge upload short): a refusal.
        Err(e) => (StatusCode::from_u16(499).unwrap(), e.to_string()),
    }
}

/// Crawls same-origin links from `starts` (at most `max` pages), collecting forms.
async fn crawl(user: &TestUser, starts: &[String], max: usize, logout: bool) -> (Vec<String>, Vec<Form>) {
    let mut seen = HashSet::new();
    let mut queue: VecDeque<String> = starts.iter().cloned().collect();
    let mut pages = Vec::new();
    let mut found = Vec::new();
    while let Some(path) = queue.pop_front() {
        if pages.len() >= max || !seen.insert(path.clone()) {
            continue;
        }
        let (status, body, at) = user.visit(&path).await;
        // 410: an expired invite's page, whose form asks for a new link.
        if status != StatusCode::OK && status != StatusCode::GONE {
            continue;
        }
        pages.push(at.clone());
        found.extend(forms(&body, &at).into_iter().filter(|f| logout || !f.action.starts_with("/logout")));
        for l in links(&body) {
            if !seen.contains(&l) {
                queue.push_back(l);
            }
        }
    }
    (pages, found)
}

/// How a crawler is signed in, and so how to sign it in again when a request ended its
/// session (a password change, "Sign out", a session ended by its id).
enum Login {
    Visitor,
    Password(&'static str),
    TwoFactor {
        email: &'static str,
        secret: String,
    },
    /// Past the password step of a two-factor account, waiting for the code.
    Pending(&'static str),
}

struct Person {
    name: &'static str,
    user: TestUser,
    login: Login,
    /// Pages the crawl starts from.
    starts: Vec<String>,
    /// Whether its "Log out" forms are sent: not for those whose way in spends a code.
    logout: bool,
}

impl Person {
    fn new(name: &'static str, user: TestUser, login: Login, starts: Vec<String>) -> Person {
        let logout = matches!(login, Login::Visitor | Login::Password(_));
        Person { name, user, login, starts, logout }
    }

    /// Still in the state it crawled in?
    async fn still_in(&self) -> bool {
        let signed_out =
            |r: &reqwest::Response| r.status() == StatusCode::SEE_OTHER && location(r).starts_with("/login");
        match self.login {
            Login::Visitor => signed_out(&self.user.get("/").await),
            Login::Password(_) | Login::TwoFactor { .. } => !signed_out(&self.user.get("/").await),
            Login::Pending(_) => self.user.get("/login/two-factor").await.status() == StatusCode::OK,
        }
    }

    async fn restore(&self) {
        match &self.login {
            Login::Visitor => {
                self.user.log_out().await;
            }
            Login::Password(email) => {
                self.user.log_in(email, PASSWORD).await;
            }
            Login::Pending(email) => {
                self.user.log_out().await;
                self.user.log_in(email, PASSWORD).await;
            }
            Login::TwoFactor { email, secret } => {
                // A code is good once: the next steps' codes, then the next window.
                for offset in [0, 1, 2] {
                    let r = self.user.log_in(email, PASSWORD).await;
                    if !location(&r).starts_with("/login/two-factor") {
                        return;
                    }
                    let r = self.user.post("/login/two-factor", &[("code", &totp(secret, offset.min(1)))]).await;
                    if r.status() == StatusCode::SEE_OTHER {
                        return;
                    }
                    if offset == 1 {
                        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
                    }
                }
                panic!("{email} could not sign in again");
            }
        }
    }
}

/// The code of the step `offset` steps from now (as the authenticator app would show).
fn totp(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().expect("base32 secret");
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).expect("a valid secret");
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    totp.generate(now.checked_add_signed(offset * 30).unwrap())
}

/// "Turn on" two-factor authentication: the secret the setup page shows.
async fn begin_two_factor(user: &TestUser) -> String {
    let r = user.post("/account/two-factor/setup", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "turn on: {}", r.status());
    let (_, html) = user.page("/account/two-factor/setup").await;
    let from = html.find("<code id=\"secret\">").expect("the secret on the setup page") + 18;
    html[from..from + html[from..].find("</code>").unwrap()].replace(' ', "")
}

/// Turns two-factor authentication on: the secret.
async fn turn_on_two_factor(user: &TestUser) -> String {
    let secret = begin_two_factor(user).await;
    let r = user.post("/account/two-factor/confirm", &[("code", &totp(&secret, 0)), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::OK, "confirming two-factor: {}", text_of(&r.text().await.unwrap_or_default()));
    secret
}

/// POST routes no crawled form has to reach, and why. Keep it short: every entry is a form
/// the hostile-input test does not cover.
const NOT_CRAWLED: &[&str] = &[];

/// The POST routes of the route table, as written there (`/orgs/{org}/team/{user}/remove`).
fn post_routes() -> Vec<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let table = std::fs::read_to_string(format!("{dir}/src/routes/mod.rs")).expect("the route table");
    let actions = std::fs::read_to_string(format!("{dir}/src/routes/invite_actions.rs")).expect("invite actions");
    let is_post = |rest: &str| rest.trim_start_matches([')', ',', ' ', '\n']).starts_with("web::post()");
    let mut routes = Vec::new();
    // `.route("/path", web::post().to(…))`
    for part in table.split(".route(").skip(1) {
        let Some((path, rest)) = part.trim_start().strip_prefix('"').and_then(|p| p.split_once('"')) else { continue };
        if is_post(rest) {
            routes.push(path.to_string());
        }
    }
    // `cfg.route(&format!("{base}/resend"), web::post()…)`, under each `invite_actions::routes(cfg, "base")`
    let suffixes: Vec<&str> = actions
        .split("format!(\"{base}")
        .skip(1)
        .filter_map(|p| p.split_once('"'))
        .filter(|(_, rest)| is_post(rest))
        .map(|(suffix, _)| suffix)
        .collect();
    for part in table.split("invite_actions::routes(cfg, \"").skip(1) {
        let base = part.split('"').next().unwrap_or_default();
        routes.extend(suffixes.iter().map(|s| format!("{base}{s}")));
    }
    // Every `web::post()` was read: a route written another way must not slip past.
    let posts = |text: &str| text.matches("web::post()").count();
    let bases = table.matches("invite_actions::routes(cfg, \"").count();
    assert_eq!(
        routes.len(),
        posts(&table) + bases * posts(&actions),
        "the route table has POST routes this test cannot read: {routes:?}"
    );
    routes
}

/// Whether a form's action (no query) is an address of `route` (`{name}` matches one segment).
fn matches_route(route: &str, action: &str) -> bool {
    let path = action.split('?').next().unwrap_or_default();
    let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
    r.len() == p.len()
        && r.iter().zip(&p).all(|(r, p)| if r.starts_with('{') && r.ends_with('}') { !p.is_empty() } else { r == p })
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_malformed_requests_across_every_form() {
    let seed: u64 = std::env::var("HOSTILE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let target: usize = std::env::var("HOSTILE_REQUESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.invites_per_user_per_hour = 40;
            s.login_failures_per_account_and_address = 1_000_000;
            s.login_failures_per_address = 1_000_000;
        },
        ..Options::default()
    })
    .await;
    let routes = post_routes();

    // Two firms; people of several roles in the first.
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    ada.add_entity(ws, "Acme Holdings").await;
    let r = ada
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-01-02"), ("description", "Opening"), ("amount", "10.00")],
        )
        .await;
    assert!(r.status().is_redirection() || r.status().is_success(), "a transaction: {}", r.status());
    let cleo = app.add_client_user(&ada, ws, "cleo@client.test", "admin", &[]).await;
    let acc = app.add_client_user(&ada, ws, "acc@client.test", "accountant", &[llc]).await;
    let mem = app.add_client_user(&ada, ws, "mem@client.test", "member", &[llc]).await;
    // With an end date: the Members page offers "Extend access" (its form is crawled too).
    let mem_id = app.user_id("mem@client.test").await;
    let ends = (portico::clock::today() + chrono::Duration::days(60)).format("%Y-%m-%d").to_string();
    let r = ada
        .post(
            &format!("/w/{ws}/settings/members/{mem_id}/permissions"),
            &[("role", "member"), ("entity", &llc.to_string()), ("ends", &ends)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "an end date for mem");
    let team_invite = |email: &'static str| {
        let ada = &ada;
        async move {
            let fields = [("emails", email), ("role", "manager"), ("client", &ws.to_string())];
            let r = ada.post(&format!("/orgs/{org}/team/invite"), &fields).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "team invite: {}", text_of(&r.text().await.unwrap()));
        }
    };
    team_invite("sam@firm.test").await;
    let sam_link = app.invite_link("sam@firm.test", 1).await;
    let sam = app.accept_as_new_user(&sam_link, "Sam Staff").await;
    // Pending invites, to a client and to the team, so that their pages and ⋯ actions are
    // there to find.
    assert_eq!(ada.invite(ws, "pending@client.test", "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
    let pending_link = app.invite_link("pending@client.test", 1).await;
    let pending_path = pending_link.trim_start_matches(&app.base).to_string();
    team_invite("later@firm.test").await;
    // Expired ones too, whose ⋯ menu offers "Renew and copy link" instead of a dead link.
    assert_eq!(ada.invite(ws, "expired@client.test", "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
    team_invite("expired@firm.test").await;
    for email in ["expired@client.test", "expired@firm.test"] {
        let id = app.invite_record(email).await.id;
        app.set_invite_times(id, Some(now() - chrono::Duration::days(1)), None).await;
    }
    // Ada on a second device: Security lists it with "Sign out", and "Sign out all other sessions".
    let ada_phone = app.visitor();
    assert_eq!(ada_phone.log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let (bob, org_b) = app.sign_up("Bob Other", "bob@other.test", "Other Firm").await;
    let ws_b = bob.add_client(org_b, "Beta Books").await;
    let entity_b = bob.add_entity(ws_b, "Beta LLC").await;
    assert_eq!(bob.invite(ws_b, "pat@beta.test", "member", &[entity_b]).await.status(), StatusCode::SEE_OTHER);
    let bob_id = app.user_id("bob@other.test").await;
    let invite_b = app.invite_records("pat@beta.test").await[0].id;
    let bob_session = {
        use diesel::prelude::*;
        use portico::db::schema::sessions as s;
        app.db
            .read(move |c| s::table.filter(s::user_id.eq(bob_id)).select(s::id).first::<i64>(c))
            .await
            .expect("Bob's session")
    };
    let ids = Ids { other: vec![org_b, ws_b, entity_b, bob_id, invite_b, bob_session] };

    // Someone asked to reset Bob's password: a visitor holds the emailed link.
    let visitor = app.visitor();
    assert_eq!(visitor.post("/password/forgot", &[("email", "bob@other.test")]).await.status(), StatusCode::SEE_OTHER);
    let reset_mail = app.smtp.wait_for_subject("bob@other.test", "Choose a new Portico password").await;
    let reset_path = reset_mail.link(&format!("{}/password/reset/", app.base)).expect("a reset link");
    let reset_path = reset_path.trim_start_matches(&app.base).to_string();
    // …and an expired invite's link, whose page offers "Send me a new link".
    assert_eq!(ada.invite(ws, "old@client.test", "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
    let expired_path = app.invite_link("old@client.test", 1).await.trim_start_matches(&app.base).to_string();
    let old = app.invite_record("old@client.test").await.id;
    app.set_invite_times(old, Some(crate::support::now() - chrono::Duration::hours(1)), None).await;

    // Eve has an account (confirmed) and an invite waiting: she sees "Accept invite".
    let (eve, _) = app.sign_up("Eve Early", "eve@client.test", "Early Books").await;
    assert_eq!(ada.invite(ws, "eve@client.test", "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
    let eve_invite = app.invite_link("eve@client.test", 1).await.trim_start_matches(&app.base).to_string();

    // Una has not confirmed her address: "Send it again" on every page, and the emailed link.
    let (una, _) = app.sign_up_unconfirmed("Una Unconfirmed", "una@client.test", "Una Books").await;
    let confirm_mail = app.smtp.wait_for_subject("una@client.test", "Confirm your email address for Portico").await;
    let confirm_path = confirm_mail.link(&format!("{}/verify-email/", app.base)).expect("a confirmation link");
    let confirm_path = confirm_path.trim_start_matches(&app.base).to_string();

    // Tess has two-factor on; Uma pressed "Turn on" and has the setup page; a visitor is
    // past Tom's password and at the code step (Tom, not Tess, so that the wrong codes sent
    // there never keep Tess out).
    let (tess, _) = app.sign_up("Tess Two", "tess@firm2.test", "Two Step").await;
    let tess_secret = turn_on_two_factor(&tess).await;
    let (uma, _) = app.sign_up("Uma Setup", "uma@firm3.test", "Setup Co").await;
    begin_two_factor(&uma).await;
    let (tom, _) = app.sign_up("Tom Codes", "tom@firm4.test", "Code Co").await;
    turn_on_two_factor(&tom).await;
    let halfway = app.visitor();
    let r = halfway.log_in("tom@firm4.test", PASSWORD).await;
    assert!(location(&r).starts_with("/login/two-factor"), "the code step: {}", location(&r));

    let common = ["/", "/login", "/signup", "/account/security", pending_path.as_str()];
    let with = |more: &[&str]| common.iter().chain(more).map(|s| s.to_string()).collect::<Vec<String>>();
    let people = vec![
        Person::new("ada", ada, Login::Password("ada@firm.test"), with(&[])),
        Person::new("cleo", cleo, Login::Password("cleo@client.test"), with(&[])),
        Person::new("acc", acc, Login::Password("acc@client.test"), with(&[])),
        Person::new("mem", mem, Login::Password("mem@client.test"), with(&[])),
        Person::new("sam", sam, Login::Password("sam@firm.test"), with(&[])),
        Person::new("eve", eve, Login::Password("eve@client.test"), with(&[&eve_invite])),
        Person::new("una", una, Login::Password("una@client.test"), with(&[&confirm_path])),
        Person::new(
            "tess",
            tess,
            Login::TwoFactor { email: "tess@firm2.test", secret: tess_secret },
            with(&["/account/two-factor"]),
        ),
        Person::new("uma", uma, Login::Password("uma@firm3.test"), with(&["/account/two-factor/setup"])),
        Person::new("halfway", halfway, Login::Pending("tom@firm4.test"), vec!["/login/two-factor".into()]),
        Person::new("visitor", visitor, Login::Visitor, with(&[&reset_path, "/password/forgot", &expired_path])),
    ];
    drop((bob, tom, ada_phone));

    // Crawl as each of them.
    let mut targets: Vec<(usize, Form)> = Vec::new();
    let mut links_of: Vec<Vec<String>> = Vec::new();
    let mut distinct = BTreeSet::new();
    for (i, p) in people.iter().enumerate() {
        let max = if matches!(p.login, Login::Pending(_)) { 1 } else { 60 };
        let (pages, found) = crawl(&p.user, &p.starts, max, p.logout).await;
        let mut mine = BTreeSet::new();
        for f in found {
            let names: BTreeSet<&str> = f.fields.iter().map(|(k, _)| k.as_str()).collect();
            let key = format!("{} {} {:?}", f.method, f.action, names);
            if mine.insert(key) {
                distinct.insert(format!(
                    "{} {}",
                    f.method,
                    f.action
                        .split('/')
                        .map(|s| if s.parse::<i64>().is_ok() {
                            "N"
                        } else if s.len() >= 40 {
                            "TOKEN"
                        } else {
                            s
                        })
                        .collect::<Vec<_>>()
                        .join("/")
                ));
                targets.push((i, f));
            }
        }
        println!("crawled as {}: {} pages, {} forms", p.name, pages.len(), mine.len());
        links_of.push(pages);
    }
    println!("distinct forms: {}\n  {}", distinct.len(), distinct.iter().cloned().collect::<Vec<_>>().join("\n  "));

    // Every POST route of the route table is reached by a crawled form.
    let route_of = |action: &str| routes.iter().find(|r| matches_route(r, action)).cloned();
    let reached: BTreeSet<String> =
        targets.iter().filter(|(_, f)| f.method == "post").filter_map(|(_, f)| route_of(&f.action)).collect();
    let missed: Vec<&String> =
        routes.iter().filter(|r| !reached.contains(*r) && !NOT_CRAWLED.contains(&r.as_str())).collect();
    assert!(
        missed.is_empty(),
        "POST routes no crawled form reaches (crawl them, or say why in NOT_CRAWLED): {missed:?}"
    );
    println!("POST routes in the route table: {}, reached by a crawled form: {}", routes.len(), reached.len());

    // Each route equally often (a page of members has a form per person; every page has
    // "Log out"), then one of its forms.
    let mut by_route: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, (_, f)) in targets.iter().enumerate() {
        by_route
            .entry(route_of(&f.action).unwrap_or_else(|| format!("{} {}", f.method, f.action)))
            .or_default()
            .push(k);
    }
    let by_route: Vec<Vec<usize>> = by_route.into_values().collect();

    // Send mutated requests; check each refused one against the database.
    let started = Instant::now();
    let (mut sent, mut refused, mut server_errors, mut changed_by_refused) = (0usize, 0usize, Vec::new(), Vec::new());
    let mut per_route: BTreeMap<String, BTreeMap<u16, usize>> =
        routes.iter().map(|r| (r.clone(), BTreeMap::new())).collect();
    let mut baseline = state_of(&app).await;
    let mut n = 0usize;
    while sent < target {
        n += 1;
        let (who, req, source, route) = if rng.chance(12) {
            // A crawled page with a mutated address.
            let i = rng.below(people.len());
            let Some(page) = (!links_of[i].is_empty()).then(|| rng.pick(&links_of[i]).clone()) else { continue };
            let path = mutate_path(&mut rng, &page, &ids);
            (i, Req { method: "GET".into(), path, body: None, content_type: "", csrf: false }, page, None)
        } else {
            let group = rng.pick(&by_route).as_slice();
            let (i, form) = targets[*rng.pick(group)].clone();
            let route = (form.method == "post").then(|| route_of(&form.action)).flatten();
            (i, mutate(&mut rng, &form, &ids, n), form.page.clone(), route)
        };
        let person = &people[who];
        let (status, body) = send(&person.user, &req).await;
        sent += 1;
        if status.is_server_error() {
            server_errors.push(format!(
                "{status} {} {} as {}: {}",
                req.method,
                req.path.chars().take(200).collect::<String>(),
                person.name,
                text_of(&body).chars().take(200).collect::<String>()
            ));
        }
        let now = state_of(&app).await;
        if let Some(answers) = route.and_then(|r| per_route.get_mut(&r)) {
            *answers.entry(status.as_u16()).or_default() += 1;
        }
        if status.is_client_error() {
            refused += 1;
            if now != baseline {
                let gone: Vec<&String> = baseline.iter().filter(|l| !now.contains(l)).collect();
                let new: Vec<&String> = now.iter().filter(|l| !baseline.contains(l)).collect();
                changed_by_refused.push(format!(
                    "{status} {} {} as {}: -{gone:?} +{new:?}",
                    req.method,
                    req.path.chars().take(200).collect::<String>(),
                    person.name
                ));
            }
        } else if req.method == "POST" {
            // It did something: make sure each crawler is still who it was, and holds its
            // session's CSRF token (a renewed session has a new one).
            if !person.still_in().await {
                person.restore().await;
            }
            let (_, page) = person.user.page(&source).await;
            if csrf_in(&page).is_none() {
                // The page is gone (an invite used up): any page with a form has the token.
                person.user.visit("/").await;
            }
        }
        baseline = now;
    }
    let elapsed = started.elapsed();
    println!("requests per POST route (sent: answers):");
    for (route, answers) in &per_route {
        let total: usize = answers.values().sum();
        let answers: Vec<String> = answers.iter().map(|(status, n)| format!("{status}×{n}")).collect();
        println!("  POST {route}: {total}: {}", answers.join(" "));
    }
    println!(
        "hostile input (seed {seed}): {sent} requests sent, {refused} refused (4xx), {} 5xx, {} rows changed by refused requests, in {:.1} s",
        server_errors.len(),
        changed_by_refused.len(),
        elapsed.as_secs_f64()
    );
    assert!(server_errors.is_empty(), "{} answers were 5xx:\n{}", server_errors.len(), server_errors.join("\n"));
    assert!(changed_by_refused.is_empty(), "refused requests changed rows:\n{}", changed_by_refused.join("\n"));
    assert!(sent >= 5000 || target < 5000);
}
