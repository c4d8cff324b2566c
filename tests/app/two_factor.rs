//! Two-factor authentication: turning it on with a code, signing in with a code or a
//! recovery code (each once), turning it off with the password, the firm's and workspace's
//! "Require two-factor authentication" on every way in, and the 2FA badge on the lists.
//! Codes are computed here, with totp-rs, from the secret the setup page shows.

use reqwest::StatusCode;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{firm_with_a_client, location, row, spawn_app, text_of, TestApp, TestUser, PASSWORD};

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The code of the step `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().expect("base32 secret");
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).expect("a valid secret");
    totp.generate(unix_now().checked_add_signed(offset * 30).unwrap())
}

/// A 6-digit code that is none of the codes accepted now.
fn wrong_code(secret: &str) -> String {
    let right: Vec<String> = (-1..=1).map(|o| code(secret, o)).collect();
    (0..).map(|n| format!("{:06}", (n * 7919) % 1_000_000)).find(|c| !right.contains(c)).unwrap()
}

/// What is between `start` and the next `end` after it.
fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

fn recovery_codes_in(html: &str) -> Vec<String> {
    let list = between(html, "aria-label=\"Recovery codes\">", "</ul>").expect("the recovery codes");
    list.split("<code>").skip(1).filter_map(|s| s.split("</code>").next()).map(String::from).collect()
}

/// Turn on → the setup page's secret (without spaces).
async fn start_setup(user: &TestUser) -> String {
    let (status, _) = user.page("/account/two-factor").await;
    assert_eq!(status, StatusCode::OK);
    let r = user.post("/account/two-factor/setup", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/account/two-factor/setup"), "{}", location(&r));
    let (status, html) = user.page("/account/two-factor/setup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<img src=\"data:image/svg+xml;base64,"), "a QR code as an SVG data: image");
    between(&html, "<code id=\"secret\">", "</code>").expect("the secret on the page").replace(' ', "")
}

/// The setup form posted: the current password and a code.
async fn confirm(user: &TestUser, password: &str, code: &str) -> reqwest::Response {
    user.post("/account/two-factor/confirm", &[("password", password), ("code", code)]).await
}

/// Turns two-factor on: the secret and the ten recovery codes.
async fn turn_on(user: &TestUser) -> (String, Vec<String>) {
    let secret = start_setup(user).await;
    let r = confirm(user, PASSWORD, &code(&secret, 0)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let codes = recovery_codes_in(&html);
    assert_eq!(codes.len(), 10, "{}", text_of(&html));
    // The session has a new key (and CSRF token) now.
    user.page("/account/two-factor").await;
    (secret, codes)
}

/// How many sessions of `user` the database holds.
async fn session_rows(app: &TestApp, user: i64) -> i64 {
    use diesel::prelude::*;
    use portico::db::schema::sessions as s;
    app.db.read(move |c| s::table.filter(s::user_id.eq(user)).count().get_result::<i64>(c)).await.unwrap()
}

async fn rate_events(app: &TestApp, scope: &'static str) -> i64 {
    use diesel::prelude::*;
    use portico::db::schema::rate_events as r;
    app.db.read(move |c| r::table.filter(r::scope.eq(scope)).count().get_result::<i64>(c)).await.unwrap()
}

/// Password, then the held session: where it sends them.
async fn password_step(user: &TestUser, email: &str, next: &str) -> String {
    let token = user.csrf().await;
    let r =
        user.post_raw("/login", &[("csrf", &token), ("email", email), ("password", PASSWORD), ("next", next)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

/// The code step: the answer's status and where it goes (or its page's text).
async fn code_step(user: &TestUser, code: &str, next: &str) -> (StatusCode, String) {
    let (_, page) = user.page(&format!("/login/two-factor?next={}", urlencode(next))).await;
    assert!(page.contains("Two-factor authentication"), "{}", text_of(&page));
    let r = user.post("/login/two-factor", &[("code", code), ("next", next)]).await;
    let status = r.status();
    let out = if status == StatusCode::SEE_OTHER { location(&r) } else { text_of(&r.text().await.unwrap()) };
    // A new session after signing in: pick up its token.
    user.page("/account/two-factor").await;
    (status, out)
}

fn urlencode(s: &str) -> String {
    s.replace('/', "%2F")
}

struct Stored {
    secret: Option<String>,
    enabled: bool,
    codes: Vec<(String, bool)>,
}

async fn stored(app: &TestApp, user: i64) -> Stored {
    use diesel::prelude::*;
    use portico::db::schema::{recovery_codes as rc, users as u};
    let (secret, enabled, codes) = app
        .db
        .read(move |c| {
            let (secret, enabled) = u::table
                .find(user)
                .select((u::totp_secret, u::totp_enabled_at.is_not_null()))
                .first::<(Option<String>, bool)>(c)?;
            let codes = rc::table
                .filter(rc::user_id.eq(user))
                .select((rc::code_hash, rc::used_at.is_not_null()))
                .load::<(String, bool)>(c)?;
            Ok((secret, enabled, codes))
        })
        .await
        .unwrap();
    Stored { secret, enabled, codes }
}

#[tokio::test]
async fn setup_needs_a_valid_code_then_sign_in_needs_one_once() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let id = app.user_id("ada@firm.test").await;
    let (_, html) = ada.page("/account/two-factor").await;
    assert!(text_of(&html).contains("Off"));

    // Setup needs a code that is right now.
    let secret = start_setup(&ada).await;
    assert_eq!(secret.len(), 32, "160 bits of base32");
    for bad in [wrong_code(&secret), "".into(), "abcdef".into(), "12345".into()] {
        let r = confirm(&ada, PASSWORD, &bad).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let html = r.text().await.unwrap();
        assert!(text_of(&html).contains("That code is not right"), "{}", text_of(&html));
        assert!(html.contains(&format!("value=\"{bad}\"")), "the code typed stays in the field");
    }
    let s = stored(&app, id).await;
    assert!(!s.enabled && s.codes.is_empty(), "a wrong code turns nothing on");
    let sealed = s.secret.expect("the secret being set up is stored");
    assert!(!sealed.contains(&secret), "stored encrypted, not as the secret");

    let r = confirm(&ada, PASSWORD, &code(&secret, 0)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let recovery = recovery_codes_in(&r.text().await.unwrap());
    assert_eq!(recovery.len(), 10);
    let s = stored(&app, id).await;
    assert!(s.enabled);
    assert_eq!(s.codes.len(), 10);
    for c in &recovery {
        assert!(c.len() >= 16, "80 bits or more: {c}");
        assert!(s.codes.iter().all(|(h, _)| !h.contains(c.as_str()) && !h.contains(&c.replace('-', ""))));
    }
    let secret_now = s.secret.unwrap();
    assert!(!secret_now.contains(&secret) && !secret_now.to_uppercase().contains(&secret));
    // Shown once: the status page has no codes.
    let (_, html) = ada.page("/account/two-factor").await;
    assert!(!html.contains(&recovery[0]));
    assert!(text_of(&html).contains("10 of 10 recovery codes left"));

    // Sign-in now needs a code, and keeps where they were going.
    ada.log_out().await;
    let next = format!("/orgs/{org}/team");
    let to = password_step(&ada, "ada@firm.test", &next).await;
    assert!(to.starts_with("/login/two-factor"), "{to}");
    let r = ada.get(&next).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not signed in by the password alone");
    assert!(location(&r).starts_with("/login"));
    let (status, text) = code_step(&ada, &wrong_code(&secret), &next).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("That code is not right"), "{text}");
    assert_eq!(ada.get(&next).await.status(), StatusCode::SEE_OTHER, "still not signed in");
    // The setup code's step is used up; the next step's code works, once.
    let (status, to) = code_step(&ada, &code(&secret, 0), &next).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the code used to turn it on does not work again: {to}");
    let fresh = code(&secret, 1);
    let (status, to) = code_step(&ada, &fresh, &next).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, next.as_str()));
    assert_eq!(ada.get(&next).await.status(), StatusCode::OK);

    ada.log_out().await;
    password_step(&ada, "ada@firm.test", "").await;
    let (status, text) = code_step(&ada, &fresh, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the same code twice: {text}");

    // A recovery code works, once (any case, with or without dashes).
    let (status, to) = code_step(&ada, &recovery[3].to_lowercase(), "").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    let s = stored(&app, id).await;
    assert_eq!(s.codes.iter().filter(|(_, used)| *used).count(), 1);
    ada.log_out().await;
    password_step(&ada, "ada@firm.test", "").await;
    let (status, _) = code_step(&ada, &recovery[3].replace('-', ""), "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a recovery code works once");
    let (status, _) = code_step(&ada, &recovery[4], "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_codes_are_limited_per_account() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (secret, recovery) = turn_on(&ada).await;
    ada.log_out().await;
    password_step(&ada, "ada@firm.test", "").await;
    for _ in 0..5 {
        let (status, _) = code_step(&ada, &wrong_code(&secret), "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Past the limit even a right code is refused, with a clear message.
    let (status, text) = code_step(&ada, &recovery[0], "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(text.contains("The limit of 5 wrong two-factor codes per 5 minutes is reached"), "{text}");
    let id = app.user_id("ada@firm.test").await;
    assert!(stored(&app, id).await.codes.iter().all(|(_, used)| !used), "the refused recovery code is unused");
}

/// A stolen session alone cannot turn two-factor on (and so lock the owner out: a password
/// reset keeps it on); the owner turning it on signs out every other session.
#[tokio::test(flavor = "multi_thread")]
async fn turning_on_needs_the_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let id = app.user_id("ada@firm.test").await;
    let laptop = app.visitor();
    assert_eq!(laptop.log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/account/security").await.status(), StatusCode::OK);
    assert_eq!(session_rows(&app, id).await, 2);

    let secret = start_setup(&ada).await;
    let right = code(&secret, 0);
    for wrong in ["", "not my password"] {
        let r = confirm(&ada, wrong, &right).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{wrong:?}");
        let html = r.text().await.unwrap();
        assert!(text_of(&html).contains("That password is not right"), "{}", text_of(&html));
        assert!(html.contains(&format!("value=\"{right}\"")), "the code typed stays in the field");
        assert!(wrong.is_empty() || !html.contains(wrong), "the password is never shown again");
    }
    let s = stored(&app, id).await;
    assert!(!s.enabled && s.codes.is_empty(), "a wrong password turns nothing on");
    assert_eq!(session_rows(&app, id).await, 2, "no session ended");
    assert_eq!(laptop.get("/account/security").await.status(), StatusCode::OK);
    assert_eq!(rate_events(&app, "two_factor_password/user").await, 2, "wrong passwords are counted");

    // The same code still works (it was not used up): on, and the laptop is signed out.
    let r = confirm(&ada, PASSWORD, &right).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(recovery_codes_in(&r.text().await.unwrap()).len(), 10);
    assert!(stored(&app, id).await.enabled);
    assert_eq!(session_rows(&app, id).await, 1, "only this session is left");
    let r = laptop.get("/account/security").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let (status, html) = ada.page("/account/two-factor").await;
    assert_eq!(status, StatusCode::OK, "this session goes on");
    assert!(text_of(&html).contains("10 of 10 recovery codes left"));
    assert_eq!(rate_events(&app, "two_factor_password/user").await, 2, "the right password is not counted");
}

/// Many guesses at once on the setup form: no more passwords are checked than the limit
/// allows, and nothing is turned on.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_password_guesses_on_setup_stay_within_the_limit() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let id = app.user_id("ada@firm.test").await;
    let secret = start_setup(&ada).await;
    let right = code(&secret, 0);
    let guesses: Vec<String> = (0..20).map(|i| format!("guess number {i}")).collect();
    let answers = futures::future::join_all(guesses.iter().map(|g| confirm(&ada, g, &right))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert!(checked <= 5, "at most 5 passwords checked, got {checked}: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 20 - checked);
    assert!(rate_events(&app, "two_factor_password/user").await <= 5);
    // Past the limit even the right password is refused, and nothing turns on.
    let r = confirm(&ada, PASSWORD, &right).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("The limit of 5 wrong passwords per 5 minutes is reached"), "{text}");
    let s = stored(&app, id).await;
    assert!(!s.enabled && s.codes.is_empty());
}

#[tokio::test]
async fn turning_off_and_new_codes_need_the_password() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let id = app.user_id("ada@firm.test").await;
    let (_, old) = turn_on(&ada).await;
    let before = stored(&app, id).await;

    let r = ada.post("/account/two-factor/disable", &[("password", "not my password")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("That password is not right"));
    let r = ada.post("/account/two-factor/recovery-codes", &[("password", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = stored(&app, id).await;
    assert!(after.enabled);
    assert_eq!(after.secret, before.secret);
    assert_eq!(after.codes, before.codes, "nothing changed");

    let r = ada.post("/account/two-factor/recovery-codes", &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let new = recovery_codes_in(&r.text().await.unwrap());
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    let codes = stored(&app, id).await.codes;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| !before.codes.contains(c)), "the old codes are gone");

    let r = ada.post("/account/two-factor/disable", &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let s = stored(&app, id).await;
    assert!(!s.enabled && s.secret.is_none() && s.codes.is_empty());
    ada.log_out().await;
    assert_eq!(password_step(&ada, "ada@firm.test", "").await, "/", "the password alone signs in again");
}

async fn requirement(
    app: &TestApp,
    org: i64,
    ws: i64,
) -> (Option<chrono::NaiveDateTime>, i32, Option<chrono::NaiveDateTime>, i32) {
    use diesel::prelude::*;
    use portico::db::schema::{organizations as o, workspaces as w};
    app.db
        .read(move |c| {
            let (os, og) = o::table.find(org).select((o::require_2fa_since, o::require_2fa_grace_days)).first(c)?;
            let (ws_, wg) = w::table.find(ws).select((w::require_2fa_since, w::require_2fa_grace_days)).first(c)?;
            Ok((os, og, ws_, wg))
        })
        .await
        .unwrap()
}

fn require(days: &str) -> Vec<(&'static str, String)> {
    vec![("required", "yes".into()), ("grace_days", days.into())]
}

async fn set(user: &TestUser, path: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    user.post(path, &f).await
}

#[tokio::test]
async fn the_firm_requirement_reaches_staff_on_firm_and_client_pages() {
    let f = firm_with_a_client().await;
    let (app, org, ws) = (&f.app, f.org, f.ws);
    // Bob, firm Member with this client, signed in before the setting.
    let (bob, bob_org) = app.sign_up("Bob Staff", "bob@firm.test", "Bob's own firm").await;
    let bob_id = app.user_id("bob@firm.test").await;
    app.add_to_team(org, bob_id, "member").await;
    app.grant_client(org, bob_id, ws).await;
    let (clients, books) = (format!("/orgs/{org}/clients"), format!("/w/{ws}/entities"));
    assert_eq!(bob.get(&clients).await.status(), StatusCode::OK);

    // Ada, the firm's Admin, turns it on for herself, then requires it with 7 days' grace.
    turn_on(&f.ada).await;
    let (status, html) = f.ada.page(&format!("/orgs/{org}/settings/security")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Require two-factor authentication"));
    let (_, side) = f.ada.page(&clients).await;
    assert!(side.contains(&format!("href=\"/orgs/{org}/settings/security\"")), "linked from the firm sidebar");
    // A bad grace period re-renders the form with what was typed; nothing saved.
    let r = set(&f.ada, &format!("/orgs/{org}/settings/security"), &require("31")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(text_of(&html).contains("Enter a number of days from 0 to 30"));
    assert!(html.contains("value=\"31\""));
    assert_eq!(requirement(app, org, ws).await.0, None);

    let r = set(&f.ada, &format!("/orgs/{org}/settings/security"), &require("7")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (since, grace, ..) = requirement(app, org, ws).await;
    assert!(since.is_some());
    assert_eq!(grace, 7);
    // Within the grace period: in, with a notice and its date.
    for path in [&clients, &books] {
        let (status, html) = bob.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = text_of(&html);
        assert!(
            text.contains("Ames & Co requires two-factor authentication. Turn it on in 7 days (by"),
            "{path}: {text}"
        );
        let deadline = (since.unwrap() + chrono::Duration::days(7)).format("%Y-%m-%d").to_string();
        assert!(text.contains(&deadline), "{text}");
    }

    // Grace 0: sent to set it up, on firm and client pages alike (the same session).
    let r = set(&f.ada, &format!("/orgs/{org}/settings/security"), &require("0")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(requirement(app, org, ws).await.0, since, "changing the grace period keeps 'since'");
    for path in [&clients, &books, &format!("/w/{ws}/entities/{}", f.llc), &format!("/orgs/{org}/invites")] {
        let r = bob.get(path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&r).starts_with("/account/two-factor?next="), "{path}: {}", location(&r));
    }
    let (status, html, at) = bob.visit(&books).await;
    assert_eq!(status, StatusCode::OK);
    assert!(at.starts_with("/account/two-factor"));
    assert!(text_of(&html).contains("Ames & Co requires two-factor authentication. Turn it on to continue."));
    // A POST is refused the same way, and does nothing.
    let r = bob.post(&format!("/w/{ws}/entities"), &[("name", "Sneaky Ltd")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/account/two-factor"));
    let (_, list) = f.ada.page(&format!("/w/{ws}/entities")).await;
    assert!(!list.contains("Sneaky Ltd"));
    // Bob's own firm does not require it.
    assert_eq!(bob.get(&format!("/orgs/{bob_org}/clients")).await.status(), StatusCode::OK);
    // Once on, back in.
    turn_on(&bob).await;
    assert_eq!(bob.get(&clients).await.status(), StatusCode::OK);
    assert_eq!(bob.get(&books).await.status(), StatusCode::OK);
    let r = set(&f.ada, &format!("/orgs/{org}/settings/security"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(requirement(app, org, ws).await.0, None, "turned off");
    assert_eq!(requirement(app, org, ws).await.1, 0);
}

#[tokio::test]
async fn the_workspace_requirement_applies_to_client_users_and_after_an_invite() {
    let f = firm_with_a_client().await;
    let (app, org, ws) = (&f.app, f.org, f.ws);
    let (cleo, _) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let books = format!("/w/{ws}/entities");
    turn_on(&f.ada).await;
    let security = format!("/w/{ws}/settings/security");
    let (_, members) = f.ada.page(&f.members()).await;
    assert!(members.contains(&format!("href=\"{security}\"")), "linked from the workspace Settings");
    let r = set(&f.ada, &security, &require("0")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (org_since, _, ws_since, ws_grace) = requirement(app, org, ws).await;
    assert!(org_since.is_none() && ws_since.is_some() && ws_grace == 0);
    let (_, activity) = f.ada.page(&format!("/w/{ws}/settings/activity")).await;
    assert!(text_of(&activity).contains("changed the two-factor requirement of Acme Bakery"), "{}", text_of(&activity));

    // The client user, with a session from before: sent to set it up.
    let r = cleo.get(&books).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/account/two-factor"));
    // Accepting an invite lands in the workspace, which sends them to set it up.
    let dan_link = f.invite("dan@client.test", "member", &[f.llc]).await;
    let dan = app.visitor();
    dan.page(&dan_link).await;
    let r = dan.invite_post(&dan_link, "register", &[("name", "Dan Client"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let landing = location(&r);
    assert_eq!(landing, books);
    let r = dan.get(&landing).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "straight after accepting the invite");
    assert!(location(&r).starts_with("/account/two-factor"));
    // A grace period lets them in with the notice.
    let r = set(&f.ada, &security, &require("5")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = cleo.page(&books).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&html).contains("Acme Bakery requires two-factor authentication. Turn it on in 5 days (by"));
    // Signing in with password and code lands where they were going.
    let (_, _) = turn_on(&cleo).await;
    cleo.log_out().await;
    let to = password_step(&cleo, "cleo@client.test", &books).await;
    assert!(to.starts_with("/login/two-factor"));
}

#[tokio::test]
async fn only_admins_change_the_requirement() {
    let f = firm_with_a_client().await;
    let (app, org, ws) = (&f.app, f.org, f.ws);
    let (manager, _) = app.sign_up("Meg Manager", "meg@firm.test", "Meg's firm").await;
    app.add_to_team(org, app.user_id("meg@firm.test").await, "manager").await;
    let (member, _) = app.sign_up("Max Member", "max@firm.test", "Max's firm").await;
    let max = app.user_id("max@firm.test").await;
    app.add_to_team(org, max, "member").await;
    app.grant_client(org, max, ws).await;
    let (accountant, _) = f.client_user("carl@client.test", "Carl Accountant", "accountant", &[f.llc]).await;
    let (outsider, other_org) = app.sign_up("Olga Other", "olga@other.test", "Other & Co").await;
    let other_ws = outsider.add_client(other_org, "Other Client").await;

    let firm = format!("/orgs/{org}/settings/security");
    let workspace = format!("/w/{ws}/settings/security");
    let before = (requirement(app, org, ws).await, app.snapshot().await);
    let cases: [(&TestUser, &str, StatusCode); 7] = [
        (&manager, &firm, StatusCode::FORBIDDEN),
        (&member, &firm, StatusCode::FORBIDDEN),
        (&outsider, &firm, StatusCode::NOT_FOUND),
        (&accountant, &workspace, StatusCode::FORBIDDEN),
        (&member, &workspace, StatusCode::FORBIDDEN),
        (&outsider, &workspace, StatusCode::NOT_FOUND),
        (&accountant, &firm, StatusCode::NOT_FOUND),
    ];
    for (who, path, want) in cases {
        assert_eq!(who.get(path).await.status(), want, "GET {path}");
        for fields in [require("0"), require("99")] {
            let r = set(who, path, &fields).await;
            assert_eq!(r.status(), want, "POST {path}");
        }
    }
    // Their own firm's is theirs to change; this firm's is not changed.
    assert_eq!(
        set(&outsider, &format!("/w/{other_ws}/settings/security"), &require("3")).await.status(),
        StatusCode::SEE_OTHER
    );
    let after = requirement(app, org, ws).await;
    assert_eq!(after, before.0, "nothing changed");
    let snap = app.snapshot().await;
    let diff = before.1.diff(&snap);
    assert!(diff.lines().all(|l| l.contains("Other Client")), "only the other firm's own change: {diff}");
    // The sidebar offers Security to the firm's Admin only.
    let (_, html) = manager.page(&format!("/orgs/{org}/clients")).await;
    assert!(!html.contains(&firm));
}

#[tokio::test]
async fn members_and_team_show_who_has_two_factor_on() {
    let f = firm_with_a_client().await;
    let (app, org) = (&f.app, f.org);
    let (cleo, _) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    f.client_user("carl@client.test", "Carl Accountant", "accountant", &[f.llc]).await;
    f.invite("pending@client.test", "member", &[f.llc]).await;
    app.sign_up("Bob Staff", "bob@firm.test", "Bob's firm").await;
    app.add_to_team(org, app.user_id("bob@firm.test").await, "manager").await;
    turn_on(&f.ada).await;
    turn_on(&cleo).await;

    // The least of a few loads: the first shows (and so removes) a pending flash message,
    // a session write, and the outbox worker shares the pool.
    let (members_queries, html) = crate::queries::queries_of(app, &f.ada, &f.members()).await;
    assert!(row(&html, "ada@firm.test").contains("2FA"));
    assert!(row(&html, "cleo@client.test").contains("2FA"));
    assert!(!row(&html, "carl@client.test").contains("2FA"));
    assert!(!row(&html, "bob@firm.test").contains("2FA"));
    assert!(!row(&html, "pending@client.test").contains("2FA"), "no badge on a pending invite");
    let (_, team) = f.ada.page(&format!("/orgs/{org}/team")).await;
    assert!(row(&team, "ada@firm.test").contains("2FA"));
    assert!(!row(&team, "bob@firm.test").contains("2FA"));

    // No query per row: more people, the same number of queries.
    let (dora, _) = f.client_user("dora@client.test", "Dora Client", "member", &[f.llc]).await;
    turn_on(&dora).await;
    assert_eq!(crate::queries::queries_of(app, &f.ada, &f.members()).await.0, members_queries);
}

/// In Chromium: turn two-factor on from the page (the secret read off the page, the code
/// computed here), log out, log in with the password and then a code, and land on the page
/// the sign-in started from.
#[tokio::test(flavor = "multi_thread")]
async fn two_factor_in_the_browser() {
    if !installed_or_skip("two_factor") {
        return;
    }
    let app = spawn_app().await;
    let (_, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let b = Browser::start("two_factor").await;
    b.goto(&format!("{}/login", app.base)).await;
    b.fill("Email", "ada@firm.test").await;
    b.fill("Password", PASSWORD).await;
    b.click_text("Log in").await;
    b.wait_for_path("the firm", |p| p.starts_with("/orgs/")).await;
    b.click_text("Account").await;
    b.assert_heading("Security").await;
    b.click_text("Manage two-factor authentication").await;
    b.assert_heading("Two-factor authentication").await;
    b.click_text("Turn on").await;
    b.assert_heading("Set up two-factor authentication").await;
    b.screenshot("setup").await;
    let html = b.client.source().await.expect("page source");
    let secret = between(&html, "<code id=\"secret\">", "</code>").expect("the secret").replace(' ', "");
    b.fill("Code from the app", &code(&secret, 0)).await;
    b.fill("Current password", PASSWORD).await;
    b.click_text("Turn on two-factor authentication").await;
    b.assert_heading("Two-factor authentication is on").await;
    b.assert_text("Your recovery codes").await;
    b.screenshot("recovery-codes").await;
    b.click_text("I have saved them, continue").await;
    b.assert_text("10 of 10 recovery codes left").await;
    b.click_text("Log out").await;
    // Signed out before going on: otherwise the sign-out's answer can land after the next page.
    b.assert_text("You are logged out.").await;

    let team = format!("/orgs/{org}/team");
    b.goto(&format!("{}{team}", app.base)).await;
    b.wait_for_path("the sign-in page", |p| p.starts_with("/login?next=")).await;
    b.fill("Email", "ada@firm.test").await;
    b.fill("Password", PASSWORD).await;
    b.click_text("Log in").await;
    b.wait_for_path("the code step", |p| p.starts_with("/login/two-factor")).await;
    b.assert_heading("Two-factor authentication").await;
    b.screenshot("code-step").await;
    b.fill("Code", &code(&secret, 1)).await;
    b.click_text("Verify").await;
    b.assert_path(&team).await;
    b.assert_heading("Team").await;
    b.close().await;
}

/// A sign-in waiting for its code belongs to the account: ending the account's other
/// sessions (as a password reset or "Sign out other sessions" does) ends it too, so a code
/// typed afterwards opens nothing.
#[tokio::test(flavor = "multi_thread")]
async fn ending_the_accounts_sessions_ends_a_sign_in_waiting_for_its_code() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let id = app.user_id("ada@firm.test").await;
    let (secret, codes) = turn_on(&ada).await;
    let intruder = app.visitor();
    let to = password_step(&intruder, "ada@firm.test", "/").await;
    assert!(to.starts_with("/login/two-factor"), "{to}");
    assert_eq!(session_rows(&app, id).await, 2, "Ada's session and the one waiting for a code");
    let (_, page) = ada.page("/account/security").await;
    assert!(page.contains("Sign out other sessions"));
    assert_eq!(ada.post("/account/security/sessions/end-others", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_rows(&app, id).await, 1, "only Ada's own");
    // Neither a code nor a recovery code finishes the ended sign-in.
    for c in [code(&secret, 1), codes[0].clone()] {
        let r = intruder.post("/login/two-factor", &[("code", &c), ("next", "/")]).await;
        assert_ne!(r.status(), StatusCode::OK);
        let r = intruder.get("/account/security").await;
        assert!(location(&r).starts_with("/login"), "the intruder is not signed in");
    }
}

/// The password alone is not a sign-in: "last signed in" (the access report) moves only
/// when the code is given too.
#[tokio::test]
async fn the_password_step_alone_is_not_a_sign_in() {
    use diesel::prelude::*;
    use portico::db::schema::users;
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (secret, _) = turn_on(&ada).await;
    let last = || async {
        app.db
            .read(|c| {
                users::table
                    .filter(users::email.eq("ada@firm.test"))
                    .select(users::last_sign_in_at)
                    .first::<Option<chrono::NaiveDateTime>>(c)
            })
            .await
            .unwrap()
    };
    let before = last().await;
    let other = app.visitor();
    let to = password_step(&other, "ada@firm.test", "/").await;
    assert!(to.starts_with("/login/two-factor"), "{to}");
    assert_eq!(last().await, before, "held at the code step: not signed in");
    let (status, _) = code_step(&other, &code(&secret, 1), "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(last().await > before, "signed in with the code");
}
