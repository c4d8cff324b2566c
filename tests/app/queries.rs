//! No N+1: the number of queries a page makes does not grow with its rows.

use reqwest::{Response, StatusCode};

use crate::support::{body_rows, spawn_app, text_of, TestApp, TestUser};

/// Queries one GET of `path` makes, and the page. The outbox worker shares the pool and may
/// poll during a measurement, so the smallest of a few runs is the page's own count.
pub(crate) async fn queries_of(app: &TestApp, user: &TestUser, path: &str) -> (u64, String) {
    let mut best = u64::MAX;
    let mut page = String::new();
    for _ in 0..4 {
        let before = app.queries();
        let (status, body) = user.page(path).await;
        assert!(status.is_success(), "{path}: {status}");
        best = best.min(app.queries() - before);
        page = body;
    }
    (best, page)
}

/// A seeding request did its work (303 to the next page); otherwise the rows it was to add
/// are missing and the comparison of query counts compares nothing.
async fn seeded(r: Response, what: &str) {
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "seeding {what} failed: {}",
        text_of(&r.text().await.unwrap_or_default())
    );
}

/// How many table rows of `page` mention `needle`.
fn rows_with(page: &str, needle: &str) -> usize {
    body_rows(page).iter().filter(|r| r.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn page_query_counts_do_not_grow_with_rows() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Client 0").await;
    let e0 = ada.add_entity(ws, "Entity 0").await;
    let r = ada
        .post(
            &format!("/w/{ws}/entities/{e0}/transactions"),
            &[("date", "2026-01-01"), ("description", "t0"), ("amount", "1")],
        )
        .await;
    seeded(r, "transaction t0").await;
    app.add_client_user(&ada, ws, "m0@client.test", "member", &[e0]).await;
    seeded(ada.invite(ws, "p0@client.test", "accountant", &[e0]).await, "invite p0").await;
    let r = ada
        .post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", "s0@firm.test"), ("role", "member"), ("client", &ws.to_string())],
        )
        .await;
    seeded(r, "team invite s0").await;

    // Each page, the rows that show what was seeded, and how many of them there are with
    // one of each kind and with ten.
    let pages = [
        // Client 0 … Client 9.
        (format!("/orgs/{org}/clients"), "Client ", 1, 10),
        // Ada, and the team invites s0 … s9.
        (format!("/orgs/{org}/team"), "@firm.test", 2, 11),
        // The client invites p0 … p9 and the team invites s0 … s9.
        (format!("/orgs/{org}/invites"), "@", 2, 20),
        // Entity 0 … Entity 9.
        (format!("/w/{ws}/entities"), "Entity ", 1, 10),
        // Transactions t0 … t9, all in Entity 0.
        (format!("/w/{ws}/entities/{e0}"), "entered by", 1, 10),
        // Members m0 … m9 and pending invites p0 … p9.
        (format!("/w/{ws}/settings/members"), "@client.test", 2, 20),
        // For each i: m{i} invited and accepted, p{i} invited.
        (format!("/w/{ws}/settings/activity"), "@client.test", 3, 30),
    ];
    let mut small = Vec::new();
    for (path, needle, rows, _) in &pages {
        let (count, page) = queries_of(&app, &ada, path).await;
        assert_eq!(rows_with(&page, needle), *rows, "{path} lists one of each kind: {:?}", body_rows(&page));
        small.push(count);
    }

    // Ten times the rows of every kind.
    for i in 1..10 {
        ada.add_client(org, &format!("Client {i}")).await;
        let e = ada.add_entity(ws, &format!("Entity {i}")).await;
        let r = ada
            .post(
                &format!("/w/{ws}/entities/{e0}/transactions"),
                &[("date", "2026-01-02"), ("description", &format!("t{i}")), ("amount", "2")],
            )
            .await;
        seeded(r, &format!("transaction t{i}")).await;
        app.add_client_user(&ada, ws, &format!("m{i}@client.test"), "member", &[e0, e]).await;
        let r = ada.invite(ws, &format!("p{i}@client.test"), "accountant", &[e]).await;
        seeded(r, &format!("invite p{i}")).await;
        let r = ada
            .post(
                &format!("/orgs/{org}/team/invite"),
                &[("emails", &format!("s{i}@firm.test")), ("role", "member"), ("client", &ws.to_string())],
            )
            .await;
        seeded(r, &format!("team invite s{i}")).await;
    }
    for ((path, needle, _, rows), before) in pages.iter().zip(small) {
        let (after, page) = queries_of(&app, &ada, path).await;
        assert_eq!(rows_with(&page, needle), *rows, "{path} lists ten of each kind: {:?}", body_rows(&page));
        assert_eq!(after, before, "{path}: {before} queries with one row of each kind, {after} with ten");
    }
}
