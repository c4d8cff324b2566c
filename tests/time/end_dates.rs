//! Access end dates: an invite's, a workspace membership's and a firm Member's client
//! access end on the very next request once the clock passes them; a sweep then removes
//! the rows with an audit event; the workspace's Admins hear a week before and can extend.

use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::clock;
use crate::support::{input_value, location, row, spawn_app_with, text_of, Options, TestApp, TestUser, PASSWORD};

/// An app whose sessions outlive the clock's jumps (a month and more).
async fn app() -> TestApp {
    spawn_app_with(Options {
        adjust: |s| {
            s.session_idle_minutes = 60 * 24 * 400;
            s.session_lifetime_hours = 24 * 400;
        },
        ..Options::default()
    })
    .await
}

/// A date `days` from today on the app's clock, as a date field sends it.
fn in_days(days: i64) -> String {
    (portico::clock::today() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

/// As lists show it: "31 Mar 2027".
fn words(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").unwrap().format("%-d %b %Y").to_string()
}

struct Client {
    app: TestApp,
    ada: TestUser,
    org: i64,
    ws: i64,
    llc: i64,
}

async fn firm() -> Client {
    let app = app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    Client { app, ada, org, ws, llc }
}

impl Client {
    /// Ada invites `email` as a Member of Acme LLC with this end date; they accept.
    async fn member_until(&self, email: &str, ends: &str) -> (TestUser, i64) {
        let before = self.app.mails_to(email).len();
        let llc = self.llc.to_string();
        let r = self
            .ada
            .post(
                &format!("/w/{}/settings/members/invite", self.ws),
                &[("email", email), ("role", "member"), ("entity", &llc), ("ends", ends)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "invite: {}", text_of(&r.text().await.unwrap_or_default()));
        let link = self.app.invite_link(email, before + 1).await;
        let user = self.app.accept_as_new_user(&link, "Bob Booker").await;
        (user, self.app.user_id(email).await)
    }

    async fn ends_at(&self, user: i64) -> Option<chrono::NaiveDateTime> {
        use portico::db::schema::workspace_memberships as m;
        let ws = self.ws;
        self.app
            .db
            .read(move |c| {
                m::table.filter(m::workspace_id.eq(ws)).filter(m::user_id.eq(user)).select(m::ends_at).first::<Option<
                    chrono::NaiveDateTime,
                >>(
                    c
                )
            })
            .await
            .expect("their row")
    }

    /// The audit events of one action, as (target, detail), waiting up to 20 s for at least
    /// `n` (the sweep runs beside the requests, about once a second).
    async fn events(&self, action: &'static str, n: usize) -> Vec<(String, String, Option<i64>)> {
        use portico::db::schema::audit_events as a;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let found = self
                .app
                .db
                .read(move |c| {
                    a::table
                        .filter(a::action.eq(action))
                        .order(a::id.asc())
                        .select((a::target_email, a::detail, a::actor_id))
                        .load::<(String, String, Option<i64>)>(c)
                })
                .await
                .expect("audit events");
            if found.len() >= n || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn an_invite_with_an_end_date_gives_access_until_that_date_and_not_one_request_longer() {
    let clock = clock().await;
    let f = firm().await;
    let ends = in_days(10);
    let (bob, bob_id) = f.member_until("bob@client.test", &ends).await;
    assert!(f.ends_at(bob_id).await.is_some(), "the membership carries the invite's end date");
    let books = format!("/w/{}/entities/{}", f.ws, f.llc);
    assert_eq!(bob.page(&books).await.0, StatusCode::OK, "Bob works in the books before the end date");
    let members = f.ada.members_page(f.ws).await;
    assert!(
        row(&members, "bob@client.test").contains(&format!("until {}", words(&ends))),
        "{}",
        row(&members, "bob@client.test")
    );

    // The day before: still in. At midnight UTC of the end date: out, on the next request.
    clock.advance_days(9);
    assert_eq!(bob.page(&books).await.0, StatusCode::OK, "the day before the end date");
    clock.advance_days(1);
    assert_eq!(bob.page(&books).await.0, StatusCode::NOT_FOUND, "the end date has come: the very next request");
    assert_eq!(bob.page(&format!("/w/{}/entities", f.ws)).await.0, StatusCode::NOT_FOUND);
    let (_, home) = bob.page("/").await;
    assert!(!text_of(&home).contains("Acme Bakery"), "the workspace is gone from Bob's home page");
    let members = f.ada.members_page(f.ws).await;
    assert!(!members.contains("bob@client.test"), "Bob is no longer listed as a member");

    // The sweep removes the row, with an audit event that names no actor (Portico did it).
    let ended = f.events("access_ended", 1).await;
    assert_eq!(ended.len(), 1, "one audit event: {ended:?}");
    assert_eq!(ended[0].0, "bob@client.test");
    assert_eq!(ended[0].1, format!("end date {}", words(&ends)));
    assert_eq!(ended[0].2, None);
    assert_eq!(f.app.membership_rows(f.ws, bob_id).await, 0, "the row is gone");
    let (_, activity) = f.ada.page(&format!("/w/{}/settings/activity", f.ws)).await;
    assert!(text_of(&activity).contains("Portico ended, on its end date, the access of bob@client.test"));
}

#[tokio::test]
async fn configure_permissions_sets_changes_and_clears_an_end_date_and_refuses_bad_ones() {
    let clock = clock().await;
    let f = firm().await;
    let (bob, bob_id) = f.member_until("bob@client.test", "").await;
    assert_eq!(f.ends_at(bob_id).await, None, "no end date by default");
    let path = format!("/w/{}/settings/members/{bob_id}/permissions", f.ws);
    let (_, form) = f.ada.page(&path).await;
    assert_eq!(input_value(&form, "ends").as_deref(), Some(""), "the field is there, empty");
    let llc = f.llc.to_string();

    // A past date, today, and nonsense come back on the form with the input; nothing saved.
    for (typed, says) in [
        (in_days(-1), "The end date must be after today."),
        (in_days(0), "The end date must be after today."),
        ("next spring".to_string(), "Enter the end date as a date"),
    ] {
        let r = f.ada.post(&path, &[("role", "member"), ("entity", &llc), ("ends", &typed)]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let body = r.text().await.unwrap();
        assert!(text_of(&body).contains(says), "{typed}: {}", text_of(&body));
        assert_eq!(input_value(&body, "ends").as_deref(), Some(typed.as_str()), "what was typed stays");
        assert_eq!(f.ends_at(bob_id).await, None, "nothing saved for {typed}");
    }

    let ends = in_days(30);
    let r = f.ada.post(&path, &[("role", "member"), ("entity", &llc), ("ends", &ends)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = f.ends_at(bob_id).await.expect("an end date");
    assert_eq!(stored.format("%Y-%m-%d").to_string(), ends);
    assert_eq!(stored.format("%H:%M:%S").to_string(), "00:00:00", "midnight UTC at the start of the date");
    let (_, form) = f.ada.page(&path).await;
    assert_eq!(input_value(&form, "ends").as_deref(), Some(ends.as_str()), "the form shows it");

    let r = f.ada.post(&path, &[("role", "member"), ("entity", &llc), ("ends", "")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.ends_at(bob_id).await, None, "cleared: no end date");
    clock.advance_days(60);
    assert_eq!(bob.page(&format!("/w/{}/entities", f.ws)).await.0, StatusCode::OK, "no end date, no end");
}

#[tokio::test]
async fn the_workspace_admins_hear_a_week_before_once_and_extend_with_one_click() {
    let clock = clock().await;
    let f = firm().await;
    let ends = in_days(20);
    let (bob, bob_id) = f.member_until("bob@client.test", &ends).await;
    f.app.outbox_settled().await;
    let subject = format!("Bob Booker's access to Acme Bakery ends on {}", words(&ends));

    // 13 days before: nothing yet. 6 days before: one email to Ada (the only Admin).
    clock.advance_days(7);
    assert_eq!(notices(&f.app).await, 0, "not yet: more than a week to go");
    clock.advance_days(7);
    let mail = f.app.smtp.wait_for_subject("ada@firm.test", &subject).await;
    let link = mail.link(&format!("{}/w/", f.app.base)).expect("an Extend link");
    assert!(link.ends_with(&format!("/w/{}/settings/members/{bob_id}/extend", f.ws)), "{link}");
    assert!(mail.html.contains(">Extend</a>"), "a button: {}", mail.html);
    let to_ada = f.app.mails_to("ada@firm.test").into_iter().filter(|m| m.subject == subject).count();
    assert_eq!(to_ada, 1, "one notice");
    clock.advance_days(1);
    f.app.outbox_settled().await;
    assert_eq!(notices(&f.app).await, 1, "one notice per end date, however often the sweep runs");
    assert!(f.app.mails_to("bob@client.test").iter().all(|m| !m.subject.contains("ends on")), "Bob is not told");

    // Bob (a Member) may not extend his own access.
    assert_ne!(bob.page(&link.replace(&f.app.base, "")).await.0, StatusCode::OK);

    // Ada opens the link and clicks Extend: the proposed date is 30 days after the old end.
    let (status, page) = f.ada.page(&link.replace(&f.app.base, "")).await;
    assert_eq!(status, StatusCode::OK);
    let proposed = input_value(&page, "ends").expect("a proposed date");
    assert_eq!(proposed, in_days(5 + 30), "30 days after the old end date (5 days from now)");
    let r = f.ada.post(&link.replace(&f.app.base, ""), &[("ends", &proposed)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/w/{}/settings/members", f.ws));
    let stored = f.ends_at(bob_id).await.expect("still an end date");
    assert_eq!(stored.format("%Y-%m-%d").to_string(), proposed);
    let extended = f.events("extended", 1).await;
    assert_eq!(extended[0].1, format!("until {} (was {})", words(&proposed), words(&ends)));

    // An earlier date is not an extension.
    let r = f.ada.post(&link.replace(&f.app.base, ""), &[("ends", &in_days(6))]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("Choose a date after the current end date."));

    // The old end date passes: Bob is still in.
    clock.advance_days(6);
    assert_eq!(bob.page(&format!("/w/{}/entities", f.ws)).await.0, StatusCode::OK);
}

/// "Access ends soon" rows in the outbox.
async fn notices(app: &TestApp) -> i64 {
    use portico::db::schema::outbox as o;
    app.db
        .read(|c| o::table.filter(o::kind.eq("access_ending")).count().get_result::<i64>(c))
        .await
        .expect("count notices")
}

#[tokio::test]
async fn a_firm_members_client_access_ends_on_its_date_and_they_stay_on_the_team() {
    let clock = clock().await;
    let f = firm().await;
    let ends = in_days(5);
    let client = f.ws.to_string();
    let r = f
        .ada
        .post(
            &format!("/orgs/{}/team/invite", f.org),
            &[("emails", "carol@firm.test"), ("role", "member"), ("client", &client), ("ends", &ends)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    let link = f.app.invite_link("carol@firm.test", 1).await;
    let carol = f.app.accept_as_new_user(&link, "Carol Clerk").await;
    let carol_id = f.app.user_id("carol@firm.test").await;
    let books = format!("/w/{}/entities", f.ws);
    assert_eq!(carol.page(&books).await.0, StatusCode::OK);
    let (_, team) = f.ada.page(&format!("/orgs/{}/team", f.org)).await;
    assert!(
        row(&team, "carol@firm.test").contains(&format!("client access until {}", words(&ends))),
        "{}",
        row(&team, "carol@firm.test")
    );

    // Five days to go: the firm's Admins and Managers hear now, with a link to her access.
    let subject = format!("Carol Clerk's access to the clients of Ames & Co ends on {}", words(&ends));
    let mail = f.app.smtp.wait_for_subject("ada@firm.test", &subject).await;
    let link = mail.link(&format!("{}/orgs/", f.app.base)).expect("a link to her access");
    assert!(link.ends_with(&format!("/orgs/{}/team/{carol_id}/permissions", f.org)), "{link}");
    let (_, form) = f.ada.page(&link.replace(&f.app.base, "")).await;
    assert_eq!(input_value(&form, "ends").as_deref(), Some(ends.as_str()), "Configure shows the end date");

    clock.advance_days(5);
    assert_eq!(carol.page(&books).await.0, StatusCode::NOT_FOUND, "the very next request");
    let ended = f.events("access_ended", 1).await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].1, format!("client access end date {}", words(&ends)));
    assert_eq!(f.app.org_role(f.org, carol_id).await.as_deref(), Some("member"), "still on the team");
    let grants = {
        use portico::db::schema::{org_client_grants as g, org_memberships as m};
        let org = f.org;
        f.app
            .db
            .read(move |c| {
                g::table
                    .inner_join(m::table)
                    .filter(m::user_id.eq(carol_id))
                    .filter(m::organization_id.eq(org))
                    .count()
                    .get_result::<i64>(c)
            })
            .await
            .unwrap()
    };
    assert_eq!(grants, 0, "her client grants are gone");
    let (_, team) = f.ada.page(&format!("/orgs/{}/team", f.org)).await;
    assert!(!row(&team, "carol@firm.test").contains("until"), "{}", row(&team, "carol@firm.test"));
    // Signing in again changes nothing.
    let again = f.app.visitor();
    again.log_in("carol@firm.test", PASSWORD).await;
    assert_eq!(again.page(&books).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_invite_whose_access_would_already_have_ended_cannot_be_accepted() {
    let clock = clock().await;
    let f = firm().await;
    let llc = f.llc.to_string();
    let r = f
        .ada
        .post(
            &format!("/w/{}/settings/members/invite", f.ws),
            &[("email", "dan@client.test"), ("role", "member"), ("entity", &llc), ("ends", &in_days(2))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = f.app.invite_link("dan@client.test", 1).await;
    clock.advance_days(3);
    let dan = f.app.visitor();
    let (_, page) = dan.page(&link.replace(&f.app.base, "")).await;
    assert!(text_of(&page).contains("This invite has expired"), "{}", text_of(&page));
    let r = dan.invite_post(&link, "register", &[("name", "Dan"), ("password", PASSWORD)]).await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER, "not accepted");
    assert_eq!(f.app.user_count().await, 1, "no account was made for Dan");
}
