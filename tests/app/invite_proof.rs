//! A copied invite link ("Copy invite link") opens the invite but proves nobody owns the
//! address: only the emailed link, with its `?proof=`, confirms the address, accepts for an
//! unconfirmed account, or takes an unconfirmed account over. (Security review: Mallory
//! invited victim@ to her own client, copied the link and registered from it to get a
//! confirmed victim@ account, or Bob's unconfirmed account and his firm.)

use diesel::prelude::*;
use portico::db::schema::{account_tokens, sessions, users, workspace_memberships};
use portico::domain::token::InviteKey;
use reqwest::StatusCode;

use crate::support::{
    copied, firm_with_a_client, location, spawn_app, spawn_app_with, split_invite_link, text_of, Options, TestApp,
    TestUser, PASSWORD, SESSION_KEY,
};

const NEW_PASSWORD: &str = "the owner's own password";

/// What an account is: to check that a refused request changed none of it.
#[derive(Debug, PartialEq, Eq)]
struct Account {
    id: i64,
    name: String,
    password_hash: String,
    verified: Option<chrono::NaiveDateTime>,
    sessions: i64,
    links: i64,
}

impl TestApp {
    async fn account(&self, email: &str) -> Option<Account> {
        let e = email.to_string();
        self.db
            .read(move |c| {
                let Some((id, name, password_hash, verified)) = users::table
                    .filter(users::email.eq(e))
                    .select((users::id, users::name, users::password_hash, users::email_verified_at))
                    .first::<(i64, String, String, Option<chrono::NaiveDateTime>)>(c)
                    .optional()?
                else {
                    return Ok(None);
                };
                let sessions = sessions::table.filter(sessions::user_id.eq(id)).count().get_result(c)?;
                let links = account_tokens::table.filter(account_tokens::user_id.eq(id)).count().get_result(c)?;
                Ok(Some(Account { id, name, password_hash, verified, sessions, links }))
            })
            .await
            .expect("reading the account")
    }

    async fn memberships_of(&self, user: i64) -> i64 {
        self.db
            .read(move |c| {
                workspace_memberships::table.filter(workspace_memberships::user_id.eq(user)).count().get_result(c)
            })
            .await
            .expect("count")
    }

    /// The emailed link of the pending invite to `email`, built as the email renderer does
    /// (for tests without SMTP, where the email is only in the outbox).
    async fn emailed_link_of(&self, email: &str) -> String {
        let r = self.invite_record(email).await;
        let key = InviteKey::derive(SESSION_KEY.as_bytes());
        format!(
            "{}/invites/{}?proof={}",
            self.base,
            key.token_for(&r.token_nonce).as_str(),
            key.emailed_proof(&r.token_nonce).as_str()
        )
    }
}

/// `link` with `proof` in place of its own.
fn with_proof(link: &str, proof: &str) -> String {
    format!("{}?proof={proof}", copied(link))
}

fn proof_of(link: &str) -> String {
    split_invite_link(link).1.expect("the emailed link carries a proof")
}

/// The proof with its first character changed.
fn tampered(link: &str) -> String {
    let p = proof_of(link);
    let first = if p.starts_with('A') { "B" } else { "A" };
    format!("{first}{}", &p[1..])
}

/// The link "Copy invite link" shows for the invite on the Members page.
async fn copy_invite_link(app: &TestApp, admin: &TestUser, ws: i64, email: &str) -> String {
    let body = admin.members_page(ws).await;
    let invite = crate::support::invite_id_on(&body, email);
    let (status, page) = admin.page(&format!("/w/{ws}/settings/invites/{invite}/link")).await;
    assert_eq!(status, StatusCode::OK);
    let prefix = format!("{}/invites/", app.base);
    let start = page.find(&prefix).expect("the link is on the Copy invite link page");
    let link: String = page[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    assert!(!link.contains("proof"), "Copy invite link never shows the proof: {link}");
    link
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_from_a_copied_link_leaves_the_address_unconfirmed_and_the_owner_takes_it_back() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let (mallory, org) = app.sign_up("Mallory", "mallory@evil.test", "Mallory & Co").await;
    let ws = mallory.add_client(org, "Victim Corp").await;
    let r = mallory.invite(ws, "victim@corp.test", "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = copy_invite_link(&app, &mallory, ws, "victim@corp.test").await;

    // The page says the address will be confirmed first, and offers no takeover.
    let fake = app.visitor();
    let (status, page) = fake.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&page);
    assert!(text.contains("We will email you a link to confirm it"), "{text}");
    assert!(!text.contains("replaces"), "{text}");
    assert!(!page.contains("name=\"proof\""), "no proof to carry");

    let r = fake.post(&format!("{link}/register"), &[("name", "Vic Tim"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    let path = link.trim_start_matches(&app.base).to_string();
    assert_eq!(location(&r), path, "back to the invite, which waits");
    let (_, page, _) = fake.visit(&path).await;
    let text = text_of(&page);
    assert!(
        text.contains("Confirm your email address to accept this invite: we sent a link to victim@corp.test"),
        "{text}"
    );
    assert!(text.contains("Confirm your email address first"), "{text}");
    assert!(!page.contains("/accept\""), "no Accept invite button: {text}");

    // A new account, unconfirmed; the invite still pending; no membership; a confirmation link.
    let victim = app.account("victim@corp.test").await.expect("the account exists");
    assert_eq!(victim.verified, None, "a copied link confirms nothing");
    assert_eq!(victim.links, 1, "a confirmation link went to the address");
    assert_eq!(app.invite_record("victim@corp.test").await.state, "pending");
    assert_eq!(app.memberships_of(victim.id).await, 0);

    // Accepting from the copied link, or with a forged proof, is refused and changes nothing.
    let other = {
        mallory.invite_to_all_entities(ws, "other@corp.test", "member").await;
        app.emailed_link_of("other@corp.test").await
    };
    let before = app.snapshot().await;
    for proof in [None, Some(tampered(&app.emailed_link_of("victim@corp.test").await)), Some(proof_of(&other))] {
        let fields: Vec<(&str, &str)> = proof.iter().map(|p| ("proof", p.as_str())).collect();
        let r = fake.post(&format!("{link}/accept"), &fields).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with(&path), "back to the invite: {}", location(&r));
        let (_, page, _) = fake.visit(&location(&r)).await;
        assert!(text_of(&page).contains("Confirm your email address first"), "{}", text_of(&page));
    }
    assert_eq!(app.snapshot().await, before, "nothing was accepted");
    assert_eq!(app.account("victim@corp.test").await.unwrap().verified, None);

    // The local mailbox shows the unconfirmed account none of victim@'s mail.
    let (status, list) = fake.page("/dev/mailbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.contains("/invites/") && !list.contains("/dev/mailbox/"), "{}", text_of(&list));
    for id in 1..=20 {
        let body = fake.get(&format!("/dev/mailbox/{id}")).await.text().await.unwrap_or_default();
        assert!(!body.contains("/invites/") && !body.contains("/verify-email/"), "message {id} shows no link");
    }

    // The real owner opens the emailed link: they replace the unconfirmed account.
    let emailed = app.emailed_link_of("victim@corp.test").await;
    let owner = app.visitor();
    let (_, page) = owner.page(&emailed).await;
    assert!(text_of(&page).contains("creating your account here replaces that unconfirmed account"));
    assert!(page.contains(&format!("name=\"proof\" value=\"{}\"", proof_of(&emailed))), "the form carries it");
    let r = owner.invite_post(&emailed, "register", &[("name", "Real Victim"), ("password", NEW_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    assert_eq!(location(&r), format!("/w/{ws}/entities"));
    let owned = app.account("victim@corp.test").await.unwrap();
    assert_eq!(owned.id, victim.id, "the same account, now the owner's");
    assert!(owned.verified.is_some());
    assert_eq!(owned.name, "Real Victim");
    assert!(location(&fake.get("/").await).starts_with("/login"), "Mallory's session ended");
    assert_eq!(app.visitor().log_in("victim@corp.test", PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_link_never_takes_over_an_unconfirmed_account_and_its_firm() {
    let app = spawn_app().await;
    let (bob, bob_org) = app.sign_up_unconfirmed("Bob", "bob@corp.test", "Bob's Books").await;
    let (mallory, org) = app.sign_up("Mallory", "mallory@evil.test", "Mallory & Co").await;
    let ws = mallory.add_client(org, "Bait").await;
    mallory.invite(ws, "bob@corp.test", "admin", &[]).await;
    let emailed = app.invite_link("bob@corp.test", 2).await;
    mallory.invite(ws, "other@corp.test", "admin", &[]).await;
    let other = app.invite_link("other@corp.test", 1).await;
    let link = copied(&emailed);

    // The page offers "Log in" and "Forgot password?", never the takeover.
    let visitor = app.visitor();
    let (status, page) = visitor.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&page);
    assert!(text.contains("An account already uses bob@corp.test"), "{text}");
    assert!(page.contains("href=\"/password/forgot\"") && page.contains("href=\"/login?next="), "{page}");
    assert!(!text.contains("replaces") && !page.contains("/register\""), "no account form: {text}");
    // A forged proof is as good as none.
    for l in [with_proof(&emailed, &tampered(&emailed)), with_proof(&emailed, &proof_of(&other))] {
        let (_, page) = visitor.page(&l).await;
        assert!(text_of(&page).contains("An account already uses bob@corp.test"));
    }

    let before = (app.snapshot().await, app.account("bob@corp.test").await);
    for proof in [None, Some(tampered(&emailed)), Some(proof_of(&other)), Some(String::new())] {
        let mut fields = vec![("name", "Mallory"), ("password", NEW_PASSWORD)];
        if let Some(p) = &proof {
            fields.push(("proof", p));
        }
        let r = visitor.post(&format!("{link}/register"), &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "proof {proof:?}");
        let text = text_of(&r.text().await.unwrap_or_default());
        assert!(text.contains("An account with this email already exists"), "{text}");
    }
    assert_eq!((app.snapshot().await, app.account("bob@corp.test").await), before, "nothing changed");
    assert_eq!(app.org_role(bob_org, before.1.as_ref().unwrap().id).await.as_deref(), Some("admin"));
    assert!(!location(&visitor.get("/").await).starts_with("/orgs/"), "the visitor is nobody");
    assert!(location(&visitor.get("/").await).starts_with("/login"));
    assert_eq!(bob.get("/").await.status(), StatusCode::SEE_OTHER);
    assert!(!location(&bob.get("/").await).starts_with("/login"), "Bob is still signed in");
    assert_eq!(app.visitor().log_in("bob@corp.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    // With the emailed link (Bob's own mail), the takeover works as before.
    let owner = app.visitor();
    let (_, page) = owner.page(&emailed).await;
    assert!(text_of(&page).contains("creating your account here replaces that unconfirmed account"));
    let r = owner.invite_post(&emailed, "register", &[("name", "Bob Owner"), ("password", NEW_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.account("bob@corp.test").await.unwrap().verified.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_account_accepts_only_with_the_emailed_link_or_after_confirming() {
    let f = firm_with_a_client().await;
    let (cleo, _) = f.app.sign_up_unconfirmed("Cleo Client", "cleo@client.test", "Cleo's Firm").await;
    let emailed = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let other = f.invite("other@client.test", "member", &[f.llc]).await;
    let link = copied(&emailed);
    let cleo_id = f.app.user_id("cleo@client.test").await;

    // The copied link (or a forged proof): "Confirm your email address first", with "Send it again".
    for l in [link.clone(), with_proof(&emailed, &tampered(&emailed)), with_proof(&emailed, &proof_of(&other))] {
        let (status, page) = cleo.page(&l).await;
        assert_eq!(status, StatusCode::OK);
        let text = text_of(&page);
        assert!(text.contains("Confirm your email address first") && text.contains("Send it again"), "{text}");
        assert!(!page.contains("/accept\""), "no Accept invite button");
        let before = f.app.snapshot().await;
        let r = cleo.invite_post(&l, "accept", &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with(&copied(&link).trim_start_matches(&f.app.base).to_string()));
        assert_eq!(f.app.snapshot().await, before, "nothing accepted");
        assert!(f.app.account("cleo@client.test").await.unwrap().verified.is_none(), "nothing confirmed");
    }

    // "Send it again", then the confirmation link leads back to the invite.
    let r = cleo.post("/verify-email", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mails = f.app.smtp.wait_for("cleo@client.test", 3).await;
    let confirm = mails.iter().rev().find_map(|m| m.link(&format!("{}/verify-email/", f.app.base))).unwrap();
    assert_eq!(cleo.get(&confirm).await.status(), StatusCode::OK);
    let r = cleo.post(&confirm, &[]).await;
    assert_eq!(location(&r), link.trim_start_matches(&f.app.base), "back to the invite");
    let (_, page, _) = cleo.visit(&location(&r)).await;
    assert!(text_of(&page).contains("You can accept the invite now"), "{}", text_of(&page));
    assert!(page.contains("/accept\""), "Accept invite");
    let r = cleo.invite_post(&link, "accept", &[]).await;
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    assert_eq!(f.app.memberships_of(cleo_id).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emailed_link_confirms_an_unconfirmed_account_that_accepts() {
    let f = firm_with_a_client().await;
    let (cleo, _) = f.app.sign_up_unconfirmed("Cleo Client", "cleo@client.test", "Cleo's Firm").await;
    let emailed = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let (_, page) = cleo.page(&emailed).await;
    assert!(page.contains(&format!("name=\"proof\" value=\"{}\"", proof_of(&emailed))), "the form carries it");
    let r = cleo.invite_post(&emailed, "accept", &[]).await;
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    assert!(f.app.account("cleo@client.test").await.unwrap().verified.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_account_from_a_copied_link_confirms_its_address_then_accepts() {
    let f = firm_with_a_client().await;
    let emailed = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let link = copied(&emailed);
    let cleo = f.app.visitor();
    cleo.page(&link).await;
    let r = cleo.post(&format!("{link}/register"), &[("name", "Cleo Client"), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), link.trim_start_matches(&f.app.base));
    let id = f.app.user_id("cleo@client.test").await;
    assert_eq!(f.app.memberships_of(id).await, 0, "the invite waits");

    // The confirmation email arrives (after the invite); its link leads back to the invite.
    let mails = f.app.smtp.wait_for("cleo@client.test", 2).await;
    let confirm = mails[1].link(&format!("{}/verify-email/", f.app.base)).expect("a confirmation link");
    let r = cleo.post(&confirm, &[]).await;
    assert_eq!(location(&r), link.trim_start_matches(&f.app.base));
    let r = cleo.invite_post(&link, "accept", &[]).await;
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    assert_eq!(f.app.memberships_of(id).await, 1);
    assert_eq!(f.app.invite_record("cleo@client.test").await.state, "accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_from_the_emailed_invite_keeps_its_proof() {
    // The owner of an unconfirmed account opens the emailed invite signed out and logs in
    // from it: back on the invite, the proof is still there, so accepting confirms them.
    let f = firm_with_a_client().await;
    f.app.sign_up_unconfirmed("Cleo Client", "cleo@client.test", "Cleo's Firm").await;
    let emailed = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let cleo = f.app.visitor();
    let (_, page) = cleo.page(&emailed).await;
    let (path, proof) = split_invite_link(&emailed);
    let proof = proof.unwrap();
    assert!(page.contains("/login?next=%2Finvites%2F"), "{page}");
    let r = cleo.invite_post(&emailed, "accept", &[]).await;
    let next = location(&r);
    assert!(next.starts_with("/login?next=") && next.contains(&proof), "{next}");
    let next = format!("{}?proof={proof}", path.trim_start_matches(&f.app.base));
    let r = cleo.post("/login", &[("email", "cleo@client.test"), ("password", PASSWORD), ("next", &next)]).await;
    assert_eq!(location(&r), next);
    let r = cleo.invite_post(&emailed, "accept", &[]).await;
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    assert!(f.app.account("cleo@client.test").await.unwrap().verified.is_some());
}
