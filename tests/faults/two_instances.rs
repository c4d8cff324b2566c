//! Two instances of Portico on one PostgreSQL database, as behind a load balancer.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::{self, say};
use super::instance::{on_postgres, Stack};
use crate::support::{text_of, TestUser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_send_each_email_once_and_keep_the_rules() {
    if !on_postgres() {
        common::not_here(
            "two_instances_share_sessions_send_each_email_once_and_keep_the_rules",
            "needs PostgreSQL (TEST_DATABASE_URL): several instances share a PostgreSQL database, SQLite is for one",
        );
        return;
    }
    let _one = common::serial().await;
    let stack = Stack::new().await;
    let (port_a, port_b) = (super::instance::free_port(), super::instance::free_port());
    // One public address for both, as behind a balancer (links name it).
    let public = format!("http://127.0.0.1:{port_a}");
    let mut env = common::BUSY_FIRM.to_vec();
    env.push(("PUBLIC_URL", &public));
    let a = stack.start_on(port_a, &env).await;
    let b = stack.start_on(port_b, &env).await;
    let app = stack.app(&a);
    let f = Arc::new(common::firm(&app).await);

    // 1. A session made on one instance is valid on the other, and signing out on one
    //    ends it on both.
    let members = format!("/w/{}/settings/members", f.ws);
    let on_b = common::get(&f.ada, &b.base, &members).await;
    assert!(on_b.is(StatusCode::OK), "Ada, signed in on A, opens Members on B: {:?}", on_b.status);
    let (sam, sam_org) = app.sign_up("Sam Second", "sam@firm.test", "Sam & Co").await;
    let clients = format!("/orgs/{sam_org}/clients");
    assert!(common::get(&sam, &b.base, &clients).await.is(StatusCode::OK), "Sam, signed up on A, works on B");
    let out = common::post(&sam, &b.base, "/logout", &[]).await;
    assert!(out.is(StatusCode::SEE_OTHER), "Sam signs out on B");
    let after = common::get(&sam, &a.base, &clients).await;
    assert!(after.is(StatusCode::SEE_OTHER), "Sam's old cookie opens nothing on A: {:?}", after.status);

    // 2. Invites sent through both instances at once: each email sent exactly once.
    let sends = (0..40).map(|i| {
        let f = f.clone();
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        async move {
            let email = format!("both-{i}@client.test");
            let answer = common::invite(&f, &base, &email).await;
            (email, answer)
        }
    });
    let answers = futures::future::join_all(sends).await;
    for (email, answer) in &answers {
        assert!(answer.is(StatusCode::SEE_OTHER), "invite {email}: {:?} {}", answer.status, text_of(&answer.body));
    }
    let rows = common::outbox_drained(&stack.db, &public, Duration::from_secs(60)).await;
    let delivery = common::compare(&rows, &stack.smtp);
    assert!(delivery.lost.is_empty() && delivery.unknown.is_empty(), "{delivery:?}");
    assert!(delivery.duplicated.is_empty(), "no email sent by both instances: {delivery:?}");
    assert_eq!(rows.iter().filter(|r| r.invite_id.is_some()).count(), 40);
    let sent_by = senders(&a.log(), &b.log());

    // 3. The last Admin: Ada on A and Bo on B demote each other at the same moment.
    let (bo, _) = app.sign_up("Bo Admin", "bo@firm.test", "Bo & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let bo_id = app.user_id("bo@firm.test").await;
    app.add_to_team(f.org, bo_id, "admin").await;
    let mut refusals = Vec::new();
    for round in 0..6 {
        let (x, y) = tokio::join!(demote(&f.ada, &a.base, f.org, bo_id), demote(&bo, &b.base, f.org, ada_id));
        let statuses = [x.status, y.status];
        assert_eq!(org_admins(&stack, f.org).await, 1, "round {round}: one Admin is left: {statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == Some(StatusCode::SEE_OTHER)).count(),
            1,
            "round {round}: one demotion wins: {statuses:?}"
        );
        refusals.extend(statuses.into_iter().flatten().filter(|s| *s != StatusCode::SEE_OTHER));
        assert!(
            refusals.iter().all(|s| *s == StatusCode::CONFLICT || *s == StatusCode::FORBIDDEN),
            "the loser is refused, not failed: {refusals:?}"
        );
        // Both Admins again, through the database.
        let org = f.org;
        stack
            .db
            .write(move |c| {
                use portico::db::schema::org_memberships as m;
                diesel::update(m::table.filter(m::organization_id.eq(org)).filter(m::user_id.eq_any([ada_id, bo_id])))
                    .set(m::role.eq("admin"))
                    .execute(c)
            })
            .await
            .unwrap();
    }

    // 4. Single-use invites: the invited person registers through A and through B at the
    //    same moment; one account, one membership.
    let mut winners = Vec::new();
    for round in 0..5 {
        let email = format!("race-{round}@client.test");
        let answer = common::invite(&f, &a.base, &email).await;
        assert!(answer.is(StatusCode::SEE_OTHER));
        let link = app.invite_link(&email, 1).await;
        let other = link.replace(&public, &b.base);
        let (one, two) = (TestUser::new(&a.base), TestUser::new(&b.base));
        assert_eq!(one.get(&link).await.status(), StatusCode::OK);
        assert_eq!(two.get(&other).await.status(), StatusCode::OK);
        let fields = [("name", "Race Person"), ("password", crate::support::PASSWORD)];
        let (x, y) =
            tokio::join!(one.invite_post(&link, "register", &fields), two.invite_post(&other, "register", &fields));
        let statuses = [x.status(), y.status()];
        assert!(!statuses.iter().any(|s| s.is_server_error()), "round {round}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "round {round}: {statuses:?}");
        let (accounts, memberships) = account_and_memberships(&stack, &email).await;
        assert_eq!((accounts, memberships), (1, 1), "round {round}: one account and one membership");
        winners.push(if x.status() == StatusCode::SEE_OTHER { "A" } else { "B" });
    }

    say(&format!(
        "fault: two instances on one PostgreSQL: a session made on A opens pages on B, signing out on B ends it on A; \
         40 invites through both: {} (instance A sent {}, B sent {}); 6 rounds of two Admins demoting each other on \
         A and B: one Admin left each time (losers answered {:?}); 5 rounds of one invite accepted on A and B at once: \
         one account and membership each (won by {:?})",
        delivery.figures(),
        sent_by.0,
        sent_by.1,
        refusals,
        winners
    ));
}

/// How many emails each instance's log says it sent.
fn senders(a: &str, b: &str) -> (usize, usize) {
    let count = |log: &str| log.lines().filter(|l| l.contains("outbox: sent")).count();
    (count(a), count(b))
}

/// Team → ⋯ → Configure permissions → Member (with New clients, so it grants something).
async fn demote(who: &TestUser, base: &str, org: i64, whom: i64) -> common::Answer {
    let path = format!("/orgs/{org}/team/{whom}/permissions");
    common::post(who, base, &path, &[("role", "member"), ("new_clients", "on")]).await
}

async fn org_admins(stack: &Stack, org: i64) -> i64 {
    use portico::db::schema::org_memberships as m;
    stack
        .db
        .read(move |c| m::table.filter(m::organization_id.eq(org)).filter(m::role.eq("admin")).count().get_result(c))
        .await
        .unwrap()
}

async fn account_and_memberships(stack: &Stack, email: &str) -> (i64, i64) {
    use portico::db::schema::{users as u, workspace_memberships as m};
    let email = email.to_string();
    stack
        .db
        .read(move |c| {
            let ids = u::table.filter(u::email.eq(email)).select(u::id).load::<i64>(c)?;
            let memberships = m::table.filter(m::user_id.eq_any(&ids)).count().get_result::<i64>(c)?;
            Ok((ids.len() as i64, memberships))
        })
        .await
        .unwrap()
}
