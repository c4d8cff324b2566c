//! No N+1: the number of queries a page makes does not grow with its rows.

use crate::support::{spawn_app, TestApp, TestUser};

/// Queries one GET of `path` makes. The outbox worker shares the pool and may poll during
/// a measurement, so the smallest of a few runs is the page's own count.
async fn queries_of(app: &TestApp, user: &TestUser, path: &str) -> u64 {
    let mut best = u64::MAX;
    for _ in 0..4 {
        let before = app.queries();
        let (status, _) = user.page(path).await;
        assert!(status.is_success(), "{path}: {status}");
        best = best.min(app.queries() - before);
    }
    best
}

#[tokio::test(flavor = "multi_thread")]
async fn page_query_counts_do_not_grow_with_rows() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Client 0").await;
    let e0 = ada.add_entity(ws, "Entity 0").await;
    ada.post(
        &format!("/w/{ws}/entities/{e0}/transactions"),
        &[("date", "2026-01-01"), ("description", "t0"), ("amount", "1")],
    )
    .await;
    app.add_client_user(&ada, ws, "m0@client.test", "member", &[e0]).await;
    ada.invite(ws, "p0@client.test", "accountant", &[e0]).await;
    ada.post(
        &format!("/orgs/{org}/team/invite"),
        &[
            ("emails", "s0@firm.test"),
            ("role", "member"),
            ("client", &ws.to_string()),
        ],
    )
    .await;

    let pages = |ws: i64, e: i64| {
        vec![
            format!("/orgs/{org}/clients"),
            format!("/orgs/{org}/team"),
            format!("/orgs/{org}/invites"),
            format!("/w/{ws}/entities"),
            format!("/w/{ws}/entities/{e}"),
            format!("/w/{ws}/settings/members"),
            format!("/w/{ws}/settings/activity"),
        ]
    };
    let mut small = Vec::new();
    for p in pages(ws, e0) {
        small.push(queries_of(&app, &ada, &p).await);
    }

    // Ten times the rows of every kind.
    for i in 1..10 {
        ada.add_client(org, &format!("Client {i}")).await;
        let e = ada.add_entity(ws, &format!("Entity {i}")).await;
        ada.post(
            &format!("/w/{ws}/entities/{e0}/transactions"),
            &[
                ("date", "2026-01-02"),
                ("description", &format!("t{i}")),
                ("amount", "2"),
            ],
        )
        .await;
        app.add_client_user(&ada, ws, &format!("m{i}@client.test"), "member", &[e0, e])
            .await;
        ada.invite(ws, &format!("p{i}@client.test"), "accountant", &[e]).await;
        ada.post(
            &format!("/orgs/{org}/team/invite"),
            &[
                ("emails", &format!("s{i}@firm.test")),
                ("role", "member"),
                ("client", &ws.to_string()),
            ],
        )
        .await;
    }
    for (p, before) in pages(ws, e0).into_iter().zip(small) {
        let after = queries_of(&app, &ada, &p).await;
        assert_eq!(
            after, before,
            "{p}: {before} queries with one row of each kind, {after} with ten"
        );
    }
}
