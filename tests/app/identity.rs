//! Verified email addresses, password reset, the local mailbox, and the limits on sign-up
//! and password reset requests.

use diesel::prelude::*;
use portico::db::schema::{account_tokens, outbox, sessions, users};
use reqwest::{Response, StatusCode};

use crate::support::{
    firm_with_a_client, location, now, spawn_app, spawn_app_with, text_of, Options, TestApp, TestUser, PASSWORD,
};

const NEW_PASSWORD: &str = "a brand new password";

impl TestApp {
    async fn verified_at(&self, email: &str) -> Option<chrono::NaiveDateTime> {
        let e = email.to_string();
        self.db
            .read(move |c| {
                users::table.filter(users::email.eq(e)).select(users::email_verified_at).first::<Option<_>>(c)
            })
            .await
            .expect("the user exists")
    }

    /// The link of the `n`th email to `to` that carries one starting with `path`.
    async fn mailed_link(&self, to: &str, n: usize, path: &str) -> String {
        let mails = self.smtp.wait_for(to, n).await;
        let prefix = format!("{}{path}", self.base);
        mails[n - 1].link(&prefix).unwrap_or_else(|| panic!("no {prefix} link in: {}", mails[n - 1].text))
    }

    async fn expire_links_of(&self, email: &str) {
        let e = email.to_string();
        let past = now() - chrono::Duration::minutes(1);
        self.db
            .write(move |c| {
                diesel::update(account_tokens::table.filter(account_tokens::email.eq(e)))
                    .set(account_tokens::expires_at.eq(past))
                    .execute(c)
            })
            .await
            .expect("expire the links");
    }

    /// Every text column of the account links and the outbox, as stored.
    async fn stored_text(&self) -> String {
        self.db
            .read(|c| {
                let links = account_tokens::table
                    .select((account_tokens::email, account_tokens::token_hash, account_tokens::token_nonce))
                    .load::<(String, String, String)>(c)?;
                let mails = outbox::table.select((outbox::kind, outbox::to_email, outbox::last_error)).load::<(
                    String,
                    String,
                    Option<String>,
                )>(
                    c
                )?;
                Ok(format!("{links:?} {mails:?}"))
            })
            .await
            .expect("read the tables")
    }

    async fn outbox_to(&self, email: &str) -> i64 {
        let e = email.to_string();
        self.db
            .read(move |c| outbox::table.filter(outbox::to_email.eq(e)).count().get_result::<i64>(c))
            .await
            .expect("count")
    }

    /// Reset requests counted (per client address and per email and client address).
    async fn reset_events(&self) -> i64 {
        use portico::db::schema::rate_events as r;
        self.db
            .read(move |c| r::table.filter(r::scope.like("resets/%")).count().get_result::<i64>(c))
            .await
            .expect("count")
    }

    async fn session_rows(&self, user: i64) -> i64 {
        self.db
            .read(move |c| sessions::table.filter(sessions::user_id.eq(user)).count().get_result::<i64>(c))
            .await
            .expect("count")
    }

    /// After an account's sessions were ended: only the `signed_in_since` sessions made
    /// afterwards are left, and a page with `who`'s saved cookie is refused.
    async fn assert_signed_out(&self, who: &TestUser, user: i64, signed_in_since: i64) {
        assert_eq!(self.session_rows(user).await, signed_in_since, "the account's earlier sessions are gone");
        let r = who.get("/").await;
        assert!(location(&r).starts_with("/login"), "the old session no longer opens pages");
    }
}

fn text(body: &str) -> String {
    text_of(body)
}

async fn said(r: Response) -> (StatusCode, String) {
    let status = r.status();
    (status, text_of(&r.text().await.unwrap_or_default()))
}

/// POST from another client address (the test app trusts 127.0.0.1 as a proxy).
async fn post_from(user: &TestUser, ip: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let token = user.csrf().await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    user.client
        .post(format!("{}{path}", user.base))
        .header("x-forwarded-for", ip)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&all).expect("a form"))
        .send()
        .await
        .expect("POST")
}

fn trusting_localhost(s: &mut portico::config::Settings) {
    s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

// ---------------------------------------------------------------------------------------
// Sign-up and the verification link
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_sends_a_link_whose_post_confirms_the_address_once() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up_unconfirmed("Ada Ames", "ada@firm.test", "Ames & Co").await;
    assert_eq!(app.verified_at("ada@firm.test").await, None, "a new account is unverified");
    let mails = app.smtp.wait_for("ada@firm.test", 1).await;
    assert_eq!(mails[0].subject, "Confirm your email address for Portico");
    assert!(!mails[0].text.contains("Ames & Co"), "no words the signer chose: {}", mails[0].text);
    let link = app.mailed_link("ada@firm.test", 1, "/verify-email/").await;

    // Every signed-in page says so, and the help page's flow still works meanwhile.
    let (_, body, _) = ada.visit(&format!("/orgs/{org}/clients")).await;
    let notice = text(&body);
    assert!(notice.contains("Confirm your email address: we sent a link to ada@firm.test"), "{notice}");
    assert!(body.contains("action=\"/verify-email\"") && notice.contains("Send it again"), "{notice}");
    let ws = ada.add_client(org, "Acme Bakery").await;
    assert_eq!(ada.invite_to_all_entities(ws, "cleo@client.test", "member").await.status(), StatusCode::SEE_OTHER);

    // The token is stored nowhere.
    let token = link.rsplit('/').next().unwrap().to_string();
    assert!(!app.stored_text().await.contains(&token), "the link's token is not in the database");

    // Opening the link (as a mail scanner does) changes nothing.
    let visitor = app.visitor();
    let (status, _) = visitor.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = ada.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&page).contains("Confirm that ada@firm.test is your address"), "{}", text(&page));
    assert_eq!(app.verified_at("ada@firm.test").await, None, "GET changes nothing");

    // "Confirm email", signed in as Ada, does, once.
    let r = ada.post(&link, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.verified_at("ada@firm.test").await.is_some());
    let (_, body, _) = ada.visit(&format!("/orgs/{org}/clients")).await;
    assert!(!text(&body).contains("Confirm your email address"), "the notice is gone");
    let (status, again) = said(visitor.post(&link, &[]).await).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(again.contains("This link no longer works"), "{again}");
    assert_eq!(visitor.get(&link).await.status(), StatusCode::GONE);
    // An unknown or mangled token gets the same page.
    assert_eq!(visitor.get("/verify-email/nonsense").await.status(), StatusCode::GONE);
    assert_eq!(
        visitor.post("/verify-email/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &[]).await.status(),
        StatusCode::GONE
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_verification_link_confirms_nothing() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up_unconfirmed("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let link = app.mailed_link("ada@firm.test", 1, "/verify-email/").await;
    app.expire_links_of("ada@firm.test").await;
    assert_eq!(ada.get(&link).await.status(), StatusCode::GONE);
    let (status, page) = said(ada.post(&link, &[]).await).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("Send me a new link"), "signed in, the page offers a new link: {page}");
    assert_eq!(app.verified_at("ada@firm.test").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn send_it_again_replaces_the_link_and_is_limited() {
    let app = spawn_app().await;
    let (ada, _) = app.sign_up_unconfirmed("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let first = app.mailed_link("ada@firm.test", 1, "/verify-email/").await;
    ada.visit("/").await;
    let r = ada.post("/verify-email", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = ada.visit(&location(&r)).await;
    assert!(text(&body).contains("We sent a new link to ada@firm.test."), "{}", text(&body));
    let second = app.mailed_link("ada@firm.test", 2, "/verify-email/").await;
    assert_ne!(first, second);
    assert_eq!(ada.post(&first, &[]).await.status(), StatusCode::GONE, "the older link is replaced");
    assert_eq!(app.verified_at("ada@firm.test").await, None);

    // Four more fit in the hour (five in all); the sixth is refused and says until when.
    for _ in 0..4 {
        ada.post("/verify-email", &[]).await;
    }
    let r = ada.post("/verify-email", &[]).await;
    let (_, body, _) = ada.visit(&location(&r)).await;
    assert!(
        text(&body).contains("The limit of 5 confirmation emails per hour is reached. Try again in 60 minutes."),
        "{}",
        text(&body)
    );
    assert_eq!(app.outbox_to("ada@firm.test").await, 6, "the refused request queued nothing");
    // (Emails whose link was replaced before they left are dropped: the newest link counts.)
    let newest = app.confirmation_link("ada@firm.test").await;
    assert_eq!(ada.post(&newest, &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(app.verified_at("ada@firm.test").await.is_some());
    // Verified: nothing more is sent.
    assert_eq!(ada.post("/verify-email", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.outbox_to("ada@firm.test").await, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ups_are_limited_per_client_address() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.signups_per_address_per_hour = 2;
            trusting_localhost(s);
        },
        ..Options::default()
    })
    .await;
    let form =
        |email: &'static str| [("name", "Someone"), ("email", email), ("password", PASSWORD), ("firm", "Some Firm")];
    for email in ["a@one.test", "b@one.test"] {
        let r = post_from(&app.visitor(), "203.0.113.7", "/signup", &form(email)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let users = app.user_count().await;
    let (status, page) = said(post_from(&app.visitor(), "203.0.113.7", "/signup", &form("c@one.test")).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("The limit of 2 sign-ups from one address per hour is reached. Try again in 60 minutes."),
        "{page}"
    );
    assert_eq!(app.user_count().await, users, "no account was made");
    assert_eq!(app.outbox_to("c@one.test").await, 0);
    // Another address may still sign up.
    let r = post_from(&app.visitor(), "198.51.100.4", "/signup", &form("c@one.test")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Attempts count whatever their outcome: asking whether addresses have accounts (the
    // "already exists" answer) is limited too.
    let (status, page) = said(post_from(&app.visitor(), "192.0.2.8", "/signup", &form("a@one.test")).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("An account with this email already exists"), "{page}");
    let (status, _) = said(post_from(&app.visitor(), "192.0.2.8", "/signup", &form("b@one.test")).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, page) = said(post_from(&app.visitor(), "192.0.2.8", "/signup", &form("d@one.test")).await).await;
    assert!(page.contains("The limit of 2 sign-ups from one address per hour is reached."), "{page}");
    assert_eq!(app.outbox_to("d@one.test").await, 0);
}

// ---------------------------------------------------------------------------------------
// The local mailbox
// ---------------------------------------------------------------------------------------

/// The id of the outbox row of the newest email to `to`.
async fn newest_mail_to(app: &TestApp, to: &str) -> i64 {
    let e = to.to_string();
    app.db
        .read(move |c| {
            outbox::table.filter(outbox::to_email.eq(e)).order(outbox::id.desc()).select(outbox::id).first::<i64>(c)
        })
        .await
        .expect("a mail")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mailbox_shows_each_person_only_their_own_confirmed_mail() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let (ada, org) = app.sign_up_unconfirmed("Ada Ames", "ada@firm.test", "Ames & Co").await;

    // Unverified: nothing, and where the link is instead.
    let (status, body) = ada.page("/dev/mailbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&body).contains("Your email address is not confirmed yet"), "{}", text(&body));
    assert!(!body.contains("/dev/mailbox/"), "no message listed");
    let own = newest_mail_to(&app, "ada@firm.test").await;
    assert_eq!(ada.get(&format!("/dev/mailbox/{own}")).await.status(), StatusCode::NOT_FOUND);

    // Confirmed: her own mail, with its real subject and link.
    let link = app.confirmation_link("ada@firm.test").await;
    assert_eq!(ada.post(&link, &[]).await.status(), StatusCode::SEE_OTHER);
    let (_, body) = ada.page("/dev/mailbox").await;
    assert!(text(&body).contains("ada@firm.test Confirm your email address for Portico"), "{}", text(&body));
    let (status, mail) = ada.page(&format!("/dev/mailbox/{own}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(mail.contains(&link), "the message shows its link");

    // She invites Cleo: the flash no longer points at the mailbox, and Cleo's mail is not hers.
    let ws = ada.add_client(org, "Acme Bakery").await;
    ada.invite_to_all_entities(ws, "cleo@client.test", "member").await;
    let (_, body, _) = ada.visit(&format!("/w/{ws}/settings/members")).await;
    assert!(text(&body).contains("the email's link is in Portico's log; \"Copy invite link\""), "{}", text(&body));
    let cleos = newest_mail_to(&app, "cleo@client.test").await;
    let (_, list) = ada.page("/dev/mailbox").await;
    assert!(!text(&list).contains("cleo@client.test"), "{}", text(&list));
    assert!(!text(&list).contains("Invitation"), "{}", text(&list));
    assert_eq!(ada.get(&format!("/dev/mailbox/{cleos}")).await.status(), StatusCode::NOT_FOUND);
}

/// Issue 8, item 1: a stranger signs up as the invited address and opens the mailbox.
#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_signed_up_as_the_invited_address_does_not_get_the_invite_link() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    ada.invite_to_all_entities(ws, "cleo@client.test", "member").await;
    let invite_mail = newest_mail_to(&app, "cleo@client.test").await;

    let (stranger, _) = app.sign_up_unconfirmed("Not Cleo", "cleo@client.test", "Stranger Things").await;
    let (status, body) = stranger.page("/dev/mailbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("/invites/"), "no invite link");
    assert!(!text(&body).contains("Invitation"), "{}", text(&body));
    let r = stranger.get(&format!("/dev/mailbox/{invite_mail}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains("/invites/"));
    for id in 1..=invite_mail + 3 {
        let body = stranger.get(&format!("/dev/mailbox/{id}")).await.text().await.unwrap();
        assert!(!body.contains("/invites/"), "message {id} shows no invite link");
    }
}

// ---------------------------------------------------------------------------------------
// The owner of an address takes back an account someone else made with it
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_invited_owner_replaces_an_unconfirmed_account_made_with_their_address() {
    let f = firm_with_a_client().await;
    let (impostor, impostor_org) = f.app.sign_up_unconfirmed("Im Postor", "victim@corp.test", "Impostor Ltd").await;
    let victim_id = f.app.user_id("victim@corp.test").await;
    impostor.visit("/").await;
    assert!(f.app.session_rows(victim_id).await > 0, "signed in: a session row exists");

    let link = f.invite("victim@corp.test", "member", &[f.llc]).await;
    let owner = f.app.visitor();
    let (status, page) = owner.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&page).contains("creating your account here replaces that unconfirmed account"), "{}", text(&page));

    let r = owner.invite_post(&link, "register", &[("name", "Vic Tim"), ("password", NEW_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text(&r.text().await.unwrap_or_default()));
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    let (status, body, _) = owner.visit(&format!("/w/{}/entities", f.ws)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&body).contains("Acme LLC"));
    assert!(!text(&body).contains("Confirm your email address"), "the invite link proved the address");

    // The same account, now the owner's: verified, renamed, the old password dead.
    assert_eq!(f.app.user_id("victim@corp.test").await, victim_id);
    assert!(f.app.verified_at("victim@corp.test").await.is_some());
    let other = f.app.visitor();
    assert_eq!(other.log_in("victim@corp.test", PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.log_in("victim@corp.test", NEW_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    // The owner's session on the invite page and `other`'s sign-in are the only ones left.
    f.app.assert_signed_out(&impostor, victim_id, 2).await;
    // What the stale account set up stays with the account, now in the owner's hands.
    assert_eq!(f.app.org_role(impostor_org, victim_id).await.as_deref(), Some("admin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_as_the_invited_unconfirmed_account_accepting_confirms_it() {
    let f = firm_with_a_client().await;
    let (cleo, _) = f.app.sign_up_unconfirmed("Cleo Client", "cleo@client.test", "Cleo's Firm").await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(f.app.verified_at("cleo@client.test").await, None);
    let r = cleo.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(f.app.verified_at("cleo@client.test").await.is_some());
}

// ---------------------------------------------------------------------------------------
// Password reset
// ---------------------------------------------------------------------------------------

async fn ask_for_reset(user: &TestUser, email: &str) -> (StatusCode, String) {
    let r = user.post("/password/forgot", &[("email", email)]).await;
    let status = r.status();
    if status != StatusCode::SEE_OTHER {
        return said(r).await;
    }
    let to = location(&r);
    let (_, body, _) = user.visit(&to).await;
    (status, format!("{to} {}", text(&body)))
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_end_to_end() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let other_device = app.visitor();
    assert_eq!(other_device.log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    other_device.visit("/").await;
    let ada_id = app.user_id("ada@firm.test").await;
    assert!(app.session_rows(ada_id).await > 0, "signed in: a session row exists");

    let someone = app.visitor();
    let (_, login) = someone.page("/login").await;
    assert!(login.contains("href=\"/password/forgot\"") && text(&login).contains("Forgot password?"));
    let (status, answer) = ask_for_reset(&someone, "Ada@Firm.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        answer.contains(
            "If an account uses ada@firm.test, we sent it a link to choose a new password. The link works for 1 hour."
        ),
        "{answer}"
    );
    let link = app.mailed_link("ada@firm.test", 1, "/password/reset/").await;
    let token = link.rsplit('/').next().unwrap().to_string();
    assert!(!app.stored_text().await.contains(&token), "the reset token is not in the database");

    let (status, form) = someone.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&form).contains("Choose a new password For the account of ada@firm.test"), "{}", text(&form));
    // A bad password comes back with the message, and the link still works.
    let (status, page) = said(someone.post(&link, &[("password", "short")]).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Use at least 10 characters"), "{page}");

    let r = someone.post(&link, &[("password", NEW_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login", "no automatic sign-in");
    let (_, body, _) = someone.visit("/login").await;
    assert!(text(&body).contains("Your password is changed"), "{}", text(&body));

    assert_eq!(app.visitor().log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.visitor().log_in("ada@firm.test", NEW_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    app.assert_signed_out(&other_device, ada_id, 1).await;
    app.assert_signed_out(&ada, ada_id, 1).await;

    // Used up.
    let (status, page) = said(someone.post(&link, &[("password", "yet another password")]).await).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This link no longer works") && page.contains("Send me a new link"), "{page}");
    assert_eq!(someone.get(&link).await.status(), StatusCode::GONE);
    assert_eq!(app.visitor().log_in("ada@firm.test", NEW_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let _ = org;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_address_gets_the_same_answer_and_no_email() {
    let app = spawn_app().await;
    app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let (s1, known) = ask_for_reset(&app.visitor(), "ada@firm.test").await;
    let (s2, unknown) = ask_for_reset(&app.visitor(), "nobody@firm.test").await;
    assert_eq!(s1, s2);
    assert_eq!(known.replace("ada@firm.test", "X"), unknown.replace("nobody@firm.test", "X"));
    app.mailed_link("ada@firm.test", 1, "/password/reset/").await;
    assert_eq!(app.outbox_to("nobody@firm.test").await, 0);
    let tokens = app.db.read(|c| account_tokens::table.count().get_result::<i64>(c)).await.unwrap();
    assert_eq!(tokens, 2, "Ada's confirmation link and her reset link, nothing for nobody@");
    // A malformed address is a form error, not an answer about accounts.
    let r = app.visitor().post("/password/forgot", &[("email", "not an address")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("value=\"not an address\""), "the input is kept: {page}");
    assert!(text(&page).contains("Enter one email address"), "{}", text(&page));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_or_replaced_reset_link_changes_nothing() {
    let app = spawn_app().await;
    app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let v = app.visitor();
    ask_for_reset(&v, "ada@firm.test").await;
    let first = app.mailed_link("ada@firm.test", 1, "/password/reset/").await;
    ask_for_reset(&v, "ada@firm.test").await;
    let second = app.mailed_link("ada@firm.test", 2, "/password/reset/").await;
    assert_eq!(v.post(&first, &[("password", NEW_PASSWORD)]).await.status(), StatusCode::GONE, "replaced");
    app.expire_links_of("ada@firm.test").await;
    assert_eq!(v.get(&second).await.status(), StatusCode::GONE);
    assert_eq!(v.post(&second, &[("password", NEW_PASSWORD)]).await.status(), StatusCode::GONE);
    assert_eq!(app.visitor().log_in("ada@firm.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_requests_are_limited_per_email_and_per_client_address() {
    let app = spawn_app_with(Options {
        adjust: |s| {
            s.password_resets_per_hour = 2;
            trusting_localhost(s);
        },
        ..Options::default()
    })
    .await;
    app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let v = app.visitor();
    v.page("/password/forgot").await;
    let limited = "The limit of 2 password reset requests from one address per hour is reached.";
    // A stranger spends their own allowance on Ada's address, not Ada's: refused, and the
    // refused request neither queues an email nor counts.
    for _ in 0..2 {
        let r = post_from(&v, "203.0.113.1", "/password/forgot", &[("email", "ada@firm.test")]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let (mails, counted) = (app.outbox_to("ada@firm.test").await, app.reset_events().await);
    assert_eq!(mails, 3, "a confirmation and two reset emails");
    let (status, page) =
        said(post_from(&v, "203.0.113.1", "/password/forgot", &[("email", "ada@firm.test")]).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains(limited), "{page}");
    assert_eq!(app.outbox_to("ada@firm.test").await, mails, "no email queued by the refused request");
    assert_eq!(app.reset_events().await, counted, "the refused request counted nothing");
    // Ada, from her own address, still gets her link.
    let r = post_from(&v, "198.51.100.7", "/password/forgot", &[("email", "ada@firm.test")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.outbox_to("ada@firm.test").await, mails + 1, "the owner's request is not blocked");
    app.smtp.wait_for("ada@firm.test", 1).await;

    // Counted whether or not an account uses the address: asking about unknown addresses
    // uses up the client address's allowance all the same.
    for email in ["a@x.test", "b@x.test"] {
        let r = post_from(&v, "198.51.100.9", "/password/forgot", &[("email", email)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let (status, page) =
        said(post_from(&v, "198.51.100.9", "/password/forgot", &[("email", "ada@firm.test")]).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains(limited), "{page}");
    assert_eq!(app.outbox_to("ada@firm.test").await, mails + 1);

    // IPv6: every address of one /64 is one client; the next /64 is another.
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        let r = post_from(&v, ip, "/password/forgot", &[("email", "c@x.test")]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let (status, _) =
        said(post_from(&v, "2001:db8:1:2:ffff::3", "/password/forgot", &[("email", "d@x.test")]).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a fresh address in the same /64");
    let r = post_from(&v, "2001:db8:1:3::1", "/password/forgot", &[("email", "d@x.test")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "another /64");

    // One inbox is bounded too, from however many addresses: three times the setting.
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let r = post_from(&v, ip, "/password/forgot", &[("email", "ada@firm.test")]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "reset {ip}");
    }
    let (status, page) =
        said(post_from(&v, "192.0.2.4", "/password/forgot", &[("email", "ada@firm.test")]).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("The limit of 6 password reset emails to one address per hour is reached."), "{page}");
    assert_eq!(app.outbox_to("ada@firm.test").await, mails + 4, "a confirmation and six reset emails, no more");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_takes_over_an_unconfirmed_account() {
    let app = spawn_app().await;
    let (impostor, _) = app.sign_up_unconfirmed("Im Postor", "victim@corp.test", "Impostor Ltd").await;
    impostor.visit("/").await;
    let id = app.user_id("victim@corp.test").await;
    assert!(app.session_rows(id).await > 0, "signed in: a session row exists");
    let owner = app.visitor();
    ask_for_reset(&owner, "victim@corp.test").await;
    let link = app.mailed_link("victim@corp.test", 2, "/password/reset/").await;
    owner.page(&link).await;
    assert_eq!(owner.post(&link, &[("password", NEW_PASSWORD)]).await.status(), StatusCode::SEE_OTHER);
    assert!(app.verified_at("victim@corp.test").await.is_some());
    assert_eq!(app.visitor().log_in("victim@corp.test", PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    owner.page("/login").await;
    let r = owner.log_in("victim@corp.test", NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.assert_signed_out(&impostor, id, 1).await;
    let (_, body, _) = owner.visit("/").await;
    assert!(!text(&body).contains("Confirm your email address"));
}

/// Whoever clicks a confirmation link proves they read the mail, not that they chose the
/// account's password: someone may have signed up with another person's address. So the
/// link confirms only when signed in as that account; anyone else is told to log in (or to
/// take the address back with "Forgot password?"), and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_confirmation_link_confirms_only_the_account_signed_in() {
    let app = spawn_app().await;
    let (mallory, _) = app.sign_up_unconfirmed("Mal Lory", "victim@corp.test", "Mallory Ltd").await;
    let link = app.confirmation_link("victim@corp.test").await;
    // The owner of the mailbox clicks it, signed out.
    let owner = app.visitor();
    let (status, page) = owner.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let words = text(&page);
    assert!(words.contains("Log in to that account to confirm it"), "{words}");
    assert!(words.contains("Forgot password?") && !page.contains("Confirm email</button>"), "{words}");
    let (bob, _) = app.sign_up("Bob Books", "bob@books.test", "Bob & Co").await;
    let before = app.snapshot().await;
    let (status, _) = said(owner.post(&link, &[]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Someone else, signed in, neither.
    let (status, _) = said(bob.post(&link, &[]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.verified_at("victim@corp.test").await.is_none(), "not confirmed by the click");
    assert_eq!(before, app.snapshot().await, "nothing changed");
    // Signed in as the account the link was sent for, it confirms (once).
    let (_, page) = mallory.page(&link).await;
    assert!(page.contains("Confirm email</button>"));
    assert_eq!(mallory.post(&link, &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(app.verified_at("victim@corp.test").await.is_some());
    assert_eq!(said(mallory.post(&link, &[]).await).await.0, StatusCode::GONE, "used up");
}
