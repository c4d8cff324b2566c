//! Request hardening (issue 8): same-site redirects only, control characters refused with
//! 400 before anything happens, security headers on every answer, email addresses and
//! names SMTP and people can trust, the sign-in limit, and the invite limits.

use reqwest::StatusCode;

use crate::support::*;

/// POST a raw urlencoded body (already encoded) with the session's CSRF token first.
async fn post_encoded(user: &TestUser, path: &str, encoded: &str) -> reqwest::Response {
    let token = user.csrf().await;
    user.client
        .post(format!("{}{path}", user.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&{encoded}"))
        .send()
        .await
        .expect("POST")
}

/// Whether this client's session is signed in (the home page does not send it to log in).
async fn signed_in(user: &TestUser) -> bool {
    let r = user.get("/").await;
    !(r.status() == StatusCode::SEE_OTHER && location(&r).starts_with("/login"))
}

fn assert_security_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
    assert_eq!(h.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{what}: nosniff");
    assert_eq!(h.get("cache-control").map(|v| v.as_bytes()), Some(&b"no-store"[..]), "{what}: no-store");
    assert_eq!(h.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{what}: referrer");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_stay_on_this_site() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    // Signed in, /login?next=… sends straight on: only to a same-site path.
    for next in [
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "//evil.example",
        "/%5C/evil.example",
        "https://evil.example",
        "/%20/evil.example",
        "/%E2%80%AE/evil.example",
    ] {
        let r = ada.get(&format!("/login?next={next}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "next={next}");
        assert_eq!(location(&r), "/", "next={next} must fall back to home");
    }
    // A tab in the address is a control character: 400, and no Location at all.
    for next in ["/%09/evil.example/x", "%09//evil.example"] {
        let r = ada.get(&format!("/login?next={next}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "next={next}");
        assert!(r.headers().get("location").is_none());
    }
    let r = ada.get("/login?next=/orgs/1/team").await;
    assert_eq!(location(&r), "/orgs/1/team", "a same-site path is kept");
    // Log out with a hostile `next`: to the sign-in page instead.
    let r = ada.post("/logout", &[("next", "/\t/evil.example/x")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    // Signing in with one: home.
    let r =
        ada.post("/login", &[("email", "ada@firm.test"), ("password", PASSWORD), ("next", "/\\evil.example")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    // And the form does not carry it on.
    let visitor = app.visitor();
    let (_, body) = visitor.page("/login?next=/%5C/evil.example/x").await;
    assert_eq!(input_value(&body, "next").unwrap_or_default(), "", "a refused next is not kept in the form");
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_answer_400_and_change_nothing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let before = app.snapshot().await;
    for c in ["%0a", "%0D", "%00", "%7f", "%C2%85", "%1b"] {
        // In the query string, signed in and out.
        for path in [format!("/login?next=/w/1{c}"), format!("/login?next={c}"), format!("/w/{ws}/entities?x={c}")] {
            let r = ada.get(&path).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "GET {path}");
            assert_security_headers(&r, &path);
            assert!(text_of(&r.text().await.unwrap()).contains("control characters"), "{path}: a clear message");
        }
        // In the path.
        let r = ada.get(&format!("/w/{ws}{c}/entities")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "control character {c} in the path");
        // In a form field: refused before the handler, so nothing is created.
        let r = post_encoded(&ada, &format!("/orgs/{org}/clients"), &format!("name=Evil{c}Client")).await;
        let status = r.status();
        let body = text_of(&r.text().await.unwrap());
        if matches!(c, "%0a" | "%0D") {
            // Line breaks are what a text area sends: taken as whitespace, not refused.
            assert_ne!(status.as_u16() / 100, 5, "{c}: {body}");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{c} in a form field: {body}");
            assert!(body.contains("The field \"name\" contains control characters"), "{body}");
        }
    }
    // Only the client with a line break in its name (which became a space) is new.
    let after = app.snapshot().await;
    let kept: Vec<String> = after.0.iter().filter(|l| !l.contains("added_client Evil Client")).cloned().collect();
    assert_eq!(before.0, kept, "refused requests wrote nothing: {}", before.diff(&after));

    // Signing in with a control character in `next`: never 500, never signed in by a refusal.
    for c in ["%00", "%7f", "%1b"] {
        let visitor = app.visitor();
        let r = post_encoded(
            &visitor,
            "/login",
            &format!("email=ada%40firm.test&password=correct+horse+battery&next=%2Fw%2F1{c}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{c}");
        assert!(r.headers().get("set-cookie").is_none(), "{c}: the session is not touched");
        assert!(!signed_in(&visitor).await, "{c}: a refused sign-in leaves the visitor signed out");
    }
    for c in ["%0a", "%0d", "%09"] {
        let visitor = app.visitor();
        let r = post_encoded(
            &visitor,
            "/login",
            &format!("email=ada%40firm.test&password=correct+horse+battery&next=%2Fw%2F1{c}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{c}");
        assert_eq!(location(&r), "/", "{c}: a next with a line break or tab is dropped");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_by_middleware_carry_the_security_headers() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let before = app.snapshot().await;
    // CSRF: no token.
    let r = ada.post_raw(&format!("/orgs/{org}/clients"), &[("name", "No Token")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&r, "403 CSRF");
    // Cross-site.
    let r = ada
        .client
        .post(format!("{}/orgs/{org}/clients", ada.base))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&r, "403 cross-site");
    // Too large for any form.
    let huge = format!("name={}", "x".repeat(300 * 1024));
    let r = post_encoded(&ada, &format!("/orgs/{org}/clients"), &huge).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&r, "413");
    // Control characters, not found.
    let r = ada.get("/login?next=%00").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&r, "400");
    let r = ada.get("/no/such/page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&r, "404");
    let r = ada.get("/login").await;
    assert_security_headers(&r, "a redirect");
    assert_eq!(before, app.snapshot().await);
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_smtp_cannot_deliver_and_invisible_names_are_refused_with_the_input_kept() {
    let app = spawn_app().await;
    // Sign-up with a quoted local part.
    let visitor = app.visitor();
    let quoted = "\"<img/src=x>\"@x.test";
    let r = visitor
        .post("/signup", &[("name", "Eve"), ("email", quoted), ("password", PASSWORD), ("firm", "Eve Co")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("without quotes"), "{}", text_of(&body));
    let kept = input_value(&body, "email").unwrap_or_default();
    assert_eq!(kept, "&#34;&#60;img/src=x&#62;&#34;@x.test", "the input is kept, escaped");
    // Names with direction overrides or zero-width characters, or nothing visible.
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let before = app.snapshot().await;
    for (name, words) in [
        ("Invoice \u{202e}gnp.exe", "invisible characters"),
        ("Ac\u{200b}me", "invisible characters"),
        ("\u{2067}Acme\u{2069}", "invisible characters"),
        ("\u{3164}\u{3164}", "no visible characters"),
        ("\u{200b}\u{200b}", "invisible characters"),
    ] {
        let r = ada.post(&format!("/orgs/{org}/clients"), &[("name", name)]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        let body = r.text().await.unwrap();
        assert!(text_of(&body).contains(words), "{name:?}: {}", text_of(&body));
        assert_eq!(input_value(&body, "name").as_deref(), Some(name), "{name:?} kept in the field");
        let r = ada.post(&format!("/w/{ws}/entities"), &[("name", name)]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "entity {name:?}");
    }
    let r = visitor
        .post(
            "/signup",
            &[("name", "Eve\u{202e}"), ("email", "eve@x.test"), ("password", PASSWORD), ("firm", "Eve\u{200d}Co")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.user_count().await, 1, "no account for refused sign-ups");
    // An invite to a quoted address: refused on the form, nothing written.
    let r = ada.invite_to_all_entities(ws, quoted, "member").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("without quotes"));
    let after = app.snapshot().await;
    assert_eq!(before, after, "{}", before.diff(&after));
    // Stored composed (NFC): "Cafe" + combining acute is "Café".
    let ws2 = ada.add_client(org, "Cafe\u{301} Noir").await;
    let (_, body) = ada.page(&format!("/w/{ws2}/entities")).await;
    assert!(body.contains("Caf\u{e9} Noir"), "the name is stored composed");
    assert!(!body.contains("Cafe\u{301}"));
    assert_eq!(app.workspace_name(ws2).await, "Caf\u{e9} Noir");
}

impl TestApp {
    async fn workspace_name(&self, ws: i64) -> String {
        use diesel::prelude::*;
        use portico::db::schema::workspaces;
        self.db.read(move |c| workspaces::table.find(ws).select(workspaces::name).first::<String>(c)).await.unwrap()
    }

    async fn rate_events(&self, scope: &str) -> i64 {
        use diesel::prelude::*;
        use portico::db::schema::rate_events as r;
        let scope = scope.to_string();
        self.db.read(move |c| r::table.filter(r::scope.eq(scope)).count().get_result::<i64>(c)).await.unwrap()
    }
}

/// A sign-in as a client behind the load balancer at `address` would send it.
async fn log_in_from(user: &TestUser, address: &str, email: &str, password: &str) -> reqwest::Response {
    let token = user.csrf().await;
    let body = format!("csrf={token}&email={}&password={}", email.replace('@', "%40"), password.replace(' ', "+"));
    user.client
        .post(format!("{}/login", user.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", address)
        .body(body)
        .send()
        .await
        .expect("POST /login")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_elsewhere_never_locks_the_user_out() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            s.login_failures_per_account_and_address = 3;
            s.login_failures_per_address = 1000;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let attacker = app.visitor();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(log_in_from(&attacker, "203.0.113.9", "ada@firm.test", "guess guess guess").await.status());
    }
    assert_eq!(&statuses[..3], &[StatusCode::UNPROCESSABLE_ENTITY; 3], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let r = log_in_from(&attacker, "203.0.113.9", "ada@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits, from that address");
    assert!(r.headers().get("retry-after").is_some());
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("Too many sign-in attempts") && text.contains("Try again in"), "{text}");
    // Ada, from her own address, signs in at once.
    let ada = app.visitor();
    let r = log_in_from(&ada, "198.51.100.7", "ada@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the real user is not locked out");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_from_one_address_are_limited_and_forgotten_after_success() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.login_failures_per_account_and_address = 3;
            s.login_failures_per_address = 5;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let ada = app.visitor();
    for _ in 0..2 {
        assert_eq!(ada.log_in("ada@firm.test", "wrong wrong wrong").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(ada.log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.rate_events("login/account+address").await, 0, "a success forgets the pair's failures");
    assert_eq!(app.rate_events("login/address").await, 2, "the success itself does not count");
    ada.log_out().await;
    // Three more failures fit again (the pair starts afresh); then the address has 5.
    for _ in 0..3 {
        assert_eq!(ada.log_in("ada@firm.test", "wrong wrong wrong").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(ada.log_in("ada@firm.test", "wrong wrong wrong").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Guessing across accounts from the same address: the address limit (5) stops it.
    let r = ada.log_in("bob@firm.test", "wrong wrong wrong").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "2 + 3 + 1 refused... the address has used 5 + this");
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("failed sign-ins from your address"), "{text}");
}

/// Guesses sent all at once must not slip past the limit (PostgreSQL's READ COMMITTED
/// lets two transactions both see room for one more unless the count is serialised).
#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_do_not_slip_past_the_sign_in_limit() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.login_failures_per_account_and_address = 3;
            s.login_failures_per_address = 1000;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let attacker = app.visitor();
    let token = attacker.csrf().await;
    let guesses = (0..24).map(|i| {
        let body = format!("csrf={token}&email=ada%40firm.test&password=guess+number+{i}");
        attacker
            .client
            .post(format!("{}/login", attacker.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    });
    let statuses: Vec<StatusCode> =
        futures::future::join_all(guesses).await.into_iter().map(|r| r.expect("POST /login").status()).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert!(checked <= 3, "at most 3 passwords checked, got {checked}: {statuses:?}");
    assert!(app.rate_events("login/account+address").await <= 3);
}

/// An IPv6 client holds a whole /64: the sign-in limit counts the /64, so fresh addresses
/// from it are no fresh allowance; another /64 is another client.
#[tokio::test(flavor = "multi_thread")]
async fn an_ipv6_client_is_counted_by_its_64() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
            s.login_failures_per_account_and_address = 2;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let v = app.visitor();
    for address in ["2001:db8:5:6::1", "2001:db8:5:6::2"] {
        let r = log_in_from(&v, address, "ada@firm.test", "nope nope nope").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{address}");
    }
    let r = log_in_from(&v, "2001:db8:5:6:abcd::3", "ada@firm.test", "nope nope nope").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "a fresh address of the same /64");
    let r = log_in_from(&v, "2001:db8:5:7::1", "ada@firm.test", "nope nope nope").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "another /64");
    assert_eq!(app.rate_events("login/account+address").await, 3, "the refused attempt counted nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // No trusted proxies: whatever X-Forwarded-For says, the peer (127.0.0.1) is the address.
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.login_failures_per_account_and_address = 2;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let v = app.visitor();
    assert_eq!(
        log_in_from(&v, "1.1.1.1", "ada@firm.test", "nope nope nope").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        log_in_from(&v, "2.2.2.2", "ada@firm.test", "nope nope nope").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        log_in_from(&v, "3.3.3.3", "ada@firm.test", "nope nope nope").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Behind a trusted balancer each client's address is its own.
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
            s.login_failures_per_account_and_address = 2;
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada", "ada@firm.test", "Ames & Co").await;
    let v = app.visitor();
    for i in 1..=5 {
        let address = format!("6.6.6.6, 198.51.100.{i}");
        let r = log_in_from(&v, &address, "ada@firm.test", "nope nope nope").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "client {i} has its own count");
    }
    // The spoofed left-most entry is not the address: 198.51.100.1 has one failure so far.
    assert_eq!(
        log_in_from(&v, "198.51.100.1", "ada@firm.test", "nope nope nope").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        log_in_from(&v, "7.7.7.7, 198.51.100.1", "ada@firm.test", "x x x x x x").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Ada's firm, with small invite limits.
async fn firm_with_limits(adjust: fn(&mut portico::config::Settings)) -> (TestApp, TestUser, i64, i64) {
    let app = spawn_app_with(Options { adjust, ..Options::default() }).await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    (app, ada, org, ws)
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_past_the_per_user_limit_are_refused_and_write_nothing() {
    let (app, ada, org, ws) = firm_with_limits(|s| s.invites_per_user_per_hour = 3).await;
    for who in ["a@client.test", "b@client.test"] {
        assert_eq!(ada.invite_to_all_entities(ws, who, "member").await.status(), StatusCode::SEE_OTHER);
    }
    // A resend counts: the third.
    let page = ada.members_page(ws).await;
    let a = invite_id_on(&page, "a@client.test");
    let b = invite_id_on(&page, "b@client.test");
    app.allow_resend(a).await;
    let r = ada.resend_invite(ws, a).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.outbox_settled().await;
    app.allow_resend(b).await;
    let before = app.snapshot().await;
    // The fourth: the form again, with the message and what was typed.
    let r = ada.invite_to_all_entities(ws, "c@client.test", "accountant").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = r.text().await.unwrap();
    let text = text_of(&body);
    assert!(text.contains("The limit of 3 invites and resends per person per hour is reached. Try again in"), "{text}");
    assert_eq!(input_value(&body, "email").as_deref(), Some("c@client.test"));
    assert!(
        body.contains("value=\"accountant\" checked") || body.contains("value=\"accountant\"  checked"),
        "role kept"
    );
    // A resend: refused with a flash.
    let r = ada.resend_invite(ws, b).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, text) = ada.status_and_text(&location(&r)).await;
    assert!(text.contains("The limit of 3 invites and resends per person per hour is reached"), "{text}");
    assert!(text.contains("Nothing was resent"));
    assert_eq!(before, app.snapshot().await, "the refused resend changed nothing");
    // Team invites count each address.
    let r = ada
        .post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", "t@firm.test"), ("role", "member"), ("new_clients", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("Nothing was sent"));
    assert!(body.contains("t@firm.test"), "the addresses typed are kept");
    let after = app.snapshot().await;
    assert_eq!(before, after, "the refused invites wrote nothing: {}", before.diff(&after));
    assert_eq!(app.outbox_rows_to("c@client.test").await, 0);
    assert_eq!(app.outbox_rows_to("t@firm.test").await, 0);
    assert_eq!(app.invite_count().await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_firm_limit_counts_every_address_and_every_resend() {
    let (app, ada, org, ws) = firm_with_limits(|s| s.invites_per_firm_per_day = 4).await;
    // Five addresses at once: more than the firm's limit, nothing is sent.
    let emails = "t1@firm.test, t2@firm.test, t3@firm.test, t4@firm.test, t5@firm.test";
    let before = app.snapshot().await;
    let r = ada
        .post(&format!("/orgs/{org}/team/invite"), &[("emails", emails), ("role", "member"), ("new_clients", "on")])
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("The limit of 4 invites and resends by your firm per day is reached"), "{text}");
    assert_eq!(before, app.snapshot().await, "nothing was written");
    // Two team invites and one client invite: three of four.
    let r = ada
        .post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", "t1@firm.test, t2@firm.test"), ("role", "member"), ("new_clients", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(ada.invite_to_all_entities(ws, "c@client.test", "member").await.status(), StatusCode::SEE_OTHER);
    app.outbox_settled().await;
    // A bulk resend of all three counts three: refused, nothing resent.
    let mut ids = Vec::new();
    for email in ["t1@firm.test", "t2@firm.test", "c@client.test"] {
        ids.extend(app.invite_records(email).await.iter().map(|i| i.id));
    }
    assert_eq!(ids.len(), 3);
    for id in &ids {
        app.allow_resend(*id).await;
    }
    let before = app.snapshot().await;
    let mut fields: Vec<(&str, String)> = ids.iter().map(|i| ("invite", i.to_string())).collect();
    fields.push(("action", "resend".into()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = ada.post(&format!("/orgs/{org}/invites"), &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, text) = ada.status_and_text(&location(&r)).await;
    assert!(text.contains("by your firm per day is reached") && text.contains("Nothing was resent"), "{text}");
    assert_eq!(before, app.snapshot().await, "the refused bulk resend changed nothing");
    // One of them fits.
    let r = ada.post(&format!("/orgs/{org}/invites"), &[("invite", &ids[0].to_string()), ("action", "resend")]).await;
    let (_, text) = ada.status_and_text(&location(&r)).await;
    assert!(text.contains("1 invite resent"), "{text}");
    // And now the firm is at its limit: the next client invite is refused.
    let r = ada.invite_to_all_entities(ws, "d@client.test", "member").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.outbox_rows_to("d@client.test").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_sender_has_a_lower_invite_limit_until_they_confirm() {
    let app =
        spawn_app_with(Options { adjust: |s| s.invites_per_unconfirmed_user_per_hour = 2, ..Options::default() }).await;
    let (mal, org) = app.sign_up_unconfirmed("Mal Lory", "mal@spam.test", "Spam Co").await;
    let ws = mal.add_client(org, "Targets").await;
    for who in ["a@victim.test", "b@victim.test"] {
        assert_eq!(mal.invite_to_all_entities(ws, who, "member").await.status(), StatusCode::SEE_OTHER);
    }
    app.outbox_settled().await;
    let before = app.snapshot().await;
    let r = mal.invite_to_all_entities(ws, "c@victim.test", "member").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let text = text_of(&r.text().await.unwrap());
    assert!(
        text.contains(
            "The limit of 2 invites and resends (until you confirm your email address) per hour is reached. Try again in"
        ),
        "{text}"
    );
    assert_eq!(before, app.snapshot().await, "nothing written");
    assert_eq!(app.outbox_rows_to("c@victim.test").await, 0);
    // Once the address is confirmed, the ordinary limit applies.
    let link = app.confirmation_link("mal@spam.test").await;
    assert_eq!(mal.post(&link, &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(mal.invite_to_all_entities(ws, "c@victim.test", "member").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.invite_count().await, 3);
}
