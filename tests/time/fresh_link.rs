//! "Send me a new link" on an expired invite: only the invited address gets it, the old
//! link stops working, the inviter reads it in the activity log; a few an hour per network;
//! a cancelled invite offers no such thing.

use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::clock;
use crate::support::{csrf_in, invite_id_on, spawn_app_with, text_of, Options, TestApp, TestUser};

async fn firm() -> (TestApp, TestUser, i64, i64) {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.session_idle_minutes = 60 * 24 * 400;
            s.session_lifetime_hours = 24 * 400;
        },
        ..Options::default()
    })
    .await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    (app, ada, ws, llc)
}

/// The invite emails in the outbox (any state) for `invite`.
async fn invite_emails(app: &TestApp, invite: i64) -> Vec<String> {
    use portico::db::schema::outbox as o;
    app.db
        .read(move |c| {
            o::table.filter(o::invite_id.eq(invite)).order(o::id.asc()).select(o::to_email).load::<String>(c)
        })
        .await
        .expect("outbox rows")
}

/// Opens `link` as `who` and presses "Send me a new link" on the expired page.
async fn ask_for_a_new_link(who: &TestUser, link: &str) -> reqwest::Response {
    let path = link.split_once("/invites/").map(|(_, t)| format!("/invites/{t}")).unwrap();
    let token = path.trim_start_matches("/invites/").split('?').next().unwrap().to_string();
    let (status, page) = who.page(&path).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(text_of(&page).contains("This invite has expired"), "{}", text_of(&page));
    assert!(page.contains(&format!("action=\"/invites/{token}/new-link\"")), "the button: {page}");
    let csrf = csrf_in(&page).expect("a CSRF token");
    who.post_raw(&format!("/invites/{token}/new-link"), &[("csrf", &csrf)]).await
}

#[tokio::test]
async fn the_new_link_goes_only_to_the_invited_address_and_the_old_one_stops() {
    let clock = clock().await;
    let (app, ada, ws, llc) = firm().await;
    let r = ada.invite(ws, "bob@client.test", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let old = app.invite_link("bob@client.test", 1).await;
    let invite = invite_id_on(&ada.members_page(ws).await, "bob@client.test");
    app.outbox_settled().await;
    clock.advance_days(8);

    // Eve holds Bob's old link (forwarded, found): she asks for a new one.
    let eve = app.visitor();
    let mails_before = app.smtp.messages().len();
    let r = ask_for_a_new_link(&eve, &old).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = text_of(&r.text().await.unwrap());
    assert!(page.contains("We sent you a new link"), "{page}");
    assert!(
        page.contains("b\u{2022}\u{2022}\u{2022}@client.test") && !page.contains("bob@client.test"),
        "masked: {page}"
    );

    let fresh = app.invite_link("bob@client.test", 2).await;
    assert_ne!(fresh, old, "a new link");
    app.outbox_settled().await;
    assert_eq!(app.smtp.messages().len(), mails_before + 1, "one email, and no other");
    assert_eq!(invite_emails(&app, invite).await, vec!["bob@client.test", "bob@client.test"], "only to Bob");

    // The old link is dead; the new one works for Bob.
    let (status, _) = eve.page(&old.replace(&app.base, "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bob = app.accept_as_new_user(&fresh, "Bob Booker").await;
    assert_eq!(bob.page(&format!("/w/{ws}/entities")).await.0, StatusCode::OK);

    let (_, activity) = ada.page(&format!("/w/{ws}/settings/activity")).await;
    assert!(
        text_of(&activity).contains("Portico sent a new invite link, as asked on the expired one, to bob@client.test"),
        "{}",
        text_of(&activity)
    );
}

#[tokio::test]
async fn one_network_gets_a_few_new_links_an_hour() {
    let clock = clock().await;
    let (app, ada, ws, llc) = firm().await;
    let mut links = Vec::new();
    for i in 0..11 {
        let email = format!("p{i}@client.test");
        assert_eq!(ada.invite(ws, &email, "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
        links.push((email.clone(), app.invite_link(&email, 1).await));
    }
    app.outbox_settled().await;
    clock.advance_days(8);
    let holder = app.visitor();
    for (email, link) in &links[..10] {
        let r = ask_for_a_new_link(&holder, link).await;
        assert_eq!(r.status(), StatusCode::OK, "{email}");
    }
    let (email, link) = &links[10];
    let r = ask_for_a_new_link(&holder, link).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(text_of(&r.text().await.unwrap())
        .contains("The limit of 10 new invite links from your network per hour is reached."));
    let invite = invite_id_on(&ada.members_page(ws).await, email);
    assert_eq!(invite_emails(&app, invite).await.len(), 1, "nothing more queued for {email}");
}

#[tokio::test]
async fn a_cancelled_invite_offers_no_new_link() {
    let clock = clock().await;
    let (app, ada, ws, llc) = firm().await;
    assert_eq!(ada.invite(ws, "bob@client.test", "member", &[llc]).await.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("bob@client.test", 1).await;
    let invite = invite_id_on(&ada.members_page(ws).await, "bob@client.test");
    assert_eq!(ada.cancel_invite(ws, invite).await.status(), StatusCode::SEE_OTHER);
    clock.advance_days(8);
    let eve = app.visitor();
    let path = link.replace(&app.base, "");
    let (status, page) = eve.page(&path).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(text_of(&page).contains("This invite was cancelled") && !page.contains("new-link"), "{}", text_of(&page));
    let token = path.trim_start_matches("/invites/").split('?').next().unwrap().to_string();
    let r = eve.post(&format!("/invites/{token}/new-link"), &[]).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite was cancelled"));
    assert_eq!(invite_emails(&app, invite).await.len(), 1, "nothing sent");
}
