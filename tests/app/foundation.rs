//! Sign-up, sign-in, sign-out, CSRF, validation, clients, entities, books, firm isolation.

use reqwest::StatusCode;

use crate::support::{
    body_rows, input_value, location, row, spawn_app, spawn_app_with, text_of, Options, TestApp, PASSWORD,
};

/// How many transactions entity `entity` holds in the database.
async fn transactions_of(app: &TestApp, entity: i64) -> i64 {
    use diesel::prelude::*;
    use portico::db::schema::transactions as t;
    app.db
        .read(move |c| t::table.filter(t::entity_id.eq(entity)).count().get_result::<i64>(c))
        .await
        .expect("count transactions")
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_lands_in_the_firm_and_log_in_again() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Accountant", "Ada@Firm.test", "Ada & Co").await;
    let (status, body, path) = ada.visit("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(path, format!("/orgs/{org}/clients"));
    let text = text_of(&body);
    for words in ["Clients", "Team", "Add client", "Ada & Co", "Log out"] {
        assert!(text.contains(words), "{words:?} missing from {text}");
    }

    let r = ada.log_out().await;
    assert_eq!(location(&r), "/login");
    let r = ada.get(&format!("/orgs/{org}/clients")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out, the firm is closed");
    assert!(location(&r).starts_with("/login?next="));

    // The email is case-insensitive.
    let r = ada.log_in("ADA@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = ada.visit("/").await;
    assert!(text_of(&body).contains("Clients"));
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_returns_to_the_page_asked_for_and_refuses_other_sites() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    ada.log_out().await;
    let r = ada
        .post(
            "/login",
            &[("email", "ada@firm.test"), ("password", PASSWORD), ("next", &format!("/orgs/{org}/clients/new"))],
        )
        .await;
    assert_eq!(location(&r), format!("/orgs/{org}/clients/new"));
    ada.log_out().await;
    let r = ada.post("/login", &[("email", "ada@firm.test"), ("password", PASSWORD), ("next", "//evil.test/")]).await;
    assert_eq!(location(&r), "/");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_get_one_generic_message() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let visitor = app.visitor();
    let wrong_password = visitor.log_in("ada@firm.test", "not the password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let a_html = wrong_password.text().await.unwrap();
    let a = text_of(&a_html);
    let no_account = visitor.log_in("nobody@firm.test", "not the password").await;
    assert_eq!(no_account.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let b_html = no_account.text().await.unwrap();
    let b = text_of(&b_html);
    assert!(a.contains("That email and password do not match an account."));
    assert_eq!(
        a.replace("ada@firm.test", "X"),
        b.replace("nobody@firm.test", "X"),
        "the two failures must read the same"
    );
    // The email typed is kept in the Email field; the password is not.
    assert_eq!(input_value(&a_html, "email").as_deref(), Some("ada@firm.test"));
    assert_eq!(input_value(&b_html, "email").as_deref(), Some("nobody@firm.test"));
    assert_eq!(input_value(&a_html, "password"), None, "the password is never sent back");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_attempts_are_rate_limited() {
    let app =
        spawn_app_with(Options { adjust: |s| s.login_failures_per_account_and_address = 3, ..Options::default() })
            .await;
    app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let visitor = app.visitor();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(visitor.log_in("ada@firm.test", "guess guess guess").await.status());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let r = visitor.log_in("ada@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(text_of(&r.text().await.unwrap()).contains("Too many sign-in attempts"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_validation_keeps_the_input() {
    let app = spawn_app().await;
    let visitor = app.visitor();
    let r = visitor
        .post(
            "/signup",
            &[("name", "  "), ("email", "not-an-email"), ("password", "short"), ("firm", "Kept Firm Name")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    let text = text_of(&body);
    assert!(text.contains("Enter a name."), "{text}");
    assert!(text.contains("Enter a valid email address"), "{text}");
    assert!(text.contains("at least 10 characters"), "{text}");
    assert!(body.contains("value=\"Kept Firm Name\""));
    assert!(body.contains("value=\"not-an-email\""));

    app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let other = app.visitor();
    let r = other
        .post("/signup", &[("name", "Eve"), ("email", " ADA@firm.test "), ("password", PASSWORD), ("firm", "Eve Inc")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("already exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let r = ada.post_raw(&format!("/orgs/{org}/clients"), &[("name", "Forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text_of(&r.text().await.unwrap()).contains("This form has expired"));
    let r = ada.post_raw(&format!("/orgs/{org}/clients"), &[("csrf", "wrong"), ("name", "Forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A token from another session does not work either.
    let other = app.visitor();
    let foreign = other.csrf().await;
    let r = ada.post_raw(&format!("/orgs/{org}/clients"), &[("csrf", foreign.as_str()), ("name", "Forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A cross-site POST with the right token is refused too.
    let token = ada.csrf().await;
    let r = ada
        .client
        .post(format!("{}/orgs/{org}/clients", app.base))
        .header("origin", "https://evil.test")
        .form(&[("csrf", token.as_str()), ("name", "Forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, body) = ada.page(&format!("/orgs/{org}/clients")).await;
    assert!(!body.contains("Forged"));
    // Log out is a POST too.
    let r = ada.post_raw("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_entities_and_books() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let (_, body, _) = ada.visit(&format!("/w/{ws}")).await;
    let text = text_of(&body);
    for words in ["Acme Bakery", "Entities", "Settings", "Add entity"] {
        assert!(text.contains(words), "{words:?} missing from {text}");
    }
    assert!(body.contains(&format!("href=\"/w/{ws}/settings/members\"")), "profile icon links to Members");

    let llc = ada.add_entity(ws, "Acme LLC").await;
    let holdings = ada.add_entity(ws, "Acme Holdings").await;
    let (_, body, _) = ada.visit(&format!("/w/{ws}/entities")).await;
    assert!(body.contains("Acme LLC") && body.contains("Acme Holdings"));

    let r = ada
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-11-02"), ("description", "Flour"), ("amount", "-1,200.50")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = ada.visit(&format!("/w/{ws}/entities/{llc}")).await;
    let flour = row(&body, "Flour");
    assert!(flour.starts_with("2026-11-02 Flour") && flour.ends_with("-1,200.50"), "the transaction's row: {flour}");
    assert_eq!(row(&body, "Balance"), "Balance -1,200.50");
    let (_, body, _) = ada.visit(&format!("/w/{ws}/entities/{holdings}")).await;
    assert!(!body.contains("Flour"), "each entity has its own books");

    // Bad input: a clear message, the input kept, nothing written.
    let r = ada
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-02-30"), ("description", "Sugar"), ("amount", "12.345")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("Enter a date like") && body.contains("Enter an amount like"));
    assert!(body.contains("value=\"Sugar\""));
    let (_, body, _) = ada.visit(&format!("/w/{ws}/entities/{llc}")).await;
    let rows = body_rows(&body);
    assert_eq!(rows.len(), 1, "still only the Flour transaction: {rows:?}");
    assert!(rows[0].contains("Flour") && !rows[0].contains("Sugar"), "{rows:?}");
    assert_eq!(row(&body, "Balance"), "Balance -1,200.50", "the balance is unchanged");
    assert_eq!(transactions_of(&app, llc).await, 1, "nothing was written");

    let r = ada.post(&format!("/orgs/{org}/clients"), &[("name", "  ")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("Enter a client name."));
    let r = ada.post(&format!("/orgs/{org}/clients"), &[("name", "acme bakery")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("already has a client called"));
    let r = ada.post(&format!("/w/{ws}/entities"), &[("name", "ACME LLC")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_firm_sees_nothing_and_gets_404() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    let (eve, eve_org) = app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let (_, body) = eve.page(&format!("/orgs/{eve_org}/clients")).await;
    assert!(!body.contains("Acme"));
    for path in [
        format!("/orgs/{org}/clients"),
        format!("/orgs/{org}/clients/new"),
        format!("/w/{ws}"),
        format!("/w/{ws}/entities"),
        format!("/w/{ws}/entities/{llc}"),
        format!("/w/{ws}/settings/members"),
        "/w/999999/entities".to_string(),
        "/w/not-a-number/entities".to_string(),
    ] {
        let r = eve.get(&path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = eve.post(&format!("/w/{ws}/entities"), &[("name", "Sneaky")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = eve.post(&format!("/orgs/{org}/clients"), &[("name", "Sneaky")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = eve
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-01-01"), ("description", "x"), ("amount", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // And an entity id of another firm used inside one's own workspace.
    let eve_ws = eve.add_client(eve_org, "Eve Client").await;
    let r = eve.get(&format!("/w/{eve_ws}/entities/{llc}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_send_security_headers() {
    let app = spawn_app().await;
    let r = app.visitor().get("/login").await;
    let h = r.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join(";");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let r = app.visitor().get("/static/app.css").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.visitor().get("/static/nope.css").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.visitor().get("/no/such/page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(text_of(&r.text().await.unwrap()).contains("Page not found"));
}
