//! Without SMTP settings emails are kept and each person reads the mail sent to their own
//! confirmed address on the local mailbox page, so the whole flow works with no mail
//! server; with SMTP settings that page does not exist.

use reqwest::StatusCode;

use crate::support::{id_after, invite_id_on, location, spawn_app, spawn_app_with, text_of, Options};

#[tokio::test(flavor = "multi_thread")]
async fn without_smtp_the_invitee_reads_their_invite_in_the_local_mailbox() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let (ada, org) = app.sign_up("Ada Accountant", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    let r = ada.invite(ws, "cleo@client.test", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = ada.visit(&format!("/w/{ws}/settings/members")).await;
    // The mailbox shows each person only their own mail: the flash points to the link instead.
    let flash = text_of(&body);
    assert!(
        flash.contains("No mail server is set up: the email's link is in Portico's log; \"Copy invite link\""),
        "{flash}"
    );
    assert!(!flash.contains("/dev/mailbox"), "{flash}");
    let invite = invite_id_on(&body, "cleo@client.test");
    let (_, page) = ada.page(&format!("/w/{ws}/settings/invites/{invite}/link")).await;
    let prefix = format!("{}/invites/", app.base);
    let start = page.find(&prefix).expect("the link is on the Copy invite link page");
    let link: String = page[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    // A copied link proves no address: the account waits for Cleo to confirm hers (the
    // confirmation link is in the log), then she accepts.
    let cleo = app.accept_as_new_user(&link, "Cleo Client").await;
    let r = cleo.post(&app.confirmation_link("cleo@client.test").await, &[]).await;
    assert_eq!(location(&r), link.trim_start_matches(&app.base), "back to the invite");
    assert_eq!(cleo.accept_invite(&link).await.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = cleo.visit("/").await;
    assert!(text_of(&body).contains("Acme LLC"));

    // Cleo, whose address the invite link proved, reads her invite in the local mailbox.
    let mut listed = String::new();
    for _ in 0..50 {
        let (status, body) = cleo.page("/dev/mailbox").await;
        assert_eq!(status, StatusCode::OK);
        listed = body;
        if text_of(&listed).contains("cleo@client.test Ada Accountant invited you to Acme Bakery on Portico") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = text_of(&listed);
    assert!(text.contains("cleo@client.test Ada Accountant invited you to Acme Bakery on Portico"), "{text}");
    // The invitation (the confirmation email is listed too): its link comes just before it.
    let at = listed.find("invited you to Acme Bakery").expect("the invitation is listed");
    let id = id_after(&listed[listed[..at].rfind("/dev/mailbox/").unwrap()..], "/dev/mailbox/");
    let (status, mail) = cleo.page(&format!("/dev/mailbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&mail);
    assert!(text.contains("Entities: Acme LLC"), "{text}");
    assert!(mail.contains(&link), "the message shows its link");
    // Not Ada's to read.
    assert_eq!(ada.get(&format!("/dev/mailbox/{id}")).await.status(), StatusCode::NOT_FOUND);

    // Signed out, the mailbox is closed; unknown ids are not found.
    let visitor = app.visitor();
    assert_eq!(visitor.get("/dev/mailbox").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.get(&format!("/dev/mailbox/{id}")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(ada.get("/dev/mailbox/999999").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_smtp_there_is_no_local_mailbox() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Accountant", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    ada.invite_to_all_entities(ws, "cleo@client.test", "member").await;
    app.smtp.wait_for("cleo@client.test", 1).await;
    assert_eq!(ada.get("/dev/mailbox").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(ada.get("/dev/mailbox/1").await.status(), StatusCode::NOT_FOUND);
}

/// The mailbox list names each email by its subject without rendering each one: its query
/// count is the same for one email as for five.
#[tokio::test(flavor = "multi_thread")]
async fn the_mailbox_list_makes_the_same_queries_for_one_email_as_for_many() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let (ada, org) = app.sign_up("Ada Accountant", "ada@firm.test", "Ada & Co").await;
    let (bob, _) = app.sign_up("Bob Bookkeeper", "bob@elsewhere.test", "Bob's Books").await;
    let count = |page: &str| page.matches("/dev/mailbox/").count();
    let ws = ada.add_client(org, "Client 0").await;
    assert_eq!(ada.invite_to_all_entities(ws, "bob@elsewhere.test", "member").await.status(), StatusCode::SEE_OTHER);
    // The outbox worker shares the pool: measured once it has nothing left to send.
    app.outbox_settled().await;
    let (one, page) = crate::queries::queries_of(&app, &bob, "/dev/mailbox").await;
    assert_eq!(count(&page), 2, "his confirmation email and one invite");
    for n in 1..5 {
        let ws = ada.add_client(org, &format!("Client {n}")).await;
        assert_eq!(
            ada.invite_to_all_entities(ws, "bob@elsewhere.test", "member").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    app.outbox_settled().await;
    let (many, page) = crate::queries::queries_of(&app, &bob, "/dev/mailbox").await;
    assert_eq!(count(&page), 6);
    let text = text_of(&page);
    for n in 0..5 {
        assert!(text.contains(&format!("Ada Accountant invited you to Client {n} on Portico")), "{text}");
    }
    assert!(text.contains("Confirm your email address for Portico"), "{text}");
    assert_eq!(one, many, "queries for 2 emails and for 6");
}
