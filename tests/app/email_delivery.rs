//! The firm's Email delivery page: what is failing, for how long, and the mail server's
//! last answer; for firm Admins only.

use diesel::prelude::*;
use reqwest::StatusCode;

use crate::queries::queries_of;
use crate::support::{firm_with_a_client, now, row, text_of, TestApp};

/// Waits until every queued invite email has been tried at least once (and failed).
async fn all_tried(app: &TestApp, n: i64) {
    use portico::db::schema::outbox as o;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let failed = app
            .db
            .read(|c| {
                o::table.filter(o::kind.eq("invite")).filter(o::last_error.is_not_null()).count().get_result::<i64>(c)
            })
            .await
            .unwrap();
        if failed >= n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{failed} of {n} emails tried");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Moves every failing email's first failure `hours` back, and its next try an hour on
/// (the worker leaves it alone meanwhile).
async fn failing_since_hours_ago(app: &TestApp, hours: i64) {
    use portico::db::schema::outbox as o;
    app.db
        .write(move |c| {
            diesel::update(o::table.filter(o::last_error.is_not_null()))
                .set((
                    o::first_failed_at.eq(Some(now() - chrono::Duration::hours(hours))),
                    o::next_attempt_at.eq(now() + chrono::Duration::minutes(59)),
                ))
                .execute(c)
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn firm_admins_see_failing_emails_with_the_servers_answer_until_they_go_out() {
    let f = firm_with_a_client().await;
    let org = f.org;
    let page = format!("/orgs/{org}/email");
    let (status, body) = f.ada.page(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&body).contains("No email is failing."), "{}", text_of(&body));
    assert!(body.contains(&format!("href=\"/orgs/{org}/email\" aria-current=\"page\">Email delivery</a>")));

    f.app.smtp.set_refusing(true);
    let r = f.ada.invite(f.ws, "cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = f
        .ada
        .post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", "pat@firm.test"), ("role", "member"), ("new_clients", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    all_tried(&f.app, 2).await;

    let (_, body) = f.ada.page(&page).await;
    let cleo = row(&body, "cleo@client.test");
    assert!(cleo.contains("Invite to Acme Bakery"), "{cleo}");
    assert!(cleo.contains("(451): 4.3.0 try again later"), "the mail server's answer: {cleo}");
    assert!(cleo.contains("less than a minute") && cleo.contains("next try"), "{cleo}");
    assert!(row(&body, "pat@firm.test").contains("Team invite"));
    assert!(text_of(&body).contains("2 emails are waiting to be sent"), "{}", text_of(&body));

    // Failing for long: the page and the invite's badge say for how long.
    failing_since_hours_ago(&f.app, 2).await;
    let (_, body) = f.ada.page(&page).await;
    let cleo = row(&body, "cleo@client.test");
    assert!(cleo.contains("2 hours") && cleo.contains("next try in 59 minutes"), "{cleo}");
    let members = f.ada.members_page(f.ws).await;
    assert!(
        row(&members, "cleo@client.test").contains("Email failing for 2 hours"),
        "{}",
        row(&members, "cleo@client.test")
    );
    let (_, team) = f.ada.page(&format!("/orgs/{org}/invites")).await;
    assert!(row(&team, "pat@firm.test").contains("Email failing for 2 hours"), "{}", row(&team, "pat@firm.test"));
    // The "Delivery failed" tabs list them (the outbox keeps the status on the invite).
    let failed_members = format!("/w/{}/settings/members?status=failed", f.ws);
    let (_, body) = f.ada.page(&failed_members).await;
    assert!(text_of(&body).contains("Delivery failed (1)") && body.contains("cleo@client.test"), "{}", text_of(&body));
    let (_, body) = f.ada.page(&format!("/orgs/{org}/team?status=failed")).await;
    assert!(text_of(&body).contains("Delivery failed (1)") && body.contains("pat@firm.test"), "{}", text_of(&body));

    // The server takes mail again, slowly. Sent again by hand, cleo's invite leaves the
    // tab at once: its newest email has not failed (it is on its way).
    f.app.smtp.set_refusing(false);
    f.app.smtp.set_delay(std::time::Duration::from_secs(2));
    let cleo_invite = crate::support::invite_id_on(&members, "cleo@client.test");
    f.app.allow_resend(cleo_invite).await;
    assert_eq!(f.ada.resend_invite(f.ws, cleo_invite).await.status(), StatusCode::SEE_OTHER);
    let (_, body) = f.ada.page(&failed_members).await;
    let text = text_of(&body);
    assert!(text.contains("Delivery failed (0)") && text.contains("No one matches."), "{text}");
    f.app.smtp.set_delay(std::time::Duration::ZERO);

    // Once sent, the emails leave the page.
    {
        use portico::db::schema::outbox as o;
        f.app.db.write(|c| diesel::update(o::table).set(o::next_attempt_at.eq(now())).execute(c)).await.unwrap();
    }
    f.app.outbox_settled().await;
    let (_, body) = f.ada.page(&page).await;
    assert!(text_of(&body).contains("No email is failing."), "{}", text_of(&body));
    assert!(text_of(&body).contains("No email is waiting to be sent."));
    assert!(f.until_row_says("cleo@client.test", "Email sent").await.contains("Email sent"));
    let (_, body) = f.ada.page(&format!("/orgs/{org}/team?status=failed")).await;
    let text = text_of(&body);
    assert!(text.contains("Delivery failed (0)") && text.contains("No one matches."), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_firms_admins_open_it_and_see_only_their_firms_emails() {
    let f = firm_with_a_client().await;
    let org = f.org;
    let mut staff = Vec::new();
    for (email, role) in [("max@firm.test", "manager"), ("mia@firm.test", "member")] {
        let (user, _) = f.app.sign_up("Staff Person", email, "Own firm").await;
        let id = f.app.user_id(email).await;
        f.app.add_to_team(org, id, role).await;
        staff.push((user, role));
    }
    let (other, other_org) = f.app.sign_up("Olga Other", "olga@other.test", "Other & Co").await;
    let client_admin = f.app.add_client_user(&f.ada, f.ws, "cara@client.test", "admin", &[]).await;
    f.app.smtp.set_refusing(true);
    assert_eq!(f.ada.invite(f.ws, "cleo@client.test", "member", &[f.llc]).await.status(), StatusCode::SEE_OTHER);
    all_tried(&f.app, 1).await;

    // A Manager and a Member of the firm: refused, and no link in the sidebar.
    for (user, role) in staff {
        let (status, body) = user.page(&format!("/orgs/{org}/email")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        assert!(!body.contains("cleo@client.test"));
        let (_, clients) = user.page(&format!("/orgs/{org}/clients")).await;
        assert!(!clients.contains(&format!("/orgs/{org}/email")), "{role} has no Email delivery link");
    }

    // Another firm's Admin: not found, and their own page lists none of it.
    assert_eq!(other.page(&format!("/orgs/{org}/email")).await.0, StatusCode::NOT_FOUND);
    let (status, body) = other.page(&format!("/orgs/{other_org}/email")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("cleo@client.test") && text_of(&body).contains("No email is failing."));
    // A client's Admin (not firm staff) likewise.
    assert_eq!(client_admin.page(&format!("/orgs/{org}/email")).await.0, StatusCode::NOT_FOUND);
    f.app.smtp.set_refusing(false);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_makes_as_many_queries_for_thirty_failing_emails_as_for_one() {
    let f = firm_with_a_client().await;
    let page = format!("/orgs/{}/email", f.org);
    f.app.smtp.set_refusing(true);
    assert_eq!(f.ada.invite(f.ws, "one@client.test", "member", &[f.llc]).await.status(), StatusCode::SEE_OTHER);
    all_tried(&f.app, 1).await;
    failing_since_hours_ago(&f.app, 1).await;
    let (one, body) = queries_of(&f.app, &f.ada, &page).await;
    assert!(body.contains("one@client.test"));
    let emails: Vec<String> = (0..29).map(|i| format!("p{i}@firm.test")).collect();
    let r = f
        .ada
        .post(
            &format!("/orgs/{}/team/invite", f.org),
            &[("emails", &emails.join(", ")), ("role", "member"), ("new_clients", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    all_tried(&f.app, 30).await;
    failing_since_hours_ago(&f.app, 1).await;
    let (thirty, body) = queries_of(&f.app, &f.ada, &page).await;
    assert_eq!(crate::support::body_rows(&body).len(), 30, "thirty rows");
    assert_eq!(thirty, one, "queries for 30 failing emails as for 1");
}

/// The mail server restarts between two emails: the connection kept open from the first
/// is dead, and the second goes out over a new one at its first attempt (no failure, no
/// retry an hour's backoff away from the person waiting for it).
#[tokio::test(flavor = "multi_thread")]
async fn a_mail_server_restart_between_emails_fails_nothing() {
    let f = firm_with_a_client().await;
    let r = f.ada.invite(f.ws, "cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    f.app.smtp.wait_for("cleo@client.test", 1).await;
    f.app.smtp.go_down();
    f.app.smtp.come_back().await;
    let r = f.ada.invite(f.ws, "dora@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    f.app.smtp.wait_for("dora@client.test", 1).await;
    f.app.outbox_settled().await;
    let dora = crate::support::invite_id_on(&f.ada.members_page(f.ws).await, "dora@client.test");
    let rows = f.app.outbox_of(dora).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1), ("sent", 1), "sent at the first attempt: {rows:?}");
}
