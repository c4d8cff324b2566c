//! Server-side sessions and Account → Security: sign-out, password change, "Sign out other
//! sessions", ending one session, removal from one's last workspace, idle timeout and
//! absolute lifetime all end sessions at once, on every instance; the database holds no
//! usable cookie key.

use actix_web::cookie::{Cookie, CookieJar, Key};
use diesel::prelude::*;
use portico::db::schema::sessions;
use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{
    csrf_in, firm_with_a_client, location, now, spawn_app, spawn_app_with, text_of, Options, TestApp, TestUser,
    PASSWORD,
};

const SESSION_KEY: &str = "test-session-key-that-is-long-enough-for-portico-0123456789abcdef";

/// A session row: (id, key_hash, state, user_agent, ip, last_seen_at, expires_at).
type Row = (i64, String, String, String, String, chrono::NaiveDateTime, chrono::NaiveDateTime);

impl TestApp {
    /// The session rows of `user`, oldest first.
    async fn sessions_of(&self, user: i64) -> Vec<Row> {
        self.db
            .read(move |c| {
                sessions::table
                    .filter(sessions::user_id.eq(user))
                    .order(sessions::id)
                    .select((
                        sessions::id,
                        sessions::key_hash,
                        sessions::state,
                        sessions::user_agent,
                        sessions::ip,
                        sessions::last_seen_at,
                        sessions::expires_at,
                    ))
                    .load::<Row>(c)
            })
            .await
            .expect("read sessions")
    }

    async fn session_ids_of(&self, user: i64) -> Vec<i64> {
        self.sessions_of(user).await.into_iter().map(|r| r.0).collect()
    }

    /// Moves the times of a user's sessions (a test cannot wait hours).
    async fn age_sessions(&self, user: i64, last_seen: chrono::Duration, expires: chrono::Duration) {
        let (seen, exp) = (now() - last_seen, now() + expires);
        self.db
            .write(move |c| {
                diesel::update(sessions::table.filter(sessions::user_id.eq(user)))
                    .set((sessions::last_seen_at.eq(seen), sessions::expires_at.eq(exp)))
                    .execute(c)
            })
            .await
            .expect("age sessions");
    }

    async fn password_hash_of(&self, user: i64) -> String {
        use portico::db::schema::users;
        self.db
            .read(move |c| users::table.find(user).select(users::password_hash).first::<String>(c))
            .await
            .expect("read the password hash")
    }
}

/// The session cookie a response sets, as a `Cookie` header value (what a thief copies).
fn session_cookie(r: &Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("portico_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no session cookie set (status {})", r.status()))
}

/// The random key inside the (encrypted) cookie, as the server reads it.
fn key_in(cookie: &str) -> String {
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::parse_encoded(cookie.to_string()).expect("a cookie"));
    let key = Key::derive_from(SESSION_KEY.as_bytes());
    jar.private(&key).get("portico_session").expect("the cookie decrypts").value().to_string()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Someone holding a copy of a cookie, with no cookie jar of their own.
struct CookieCopy {
    client: reqwest::Client,
    cookie: String,
}

impl CookieCopy {
    fn of(cookie: &str) -> CookieCopy {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        CookieCopy { client, cookie: cookie.to_string() }
    }

    async fn get(&self, url: &str) -> Response {
        self.client.get(url).header("cookie", &self.cookie).send().await.expect("GET")
    }

    async fn post(&self, url: &str, body: String) -> Response {
        self.client
            .post(url)
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }
}

fn goes_to_login(r: &Response) -> bool {
    r.status() == StatusCode::SEE_OTHER && location(r).starts_with("/login")
}

/// A second sign-in of an existing account (another browser); the response sets its cookie.
async fn log_in_again(app: &TestApp, email: &str) -> (TestUser, Response) {
    let user = app.visitor();
    let r = user.log_in(email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signing in as {email}");
    (user, r)
}

async fn change_password(user: &TestUser, current: &str, new: &str) -> Response {
    user.post("/account/security/password", &[("current_password", current), ("new_password", new)]).await
}

async fn status(user: &TestUser, path: &str) -> StatusCode {
    user.get(path).await.status()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_copied_before_sign_out_opens_nothing_and_sends_no_invite_after() {
    let f = firm_with_a_client().await;
    let app = &f.app;
    let ada_id = app.user_id("ada@firm.test").await;
    let (ada2, r) = log_in_again(app, "ada@firm.test").await;
    let thief = CookieCopy::of(&session_cookie(&r));
    let members = format!("{}{}", app.base, f.members());

    // While the session lasts, the copy works (so the refusals below are the sign-out's doing).
    let page = thief.get(&members).await;
    assert_eq!(page.status(), StatusCode::OK);
    let token = csrf_in(&page.text().await.unwrap()).expect("a CSRF token");
    let invite = |email: &str| format!("csrf={token}&email={}&role=admin", email.replace('@', "%40"));
    let r = thief.post(&format!("{members}/invite"), invite("first@client.test")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    assert_eq!(app.invite_records("first@client.test").await.len(), 1);
    assert_eq!(app.session_ids_of(ada_id).await.len(), 2);

    let r = ada2.log_out().await;
    assert_eq!(location(&r), "/login");
    assert_eq!(app.session_ids_of(ada_id).await.len(), 1, "the signed-out session's row is gone");

    app.outbox_settled().await;
    let before = app.snapshot().await;
    let r = thief.get(&members).await;
    assert!(goes_to_login(&r), "a page after sign-out: {} {:?}", r.status(), r.headers().get("location"));
    let r = thief.get(&format!("{}/", app.base)).await;
    assert!(goes_to_login(&r), "home after sign-out");
    let r = thief.post(&format!("{members}/invite"), invite("second@client.test")).await;
    assert!(!r.status().is_success() && r.status() != StatusCode::SEE_OTHER, "invite after sign-out: {}", r.status());
    assert!(app.invite_records("second@client.test").await.is_empty(), "no invite row");
    assert_eq!(app.outbox_rows_to("second@client.test").await, 0, "no outbox row");
    assert_eq!(before.diff(&app.snapshot().await), "", "nothing changed");
    assert_eq!(app.session_ids_of(ada_id).await.len(), 1, "the copy did not bring the session back");
    // Ada's other browser is still signed in.
    assert_eq!(status(&f.ada, &f.members()).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_keeps_only_a_hash_of_the_cookie_key() {
    let app = spawn_app().await;
    app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let (_, r) = log_in_again(&app, "ada@firm.test").await;
    let key = key_in(&session_cookie(&r));
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &key).expect("base64url").len(),
        32,
        "a 256-bit key"
    );
    let rows = app.sessions_of(ada_id).await;
    assert_eq!(rows.len(), 2);
    let mine = rows.iter().find(|r| r.1 == sha256_hex(&key)).expect("a row found by the key's SHA-256");
    for (_, hash, state, ua, ip, _, _) in &rows {
        for column in [hash, state, ua, ip] {
            assert!(!column.contains(&key), "a column holds the raw key: {column}");
        }
    }
    assert!(mine.2.contains(&format!("\"uid\":\"{ada_id}\"")), "the state, as JSON: {}", mine.2);
    assert_eq!(mine.4, "127.0.0.1", "the client address");
    // A cookie made from the hash itself opens nothing.
    let hash_cookie = {
        let mut jar = CookieJar::new();
        jar.private_mut(&Key::derive_from(SESSION_KEY.as_bytes())).add(Cookie::new("portico_session", mine.1.clone()));
        let c = jar.get("portico_session").unwrap();
        c.encoded().to_string()
    };
    assert!(goes_to_login(&CookieCopy::of(&hash_cookie).get(&format!("{}/account/security", app.base)).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_and_sessions_past_their_lifetime_end() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.session_idle_minutes = 30;
            s.session_lifetime_hours = 24;
        },
        ..Default::default()
    })
    .await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let clients = format!("/orgs/{org}/clients");
    let rows = app.sessions_of(ada_id).await;
    assert_eq!(rows.len(), 1);
    let (seen, expires) = (rows[0].5, rows[0].6);
    let lifetime = expires - seen;
    assert!(
        (lifetime - chrono::Duration::hours(24)).num_seconds().abs() < 5,
        "expires SESSION_LIFETIME_HOURS after sign-in: {lifetime}"
    );

    // A page view within the minute writes nothing; one after a while moves last_seen_at.
    assert_eq!(status(&ada, &clients).await, StatusCode::OK);
    assert_eq!(app.sessions_of(ada_id).await[0].5, seen, "last seen is not written on every request");
    app.age_sessions(ada_id, chrono::Duration::minutes(20), chrono::Duration::hours(1)).await;
    assert_eq!(status(&ada, &clients).await, StatusCode::OK, "20 minutes idle is within 30");
    let touched = app.sessions_of(ada_id).await[0].5;
    assert!(now() - touched < chrono::Duration::minutes(1), "last seen moved to now: {touched}");

    // Idle longer than SESSION_IDLE_MINUTES: refused and deleted.
    app.age_sessions(ada_id, chrono::Duration::minutes(31), chrono::Duration::hours(1)).await;
    let r = ada.get(&clients).await;
    assert!(goes_to_login(&r), "an idle session: {}", r.status());
    assert!(app.sessions_of(ada_id).await.is_empty(), "the idle session's row is deleted");

    // Past its absolute end, however active: refused and deleted.
    ada.page("/login").await;
    let r = ada.log_in("ada@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&ada, &clients).await, StatusCode::OK);
    app.age_sessions(ada_id, chrono::Duration::zero(), chrono::Duration::seconds(-1)).await;
    let r = ada.get(&clients).await;
    assert!(goes_to_login(&r), "a session past its lifetime: {}", r.status());
    assert!(app.sessions_of(ada_id).await.is_empty(), "the expired session's row is deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (bob, _) = app.sign_up("Bob Birch", "bob@other.test", "Birch LLP").await;
    let (ada_id, bob_id) = (app.user_id("ada@firm.test").await, app.user_id("bob@other.test").await);
    let (laptop, _) = log_in_again(&app, "ada@firm.test").await;
    let (phone, r) = log_in_again(&app, "ada@firm.test").await;
    let phone_copy = CookieCopy::of(&session_cookie(&r));
    let clients = format!("/orgs/{org}/clients");
    let (st, page) = ada.page("/account/security").await;
    assert_eq!(st, StatusCode::OK);
    assert!(text_of(&page).contains("Change password"), "{}", text_of(&page));
    let old_hash = app.password_hash_of(ada_id).await;

    // A wrong current password, or a new one too short: the form again, nothing changed.
    let r = change_password(&ada, "not my password", "a brand new password").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("That is not your current password."));
    let r = change_password(&ada, PASSWORD, "short").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("at least 10 characters"));
    assert_eq!(app.password_hash_of(ada_id).await, old_hash);
    assert_eq!(app.sessions_of(ada_id).await.len(), 3, "no session ended");

    let r = change_password(&ada, PASSWORD, "a brand new password").await;
    assert_eq!(location(&r), "/account/security");
    let (_, body, _) = ada.visit("/account/security").await;
    assert!(text_of(&body).contains("Your password is changed. Your other sessions are signed out."));
    assert_ne!(app.password_hash_of(ada_id).await, old_hash);
    assert_eq!(app.sessions_of(ada_id).await.len(), 1, "only this session is left");
    assert_eq!(status(&ada, &clients).await, StatusCode::OK, "this session goes on");
    assert!(goes_to_login(&laptop.get(&clients).await));
    assert!(goes_to_login(&phone.get(&clients).await));
    assert!(goes_to_login(&phone_copy.get(&format!("{}{clients}", app.base)).await));
    assert_eq!(app.sessions_of(bob_id).await.len(), 1, "another person's sessions are untouched");
    assert_eq!(status(&bob, "/account/security").await, StatusCode::OK);

    // The old password no longer opens the account; the new one does.
    let r = app.visitor().log_in("ada@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.visitor().log_in("ada@firm.test", "a brand new password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_other_sessions_keeps_only_this_one() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (bob, _) = app.sign_up("Bob Birch", "bob@other.test", "Birch LLP").await;
    let (ada_id, bob_id) = (app.user_id("ada@firm.test").await, app.user_id("bob@other.test").await);
    let (laptop, _) = log_in_again(&app, "ada@firm.test").await;
    let (phone, _) = log_in_again(&app, "ada@firm.test").await;
    let clients = format!("/orgs/{org}/clients");
    let (_, page) = ada.page("/account/security").await;
    let text = text_of(&page);
    assert_eq!(text.matches("This session").count(), 1, "{text}");
    assert_eq!(page.matches(">Sign out</button>").count(), 2, "one button per other session");
    assert!(text.contains("Sign out other sessions"));
    let this = app.session_ids_of(ada_id).await[0];

    let r = ada.post("/account/security/sessions/end-others", &[]).await;
    assert_eq!(location(&r), "/account/security");
    let (_, body, _) = ada.visit("/account/security").await;
    assert!(text_of(&body).contains("2 other sessions are signed out."), "{}", text_of(&body));
    assert!(!text_of(&body).contains("Sign out other sessions"), "nothing left to sign out");
    assert_eq!(app.session_ids_of(ada_id).await, vec![this]);
    assert_eq!(status(&ada, &clients).await, StatusCode::OK);
    for other in [&laptop, &phone] {
        assert!(goes_to_login(&other.get(&clients).await));
    }
    assert_eq!(app.sessions_of(bob_id).await.len(), 1);
    assert_eq!(status(&bob, "/account/security").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_ends_by_its_id_and_another_persons_session_is_not_found() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (bob, _) = app.sign_up("Bob Birch", "bob@other.test", "Birch LLP").await;
    let (ada_id, bob_id) = (app.user_id("ada@firm.test").await, app.user_id("bob@other.test").await);
    let (laptop, _) = log_in_again(&app, "ada@firm.test").await;
    let (phone, _) = log_in_again(&app, "ada@firm.test").await;
    let clients = format!("/orgs/{org}/clients");
    let ids = app.session_ids_of(ada_id).await;
    let (this, laptop_id, phone_id) = (ids[0], ids[1], ids[2]);
    let bobs = app.session_ids_of(bob_id).await[0];
    let (_, page) = ada.page("/account/security").await;
    assert!(page.contains(&format!("action=\"/account/security/sessions/{laptop_id}/end\"")));
    assert!(!page.contains(&format!("action=\"/account/security/sessions/{this}/end\"")), "no button for this one");

    // Bob's session, a missing one, or not a number: not found, nothing ended.
    for id in [bobs.to_string(), "999999".into(), "abc".into(), "0".into()] {
        let r = ada.post(&format!("/account/security/sessions/{id}/end"), &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "ending session {id}");
    }
    assert_eq!(app.session_ids_of(bob_id).await, vec![bobs]);
    assert_eq!(app.session_ids_of(ada_id).await, ids);
    assert_eq!(status(&bob, "/account/security").await, StatusCode::OK);
    // Bob cannot end Ada's either.
    let r = bob.post(&format!("/account/security/sessions/{laptop_id}/end"), &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.session_ids_of(ada_id).await, ids);
    // Without the CSRF token: refused.
    let r = ada.post_raw(&format!("/account/security/sessions/{laptop_id}/end"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.session_ids_of(ada_id).await, ids);

    let r = ada.post(&format!("/account/security/sessions/{laptop_id}/end"), &[]).await;
    assert_eq!(location(&r), "/account/security");
    let (_, body, _) = ada.visit("/account/security").await;
    assert!(text_of(&body).contains("That session is signed out."));
    assert_eq!(app.session_ids_of(ada_id).await, vec![this, phone_id]);
    assert!(goes_to_login(&laptop.get(&clients).await));
    assert_eq!(status(&phone, &clients).await, StatusCode::OK);
    assert_eq!(status(&ada, &clients).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn removal_from_the_last_workspace_ends_the_removed_persons_sessions() {
    let f = firm_with_a_client().await;
    let app = &f.app;
    let other = f.ada.add_client(f.org, "Birch Books").await;
    let (cleo, cleo_id) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let (dan, dan_id) = f.client_user("dan@client.test", "Dan Double", "member", &[f.llc]).await;
    let r = f.ada.invite(other, "dan@client.test", "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("dan@client.test", 2).await;
    assert_eq!(dan.accept_invite(&link).await.status(), StatusCode::SEE_OTHER);
    let (dan_laptop, _) = log_in_again(app, "dan@client.test").await;
    assert_eq!(app.sessions_of(dan_id).await.len(), 2);

    // Dan is removed from one of his two workspaces: his sessions go on.
    let r = f.ada.remove_member(f.ws, dan_id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.sessions_of(dan_id).await.len(), 2);
    assert_eq!(status(&dan, &format!("/w/{other}/entities")).await, StatusCode::OK);
    assert_eq!(status(&dan_laptop, &format!("/w/{other}/entities")).await, StatusCode::OK);
    assert_eq!(status(&dan, &format!("/w/{}/entities", f.ws)).await, StatusCode::NOT_FOUND);

    // Cleo is removed from her only workspace: every session of hers ends at once.
    assert_eq!(status(&cleo, &format!("/w/{}/entities", f.ws)).await, StatusCode::OK);
    let r = f.ada.remove_member(f.ws, cleo_id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.sessions_of(cleo_id).await.is_empty(), "no session of Cleo's is left");
    let r = cleo.get(&format!("/w/{}/entities", f.ws)).await;
    assert!(goes_to_login(&r), "her next request goes to log in: {}", r.status());
    let r = cleo.get("/").await;
    assert!(goes_to_login(&r));
    // The remover's session is untouched.
    assert_eq!(status(&f.ada, &f.members()).await, StatusCode::OK);
    // Dan, removed from his last one too.
    let r = f.ada.remove_member(other, dan_id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.sessions_of(dan_id).await.is_empty());
    assert!(goes_to_login(&dan_laptop.get("/").await));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_works_on_every_instance_and_a_sign_out_on_one_ends_it_on_both() {
    let app = spawn_app().await;
    let (_, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let second = app.another_instance().await;
    let (ada, r) = log_in_again(&app, "ada@firm.test").await;
    let copy = CookieCopy::of(&session_cookie(&r));
    let clients = format!("/orgs/{org}/clients");
    for base in [&app.base, &second.base] {
        let r = copy.get(&format!("{base}{clients}")).await;
        assert_eq!(r.status(), StatusCode::OK, "the session opens pages on {base}");
    }
    // Signing out on the second instance (the browser's cookie jar goes to either port).
    let (st, _) = ada.page(&format!("{}{clients}", second.base)).await;
    assert_eq!(st, StatusCode::OK);
    let r = ada.post(&format!("{}/logout", second.base), &[]).await;
    assert_eq!(location(&r), "/login");
    assert_eq!(app.sessions_of(ada_id).await.len(), 1, "only the sign-up's session is left");
    for base in [&app.base, &second.base] {
        let r = copy.get(&format!("{base}{clients}")).await;
        assert!(goes_to_login(&r), "the ended session on {base}: {}", r.status());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_security_page_signs_out_another_browser() {
    if !installed_or_skip("security_page") {
        return;
    }
    let home = Browser::start("security_page").await;
    let away = Browser::start("security_page").await;
    let app = spawn_app().await;
    let (_, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    for b in [&home, &away] {
        b.goto(&format!("{}/login", app.base)).await;
        b.fill("Email", "ada@firm.test").await;
        b.fill("Password", PASSWORD).await;
        b.click_text("Log in").await;
        b.assert_path(&format!("/orgs/{org}/clients")).await;
    }
    assert_eq!(app.sessions_of(ada_id).await.len(), 3);

    home.click_text("Account").await;
    home.assert_path("/account/security").await;
    home.assert_heading("Security").await;
    home.assert_row("This session", &["Chrome on Linux", "127.0.0.1", "now"]).await;
    let rows = home.rows().await;
    assert_eq!(rows.iter().filter(|r| r.contains("Chrome on Linux")).count(), 2, "{rows:?}");
    home.screenshot("security").await;
    // Newest first: the other browser's session, then this one, then the sign-up's (made
    // without a browser). "Sign out" on the first row signs the other browser out.
    assert!(rows[0].contains("Chrome on Linux") && !rows[0].contains("This session"), "{rows:?}");
    assert!(rows[1].contains("This session"), "{rows:?}");
    home.click_text("Sign out").await;
    home.assert_text("That session is signed out.").await;
    home.screenshot("signed-out").await;
    let rows = home.rows().await;
    assert_eq!(rows.iter().filter(|r| r.contains("Chrome on Linux")).count(), 1, "{rows:?}");
    assert_eq!(app.sessions_of(ada_id).await.len(), 2);

    away.goto(&format!("{}/orgs/{org}/clients", app.base)).await;
    away.wait_for_path("Log in", |p| p.starts_with("/login")).await;
    away.assert_heading("Log in").await;
    home.goto(&format!("{}/orgs/{org}/clients", app.base)).await;
    home.assert_heading("Clients").await;
    home.close().await;
    away.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_current_passwords_are_limited_per_account() {
    let app =
        spawn_app_with(Options { adjust: |s| s.login_failures_per_account_and_address = 2, ..Default::default() })
            .await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let (laptop, _) = log_in_again(&app, "ada@firm.test").await;
    let old_hash = app.password_hash_of(ada_id).await;
    for _ in 0..2 {
        let r = change_password(&ada, "a wrong guess here", "a brand new password").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right password is refused now, from any session of the account.
    for user in [&ada, &laptop] {
        user.page("/account/security").await;
        let r = change_password(user, PASSWORD, "a brand new password").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let text = text_of(&r.text().await.unwrap());
        assert!(text.contains("The limit of 2 wrong current passwords per 15 minutes is reached"), "{text}");
    }
    assert_eq!(app.password_hash_of(ada_id).await, old_hash);
    assert_eq!(app.sessions_of(ada_id).await.len(), 2, "no session ended");
}

/// Many guesses at the current password at once (a stolen session): the attempt is counted
/// before the password is checked, so no more are checked than the limit allows.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_at_the_current_password_stay_within_the_limit() {
    let app =
        spawn_app_with(Options { adjust: |s| s.login_failures_per_account_and_address = 3, ..Default::default() })
            .await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let (laptop, _) = log_in_again(&app, "ada@firm.test").await;
    let old_hash = app.password_hash_of(ada_id).await;
    let guesses: Vec<String> = (0..20).map(|i| format!("guess number {i}")).collect();
    let answers =
        futures::future::join_all(guesses.iter().map(|g| change_password(&ada, g, "a brand new password"))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert!(checked <= 3, "at most 3 passwords checked, got {checked}: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 20 - checked);
    let counted = app
        .db
        .read(|c| {
            use portico::db::schema::rate_events as r;
            r::table.filter(r::scope.eq("password-change/user")).count().get_result::<i64>(c)
        })
        .await
        .unwrap();
    assert!(counted <= 3, "{counted} counted");
    let r = change_password(&ada, PASSWORD, "a brand new password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password, past the limit");
    assert_eq!(app.password_hash_of(ada_id).await, old_hash, "nothing changed");
    assert_eq!(app.sessions_of(ada_id).await.len(), 2, "no session ended");
    assert_eq!(laptop.get("/account/security").await.status(), StatusCode::OK);
}

/// A right current password is not counted against the limit: it is taken back.
#[tokio::test(flavor = "multi_thread")]
async fn a_right_current_password_is_not_counted() {
    let app =
        spawn_app_with(Options { adjust: |s| s.login_failures_per_account_and_address = 2, ..Default::default() })
            .await;
    let (ada, _) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let r = change_password(&ada, "a wrong guess here", "a brand new password").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    ada.page("/account/security").await;
    let r = change_password(&ada, PASSWORD, "a brand new password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    ada.page("/account/security").await;
    // One wrong guess counted, the right one not: one more wrong guess is still checked.
    let r = change_password(&ada, "another wrong guess", "yet another new password").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn ended_sessions_are_swept_out_of_the_table() {
    let app = spawn_app_with(Options { adjust: |s| s.session_idle_minutes = 120, ..Default::default() }).await;
    // An account made directly: signing up would save a session, and so sweep, too early.
    let ada = app
        .db
        .write(|c| {
            use portico::db::schema::users;
            diesel::insert_into(users::table)
                .values((
                    users::email.eq("ada@firm.test"),
                    users::name.eq("Ada Ames"),
                    users::password_hash.eq("-"),
                    users::created_at.eq(now()),
                ))
                .returning(users::id)
                .get_result::<i64>(c)
        })
        .await
        .map(Some)
        .unwrap();
    let (hour, minutes) = (chrono::Duration::hours(1), chrono::Duration::minutes);
    // (name, whose, last seen ago, expires in): idle too long, past its end, a visitor's
    // (no one signed in) idle over an hour, and two still alive.
    let rows = [
        ("idle", ada, minutes(121), hour),
        ("expired", ada, chrono::Duration::zero(), -hour),
        ("visitor idle", None, minutes(61), hour),
        ("alive", None, minutes(5), hour),
        ("signed in, idle an hour", ada, minutes(61), hour),
    ];
    for (name, user, seen, expires) in rows {
        let (seen, expires) = (now() - seen, now() + expires);
        app.db
            .write(move |c| {
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::key_hash.eq(sha256_hex(name)),
                        sessions::user_id.eq(user),
                        sessions::state.eq("{}"),
                        sessions::created_at.eq(seen),
                        sessions::last_seen_at.eq(seen),
                        sessions::expires_at.eq(expires),
                    ))
                    .execute(c)
            })
            .await
            .unwrap();
    }
    // The next session saved (a visitor opening "Log in") sweeps.
    let (st, _) = app.visitor().page("/login").await;
    assert_eq!(st, StatusCode::OK);
    let left = app.db.read(|c| sessions::table.select(sessions::key_hash).load::<String>(c)).await.unwrap();
    for kept in ["alive", "signed in, idle an hour"] {
        assert!(left.contains(&sha256_hex(kept)), "{kept} is kept: {left:?}");
    }
    for gone in ["idle", "expired", "visitor idle"] {
        assert!(!left.contains(&sha256_hex(gone)), "{gone} is swept: {left:?}");
    }
}
