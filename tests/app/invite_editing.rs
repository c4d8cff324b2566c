//! Issue 9, items 4–8 (invites): expiry in exact words, "Edit invite" and "Update invite",
//! "Renew and copy link" for an expired invite, messages that name who and where, one ⋯
//! order, confirmation pages that focus the safe choice, and bulk cancel through a
//! confirmation page. Where something must not happen, the database says it did not.

use reqwest::StatusCode;

use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{
    actions_menu, copied, firm_with_a_client, location, now, row, spawn_app, text_of, TestApp, TestUser, PASSWORD,
};

/// What a pending invite offers, as stored.
#[derive(Debug, PartialEq, Eq)]
pub struct InviteOffer {
    pub role: String,
    pub all_entities: bool,
    pub new_clients: bool,
    pub entities: Vec<i64>,
    pub clients: Vec<i64>,
}

/// The role, entities, clients and "New clients" invite `id` offers now.
pub async fn invite_offer(app: &TestApp, id: i64) -> InviteOffer {
    use diesel::prelude::*;
    use portico::db::schema::{invite_clients as ic, invite_entities as ie, invites as i};
    app.db
        .read(move |c| {
            let (role, all_entities, new_clients) = i::table
                .find(id)
                .select((i::role, i::all_entities, i::new_clients))
                .first::<(String, bool, bool)>(c)?;
            let entities =
                ie::table.filter(ie::invite_id.eq(id)).order(ie::entity_id).select(ie::entity_id).load::<i64>(c)?;
            let clients = ic::table
                .filter(ic::invite_id.eq(id))
                .order(ic::workspace_id)
                .select(ic::workspace_id)
                .load::<i64>(c)?;
            Ok(InviteOffer { role, all_entities, new_clients, entities, clients })
        })
        .await
        .expect("read an invite's offer")
}

/// The audit events about `email`, oldest first: (action, detail).
async fn audit_of(app: &TestApp, email: &str) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use portico::db::schema::audit_events as a;
    let email = email.to_string();
    app.db
        .read(move |c| {
            a::table
                .filter(a::target_email.eq(email))
                .order(a::id)
                .select((a::action, a::detail))
                .load::<(String, String)>(c)
        })
        .await
        .expect("read audit events")
}

/// A GET that must answer 200: its HTML and its text.
async fn open(user: &TestUser, path: &str) -> (String, String) {
    let (status, body) = user.page(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {}", text_of(&body));
    let text = text_of(&body);
    (body, text)
}

/// Follows a 303 and returns the HTML of where it leads.
async fn follow(user: &TestUser, r: reqwest::Response) -> String {
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect: {}",
        text_of(&r.text().await.unwrap_or_default())
    );
    open(user, &location(&r)).await.0
}

/// "Add Team" → Emails, role, clients, "New clients" → "Send invites".
async fn send_team_invites(
    ada: &TestUser,
    org: i64,
    emails: &str,
    role: &str,
    clients: &[i64],
    new: bool,
) -> reqwest::Response {
    let ids: Vec<String> = clients.iter().map(|c| c.to_string()).collect();
    let mut fields = vec![("emails", emails), ("role", role)];
    fields.extend(ids.iter().map(|c| ("client", c.as_str())));
    if new {
        fields.push(("new_clients", "on"));
    }
    ada.post(&format!("/orgs/{org}/team/invite"), &fields).await
}

/// Where the ⋯ items appear in a menu's text, in `order`; panics unless all are there, in order.
fn assert_order(menu: &str, order: &[&str], what: &str) {
    let text = text_of(menu);
    let at: Vec<Option<usize>> = order.iter().map(|a| text.find(a)).collect();
    assert!(at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]), "{what}: {order:?} in {text}");
}

// ---------------------------------------------------------------------------------------
// 4. Expiry in exact words
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn expiry_is_said_in_exact_words_on_members_team_and_pending_invites() {
    let f = firm_with_a_client().await;
    f.invite("dan@client.test", "member", &[f.llc]).await;
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test", "member", &[f.ws], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (team, members, pending) = (format!("/orgs/{}/team", f.org), f.members(), format!("/orgs/{}/invites", f.org));

    // Right after sending a 7-day invite: "expires in 7 days" (not 6 days 23:59 floored).
    for (page, email) in [
        (&members, "dan@client.test"),
        (&team, "pat@firm.test"),
        (&pending, "dan@client.test"),
        (&pending, "pat@firm.test"),
    ] {
        let r = row(&open(&f.ada, page).await.0, email);
        assert!(r.contains("expires in 7 days") && r.contains("Invite pending"), "{page}: {r}");
    }

    // Two days past expiry: "expired 2 days ago", the exact date in its title.
    let expired_at = now() - chrono::Duration::days(2) - chrono::Duration::hours(1);
    for email in ["dan@client.test", "pat@firm.test"] {
        let id = f.app.invite_record(email).await.id;
        f.app.set_invite_times(id, Some(expired_at), None).await;
    }
    let exact = expired_at.format("%Y-%m-%d %H:%M UTC").to_string();
    for (page, email) in [
        (&members, "dan@client.test"),
        (&team, "pat@firm.test"),
        (&pending, "dan@client.test"),
        (&pending, "pat@firm.test"),
    ] {
        let body = open(&f.ada, page).await.0;
        let r = row(&body, email);
        assert!(
            r.contains("Expired") && r.contains("expired 2 days ago") && !r.contains("Invite pending"),
            "{page}: {r}"
        );
        assert!(
            body.contains(&format!("title=\"{exact}\">expired 2 days ago")),
            "{page}: the exact date {exact} in a title"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Edit a pending invite
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn edit_invite_changes_what_a_workspace_invite_grants_and_emails_nothing() {
    let f = firm_with_a_client().await;
    let link = f.invite("dan@client.test", "member", &[f.llc]).await;
    let invite = f.app.invite_record("dan@client.test").await;
    f.app.outbox_settled().await;

    // ⋯ → Edit invite, first of the invite's items.
    let body = f.ada.members_page(f.ws).await;
    let menu = actions_menu(&body, "dan@client.test").expect("a ⋯ menu for the invite");
    let edit = format!("/w/{}/settings/invites/{}/edit", f.ws, invite.id);
    assert!(menu.contains(&format!("href=\"{edit}\"")), "{menu}");
    assert_order(menu, &["Edit invite", "Resend invite", "Copy invite link", "Cancel invite"], "the invite's ⋯ menu");

    // The form, prefilled with what the invite gives now.
    let (form, text) = open(&f.ada, &edit).await;
    assert!(text.contains("Edit the invite to dan@client.test") && text.contains("Update invite"), "{text}");
    assert!(form.contains("name=\"role\" value=\"member\" checked"), "the invite's role is chosen");
    assert!(
        form.contains(&format!("value=\"{}\" checked", f.llc))
            && !form.contains(&format!("value=\"{}\" checked", f.holdings))
    );

    // Update invite: Accountant of Acme Holdings.
    let r = f.ada.post(&edit, &[("role", "accountant"), ("entity", &f.holdings.to_string())]).await;
    assert_eq!(location(&r), f.members());
    let page = text_of(&follow(&f.ada, r).await);
    assert!(
        page.contains(
            "Invite to dan@client.test for Acme Bakery updated: Accountant · Acme Holdings. Resend invite emails them the new access."
        ),
        "{page}"
    );
    assert!(row(&open(&f.ada, &f.members()).await.0, "dan@client.test").contains("Accountant"));
    let offer = invite_offer(&f.app, invite.id).await;
    assert_eq!(
        (offer.role.as_str(), offer.all_entities, offer.entities.as_slice()),
        ("accountant", false, &[f.holdings][..])
    );
    let after = f.app.invite_record("dan@client.test").await;
    assert_eq!(
        (after.expires_at, after.last_sent_at, after.state.as_str()),
        (invite.expires_at, invite.last_sent_at, "pending"),
        "expiry unchanged"
    );
    assert_eq!(after.token_hash, invite.token_hash, "the same link");
    assert_eq!(f.app.outbox_of(invite.id).await.len(), 1, "no email by itself");
    let audit = audit_of(&f.app, "dan@client.test").await;
    assert_eq!(
        audit.last().map(|(a, d)| (a.as_str(), d.as_str())),
        Some(("updated_invite", "as Accountant, Acme Holdings"))
    );

    // The invite page says the new access.
    let (status, landing) = f.app.visitor().status_and_text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        landing.contains("Accountant") && landing.contains("Acme Holdings") && !landing.contains("Acme LLC"),
        "{landing}"
    );

    // And so does the next email (Resend invite, a minute later).
    f.app.allow_resend(invite.id).await;
    let r = f.ada.resend_invite(f.ws, invite.id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mails = f.app.smtp.wait_for("dan@client.test", 2).await;
    let text = &mails[1].text;
    assert!(text.contains("Your role: Accountant") && text.contains("Entities: Acme Holdings"), "{text}");
    assert!(!text.contains("Acme LLC") && !mails[1].html.contains("Acme LLC"), "{text}");

    // Accepted, it grants what it now says.
    let dan = f.app.accept_as_new_user(&link, "Dan Client").await;
    assert_eq!(dan.get(&format!("/w/{}/entities/{}", f.ws, f.holdings)).await.status(), StatusCode::OK);
    assert_eq!(dan.get(&format!("/w/{}/entities/{}", f.ws, f.llc)).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_invite_of_a_team_invite_changes_role_clients_and_new_clients() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[acme], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("pat@firm.test", 1).await;
    let invite = app.invite_record("pat@firm.test").await;
    app.outbox_settled().await;

    let team = open(&ada, &format!("/orgs/{org}/team")).await.0;
    let menu = actions_menu(&team, "pat@firm.test").expect("a ⋯ menu for the team invite");
    assert_order(
        menu,
        &["Edit invite", "Resend invite", "Copy invite link", "Cancel invite"],
        "the team invite's ⋯ menu",
    );
    let edit = format!("/orgs/{org}/team/invites/{}/edit", invite.id);
    assert!(menu.contains(&format!("href=\"{edit}\"")));
    let (form, text) = open(&ada, &edit).await;
    assert!(text.contains("Edit the invite to pat@firm.test") && text.contains("Update invite"), "{text}");
    assert!(form.contains("name=\"role\" value=\"member\" checked"));
    assert!(
        form.contains(&format!("name=\"client\" value=\"{acme}\" checked"))
            && !form.contains(&format!("value=\"{beta}\" checked"))
    );

    let beta_s = beta.to_string();
    let r = ada.post(&edit, &[("role", "member"), ("client", &beta_s), ("new_clients", "on")]).await;
    assert_eq!(location(&r), format!("/orgs/{org}/team"));
    let page = text_of(&follow(&ada, r).await);
    assert!(
        page.contains("Invite to pat@firm.test to join Ada & Co updated: Member · Beta Books, New clients."),
        "{page}"
    );
    let offer = invite_offer(&app, invite.id).await;
    assert_eq!((offer.role.as_str(), offer.new_clients, offer.clients.as_slice()), ("member", true, &[beta][..]));
    assert_eq!(app.invite_record("pat@firm.test").await.expires_at, invite.expires_at);
    assert_eq!(app.outbox_of(invite.id).await.len(), 1, "no email by itself");
    assert_eq!(audit_of(&app, "pat@firm.test").await.last().map(|e| e.0.clone()).as_deref(), Some("updated_invite"));

    // To Manager: every client, whatever was ticked.
    let r = ada.post(&edit, &[("role", "manager"), ("client", &beta_s)]).await;
    let page = text_of(&follow(&ada, r).await);
    assert!(page.contains("Invite to pat@firm.test to join Ada & Co updated: Manager · All clients."), "{page}");
    let (status, landing) = app.visitor().status_and_text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(landing.contains("Manager") && landing.contains("All clients"), "{landing}");
    app.allow_resend(invite.id).await;
    let r = ada.post(&format!("/orgs/{org}/team/invites/{}/resend", invite.id), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mails = app.smtp.wait_for("pat@firm.test", 2).await;
    assert!(
        mails[1].text.contains("Your role: Manager") && mails[1].text.contains("Clients: All clients"),
        "{}",
        mails[1].text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_invite_is_refused_to_those_who_may_not_and_changes_nothing() {
    let f = firm_with_a_client().await;
    let (ws, llc) = (f.ws, f.llc.to_string());
    let (mo, _) = f.client_user("mo@client.test", "Mo Member", "member", &[f.llc]).await;
    let (acc, _) = f.client_user("acc@client.test", "Acc Accountant", "accountant", &[f.llc]).await;
    f.invite("dan@client.test", "member", &[f.llc]).await;
    let dan = f.app.invite_record("dan@client.test").await.id;
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test", "member", &[f.ws], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pat = f.app.invite_record("pat@firm.test").await.id;
    // Another firm, with an invite of its own.
    let (eve, eve_org) = f.app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let eve_ws = eve.add_client(eve_org, "Eve Co").await;
    let r = eve.invite(eve_ws, "evan@other.test", "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let evan = f.app.invite_record("evan@other.test").await.id;
    // A firm Manager.
    let (gina, _) = f.app.sign_up("Gina Manager", "gina@firm.test", "Gina's").await;
    f.app.add_to_team(f.org, f.app.user_id("gina@firm.test").await, "manager").await;
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;

    let admin = &[("role", "admin")][..];
    let as_member = &[("role", "member"), ("entity", llc.as_str())][..];
    let forged = &[("role", "member"), ("entity", "999999")][..];
    let holdings = f.holdings.to_string();
    let unheld = &[("role", "member"), ("entity", holdings.as_str())][..];
    let (ada_ws, ada_team) = (format!("/w/{ws}/settings/invites"), format!("/orgs/{}/team/invites", f.org));
    // (who, as whom, path, fields, answer, and whether GET answers the same)
    type Case<'a> = (&'a str, &'a TestUser, String, &'a [(&'a str, &'a str)], StatusCode, bool);
    let cases: Vec<Case> = vec![
        // Another firm's invite id, under one's own workspace or firm: not found.
        (
            "Ada, Eve's invite in her workspace",
            &f.ada,
            format!("{ada_ws}/{evan}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        (
            "Ada, Eve's invite on her Team",
            &f.ada,
            format!("{ada_team}/{evan}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        (
            "Eve, Ada's invite in Eve's workspace",
            &eve,
            format!("/w/{eve_ws}/settings/invites/{dan}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        ("Eve, Ada's workspace", &eve, format!("{ada_ws}/{dan}/edit"), admin, StatusCode::NOT_FOUND, true),
        (
            "Eve, Ada's team invite",
            &eve,
            format!("/orgs/{eve_org}/team/invites/{pat}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        // A workspace invite under the Team path, and the other way round.
        (
            "Ada, a workspace invite on the Team",
            &f.ada,
            format!("{ada_team}/{dan}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        (
            "Ada, a team invite in a workspace",
            &f.ada,
            format!("{ada_ws}/{pat}/edit"),
            admin,
            StatusCode::NOT_FOUND,
            true,
        ),
        // A workspace Member manages no invites.
        ("a Member", &mo, format!("{ada_ws}/{dan}/edit"), as_member, StatusCode::FORBIDDEN, true),
        // An Accountant may manage the invite (and open its form), but not make it an Admin's.
        ("an Accountant, into Admin", &acc, format!("{ada_ws}/{dan}/edit"), admin, StatusCode::FORBIDDEN, false),
        // Nor give an entity they do not hold themselves (she holds Acme LLC only).
        ("an Accountant, to Acme Holdings", &acc, format!("{ada_ws}/{dan}/edit"), unheld, StatusCode::FORBIDDEN, false),
        // A Manager may manage a Member's team invite, but not make it an Admin's.
        ("a Manager, into Admin", &gina, format!("{ada_team}/{pat}/edit"), admin, StatusCode::FORBIDDEN, false),
        // An entity of another workspace: a forged form.
        (
            "Ada, another workspace's entity",
            &f.ada,
            format!("{ada_ws}/{dan}/edit"),
            forged,
            StatusCode::BAD_REQUEST,
            false,
        ),
    ];
    for (what, user, path, fields, expected, get_too) in &cases {
        let r = user.post(path, fields).await;
        assert_eq!(r.status(), *expected, "POST {what}: {}", text_of(&r.text().await.unwrap_or_default()));
        if *get_too {
            assert_eq!(user.get(path).await.status(), *expected, "GET {what}");
        }
    }
    // The Accountant's form offers no Admin in the first place.
    let (form, _) = open(&acc, &format!("/w/{ws}/settings/invites/{dan}/edit")).await;
    assert!(!form.contains("value=\"admin\""), "no Admin role offered to an Accountant");

    // Bad input: the form again with the message and what was chosen, nothing saved.
    let edit = format!("/w/{ws}/settings/invites/{dan}/edit");
    let r = f.ada.post(&edit, &[("role", "accountant"), ("entity", &llc), ("all_entities", "on")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap_or_default();
    assert!(text_of(&body).contains("not both") && body.contains("value=\"accountant\" checked"), "{}", text_of(&body));
    let r = f.ada.post(&edit, &[("entity", &llc)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap_or_default()).contains("Choose a role."));
    let r = f.ada.post(&format!("/orgs/{}/team/invites/{pat}/edit", f.org), &[("client", &ws.to_string())]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap_or_default()).contains("Choose a role."));

    assert_eq!(
        f.app.snapshot().await,
        before,
        "refused edits change nothing: {}",
        before.diff(&f.app.snapshot().await)
    );
    assert_eq!(
        (invite_offer(&f.app, dan).await.role, invite_offer(&f.app, pat).await.role),
        ("member".into(), "member".into())
    );

    // A cancelled invite is not editable.
    let r = f.ada.cancel_invite(ws, dan).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cancelled = f.app.snapshot().await;
    let r = f.ada.post(&edit, &[("role", "accountant"), ("entity", &llc)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(f.app.snapshot().await, cancelled, "{}", cancelled.diff(&f.app.snapshot().await));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_invite_offers_update_invite_as_well_as_resend() {
    let f = firm_with_a_client().await;
    f.invite("dan@client.test", "member", &[f.llc]).await;
    let invite = f.app.invite_record("dan@client.test").await;
    f.app.outbox_settled().await;

    // The same address again, as an Accountant of Acme Holdings.
    let holdings = f.holdings.to_string();
    let r = f.ada.invite(f.ws, "Dan@client.test", "accountant", &[f.holdings]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap_or_default();
    let text = text_of(&body);
    assert!(
        text.contains("dan@client.test already has a pending invite to Acme Bakery.")
            && text.contains("Update invite")
            && text.contains("Resend invite"),
        "{text}"
    );
    let action = format!("/w/{}/settings/invites/{}/edit", f.ws, invite.id);
    let form = &body[body.find(&format!("action=\"{action}\"")).expect("an Update invite form")..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    assert!(
        form.contains("name=\"role\" value=\"accountant\"")
            && form.contains(&format!("name=\"entity\" value=\"{holdings}\"")),
        "it updates to what was just chosen: {form}"
    );
    assert!(!form.contains(&format!("value=\"{}\"", f.llc)), "{form}");
    assert_eq!(invite_offer(&f.app, invite.id).await.role, "member", "nothing changed before Update invite");

    // Update invite: what the form holds.
    let r = f.ada.post(&action, &[("role", "accountant"), ("entity", &holdings)]).await;
    let page = text_of(&follow(&f.ada, r).await);
    assert!(page.contains("Invite to dan@client.test for Acme Bakery updated: Accountant · Acme Holdings"), "{page}");
    assert_eq!(invite_offer(&f.app, invite.id).await.entities, vec![f.holdings]);
    assert_eq!(f.app.invite_records("dan@client.test").await.len(), 1, "still one invite");

    // The Team page's "already invited" offers the same.
    let app = &f.app;
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pat = app.invite_record("pat@firm.test").await.id;
    let ws = f.ws.to_string();
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test, new@firm.test", "member", &[f.ws], true).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap_or_default();
    let text = text_of(&body);
    assert!(text.contains("already invited") && text.contains("invite queued"), "{text}");
    let action = format!("/orgs/{}/team/invites/{pat}/edit", f.org);
    let form = &body[body.find(&format!("action=\"{action}\"")).expect("an Update invite form for pat")..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    assert!(
        form.contains(&format!("name=\"client\" value=\"{ws}\""))
            && form.contains("name=\"new_clients\" value=\"on\"")
            && form.contains("Update invite"),
        "{form}"
    );
    assert!(body.contains(&format!("action=\"/orgs/{}/team/invites/{pat}/resend\"", f.org)), "and Resend invite");
    assert!(invite_offer(app, pat).await.clients.is_empty(), "nothing changed before Update invite");
    let r = f.ada.post(&action, &[("role", "member"), ("client", &ws), ("new_clients", "on")]).await;
    let page = text_of(&follow(&f.ada, r).await);
    assert!(
        page.contains("Invite to pat@firm.test to join Ames & Co updated: Member · Acme Bakery, New clients"),
        "{page}"
    );
    assert_eq!(invite_offer(app, pat).await.clients, vec![f.ws]);
}

// ---------------------------------------------------------------------------------------
// 6. Renew and copy link
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_invite_is_renewed_before_its_link_is_handed_out() {
    let f = firm_with_a_client().await;
    let link = f.invite("dan@client.test", "member", &[f.llc]).await;
    let invite = f.app.invite_record("dan@client.test").await;
    f.app.set_invite_times(invite.id, Some(now() - chrono::Duration::days(2)), None).await;
    f.app.outbox_settled().await;
    let dead = copied(&link);

    // The row: no copy of a dead link, but "Renew and copy link" (a POST).
    let body = f.ada.members_page(f.ws).await;
    let menu = actions_menu(&body, "dan@client.test").expect("a ⋯ menu");
    let renew = format!("/w/{}/settings/invites/{}/renew", f.ws, invite.id);
    assert!(!menu.contains("data-copy-text") && !body.contains(&dead), "the dead link is nowhere on the page");
    assert!(menu.contains(&format!("action=\"{renew}\"")) && !text_of(menu).contains("Copy invite link"), "{menu}");
    assert_order(
        menu,
        &["Edit invite", "Resend invite", "Renew and copy link", "Cancel invite"],
        "an expired invite's ⋯ menu",
    );

    // Its link page does not show it either: it says when it expired and offers renewal.
    let link_page = format!("/w/{}/settings/invites/{}/link", f.ws, invite.id);
    let (page, text) = open(&f.ada, &link_page).await;
    assert!(!page.contains(&dead) && !page.contains("id=\"invite-link\""), "no dead link: {text}");
    assert!(text.contains("expired 2 days ago") && text.contains("Renew and copy link"), "{text}");
    assert!(page.contains(&format!("action=\"{renew}\"")));

    // Renew and copy link: a fresh expiry, audited, no email; then the link that works.
    let before = f.app.snapshot().await;
    let r = f.ada.post(&renew, &[]).await;
    assert_eq!(location(&r), link_page);
    let page = follow(&f.ada, r).await;
    let after = f.app.invite_record("dan@client.test").await;
    let until = after.expires_at.format("%B %-d, %Y at %H:%M UTC").to_string();
    assert!(
        text_of(&page).contains(&format!("Invite to dan@client.test renewed: the link works until {until}")),
        "{}",
        text_of(&page)
    );
    assert!(
        page.contains(&format!("readonly value=\"{dead}\"")) && page.contains("data-copy-target=\"invite-link\""),
        "the fresh link, with its copy button"
    );
    let left = after.expires_at - now();
    assert!(
        left > chrono::Duration::days(7) - chrono::Duration::minutes(1),
        "renewed by the configured 7 days: {left}"
    );
    assert_eq!(after.last_sent_at, invite.last_sent_at, "nothing was sent");
    assert_eq!(f.app.outbox_of(invite.id).await.len(), 1, "no email");
    let diff = before.diff(&f.app.snapshot().await);
    assert_eq!(diff.lines().count(), 3, "one invite row changed, one audit event: {diff}");
    assert!(diff.contains("renewed_invite dan@client.test"), "{diff}");
    assert_eq!(f.app.visitor().get(&link).await.status(), StatusCode::OK, "the link works again");
    // The row is pending again, and copies in place once more.
    let body = f.ada.members_page(f.ws).await;
    assert!(row(&body, "dan@client.test").contains("expires in 7 days"));
    assert!(actions_menu(&body, "dan@client.test").unwrap().contains(&format!("data-copy-text=\"{dead}\"")));

    // Nobody else renews it: a workspace Member, another firm.
    let (mo, _) = f.client_user("mo@client.test", "Mo Member", "member", &[f.llc]).await;
    let (eve, eve_org) = f.app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let eve_ws = eve.add_client(eve_org, "Eve Co").await;
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;
    assert_eq!(mo.post(&renew, &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(eve.post(&renew, &[]).await.status(), StatusCode::NOT_FOUND);
    let under_eve = format!("/w/{eve_ws}/settings/invites/{}/renew", invite.id);
    assert_eq!(eve.post(&under_eve, &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(f.app.snapshot().await, before, "{}", before.diff(&f.app.snapshot().await));
}

// ---------------------------------------------------------------------------------------
// 7. Truthful messages that name who and where; one ⋯ order; buttons that say what they do
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn messages_name_the_person_and_the_place() {
    let f = firm_with_a_client().await;
    let r = f.ada.invite(f.ws, "dan@client.test", "member", &[f.llc]).await;
    let page = follow(&f.ada, r).await;
    assert!(text_of(&page).contains("Invite to dan@client.test queued"), "{}", text_of(&page));
    assert!(!text_of(&page).contains("Invite sent"), "queued is not sent");
    // The row's badge then says how the email went.
    f.until_row_says("dan@client.test", "Email sent").await;
    let dan = f.app.invite_record("dan@client.test").await.id;

    // The resend cooldown is neutral information, not a red error.
    let r = f.ada.resend_invite(f.ws, dan).await;
    let page = follow(&f.ada, r).await;
    assert!(page.contains("class=\"flash flash-info\" role=\"status\">An invite was sent to dan@client.test less than a minute ago. Try again in a minute."), "{}", text_of(&page));
    f.app.allow_resend(dan).await;
    let r = f.ada.resend_invite(f.ws, dan).await;
    let page = follow(&f.ada, r).await;
    assert!(
        page.contains(
            "class=\"flash flash-success\" role=\"status\">Invite to dan@client.test for Acme Bakery queued again"
        ),
        "{}",
        text_of(&page)
    );

    // Several staff at once.
    let r = send_team_invites(&f.ada, f.org, "a@firm.test, b@firm.test, c@firm.test", "member", &[f.ws], false).await;
    let page = text_of(&follow(&f.ada, r).await);
    assert!(page.contains("Invites to 3 people queued"), "{page}");

    // Configure and remove name the person and the workspace.
    let (_, cleo) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let r = f.ada.configure_member(f.ws, cleo, "accountant", &[f.llc]).await;
    assert!(text_of(&follow(&f.ada, r).await).contains("Permissions of Cleo Client in Acme Bakery updated"));
    let r = f.ada.remove_member(f.ws, cleo).await;
    assert!(text_of(&follow(&f.ada, r).await).contains("Cleo Client's access to Acme Bakery removed"));
    let r = f.ada.cancel_invite(f.ws, dan).await;
    assert!(text_of(&follow(&f.ada, r).await)
        .contains("Invite to dan@client.test for Acme Bakery cancelled: its link no longer works"));
}

#[tokio::test(flavor = "multi_thread")]
async fn menus_share_one_order_and_add_team_says_what_it_does() {
    let f = firm_with_a_client().await;
    f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let app = &f.app;
    app.sign_up("Mia Member", "mia@firm.test", "Mia's").await;
    app.add_to_team(f.org, app.user_id("mia@firm.test").await, "member").await;

    // Members: "Add team" and its one line, tied to it; the form's heading names the action.
    let body = f.ada.members_page(f.ws).await;
    assert!(body.contains("aria-describedby=\"add-team-what\">Add team</a>"), "Add team keeps its words");
    assert!(body.contains("id=\"add-team-what\">Invite someone to Acme Bakery by email</p>"), "{}", text_of(&body));
    assert_order(
        actions_menu(&body, "Cleo Client").unwrap(),
        &["Configure permissions", "Remove from workspace"],
        "a member's ⋯ menu",
    );
    let (form, _) = open(&f.ada, &format!("/w/{}/settings/members/invite", f.ws)).await;
    assert!(
        form.contains("<h1>Invite someone to Acme Bakery</h1>")
            && form.contains("<title>Invite someone to Acme Bakery · Portico</title>")
    );

    // Team: "Add Team", its own line; the form's heading.
    let (team, _) = open(&f.ada, &format!("/orgs/{}/team", f.org)).await;
    assert!(team.contains("aria-describedby=\"add-team-what\">Add Team</a>"));
    assert!(
        team.contains("id=\"add-team-what\">Invite staff to Ames &amp; Co by email</p>")
            || team.contains("id=\"add-team-what\">Invite staff to Ames &#38; Co by email</p>"),
        "{}",
        text_of(&team)
    );
    assert_order(
        actions_menu(&team, "Mia Member").unwrap(),
        &["Configure permissions", "Remove from organization"],
        "a team member's ⋯ menu",
    );
    let (form, text) = open(&f.ada, &format!("/orgs/{}/team/invite", f.org)).await;
    assert!(text.contains("Invite staff to Ames & Co") && form.contains("<h1>Invite staff to Ames"), "{text}");
}

// ---------------------------------------------------------------------------------------
// 8. Confirmation pages focus the safe choice; bulk cancel asks first, without JavaScript
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn confirmation_pages_focus_the_safe_choice() {
    let f = firm_with_a_client().await;
    let (_, cleo) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    f.invite("dan@client.test", "member", &[f.llc]).await;
    let dan = f.app.invite_record("dan@client.test").await.id;
    let (_, _) = f.app.sign_up("Mia Member", "mia@firm.test", "Mia's").await;
    let mia = f.app.user_id("mia@firm.test").await;
    f.app.add_to_team(f.org, mia, "member").await;
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test", "member", &[f.ws], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pat = f.app.invite_record("pat@firm.test").await.id;

    for (path, keep) in [
        (format!("/w/{}/settings/invites/{dan}/cancel", f.ws), "Keep invite"),
        (format!("/orgs/{}/team/invites/{pat}/cancel", f.org), "Keep invite"),
        (format!("/w/{}/settings/members/{cleo}/remove", f.ws), "Keep access"),
        (format!("/orgs/{}/team/{mia}/remove", f.org), "Keep access"),
    ] {
        let (page, _) = open(&f.ada, &path).await;
        assert!(page.contains(&format!(" autofocus>{keep}</a>")), "{path}: {keep} has the focus");
        assert_eq!(page.matches("autofocus").count(), 1, "{path}: nothing else takes it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_cancel_lists_the_invites_and_asks_first() {
    let f = firm_with_a_client().await;
    f.invite("dan@client.test", "accountant", &[f.llc]).await;
    let r = send_team_invites(&f.ada, f.org, "pat@firm.test", "member", &[f.ws], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (dan, pat) = (f.app.invite_record("dan@client.test").await.id, f.app.invite_record("pat@firm.test").await.id);
    let pending = format!("/orgs/{}/invites", f.org);
    let (page, _) = open(&f.ada, &pending).await;
    assert!(!page.contains("data-confirm"), "no script dialog: a page asks, with or without JavaScript");
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;

    // "Cancel selected": a page naming each invite and where it leads; nothing cancelled.
    let (dan_s, pat_s) = (dan.to_string(), pat.to_string());
    let r = f.ada.post(&pending, &[("invite", &dan_s), ("invite", &pat_s), ("action", "cancel")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap_or_default();
    let text = text_of(&page);
    assert!(text.contains("Cancel 2 invites?"), "{text}");
    assert!(
        text.contains("dan@client.test: Accountant, for Acme Bakery")
            && text.contains("pat@firm.test: Member, to join your team"),
        "{text}"
    );
    assert!(
        page.contains(" autofocus>Keep them</a>") && page.contains(&format!("href=\"{pending}\" autofocus")),
        "Keep them is focused and goes back"
    );
    assert!(page.contains("value=\"confirm-cancel\">Cancel 2 invites</button>"), "{text}");
    for id in [&dan_s, &pat_s] {
        assert!(page.contains(&format!("<input type=\"hidden\" name=\"invite\" value=\"{id}\">")));
    }
    assert_eq!(
        f.app.snapshot().await,
        before,
        "nothing is cancelled before confirming: {}",
        before.diff(&f.app.snapshot().await)
    );

    // Confirmed: both cancelled, named.
    let r = f.ada.post(&pending, &[("invite", &dan_s), ("invite", &pat_s), ("action", "confirm-cancel")]).await;
    assert_eq!(location(&r), pending);
    let text = text_of(&follow(&f.ada, r).await);
    assert!(text.contains("2 invites cancelled: dan@client.test, pat@firm.test"), "{text}");
    assert_eq!(
        (f.app.invite_state(dan).await, f.app.invite_state(pat).await),
        ("cancelled".into(), "cancelled".into())
    );
}

// ---------------------------------------------------------------------------------------
// 8. In the browser: focus back on ⋯ after "Copy invite link"
// ---------------------------------------------------------------------------------------

/// Logs `email` in, in the browser.
async fn log_in(b: &Browser, base: &str, email: &str) {
    b.goto(&format!("{base}/login")).await;
    b.fill("Email", email).await;
    b.fill("Password", PASSWORD).await;
    b.click_text("Log in").await;
    b.wait_for_path("signed in", |p| p != "/login").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn focus_returns_to_the_menu_button_after_copy_and_lands_on_the_safe_choice() {
    if !installed_or_skip("invite_editing_focus") {
        return;
    }
    let f = firm_with_a_client().await;
    let (app, org, ws) = (&f.app, f.org, f.ws);
    for email in ["dan@client.test", "eli@client.test"] {
        let r = f.ada.invite(ws, email, "member", &[f.llc]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let ada = Browser::start("invite_editing_focus").await;
    log_in(&ada, &app.base, "ada@firm.test").await;

    // ⋯ → Copy invite link: copied in place, the menu closes, focus is back on its ⋯.
    ada.goto(&format!("{}/w/{ws}/settings/members", app.base)).await;
    ada.open_menu("dan@client.test").await;
    ada.click_text("Copy invite link").await;
    ada.assert_text("Invite link copied").await;
    ada.wait_for_js(
        "focus on the row's ⋯ button",
        "var a = document.activeElement; return a ? (a.getAttribute('aria-label') || a.tagName) : null;",
        serde_json::json!("Actions for dan@client.test"),
    )
    .await;
    ada.wait_for_js(
        "the menu closed",
        "return document.querySelectorAll('details.menu[open]').length;",
        serde_json::json!(0),
    )
    .await;
    ada.screenshot("focus-after-copy").await;

    // A confirmation page focuses "Keep invite".
    ada.open_menu("dan@client.test").await;
    ada.click_text("Cancel invite").await;
    ada.assert_heading("Cancel the invite to dan@client.test?").await;
    ada.wait_for_js(
        "Keep invite focused",
        "return document.activeElement.textContent.trim();",
        serde_json::json!("Keep invite"),
    )
    .await;

    // Pending invites → select both → Cancel selected: a page (no dialog) with "Keep them" focused.
    ada.goto(&format!("{}/orgs/{org}/invites", app.base)).await;
    for email in ["dan@client.test", "eli@client.test"] {
        ada.check(email).await;
    }
    ada.click_text("Cancel selected").await;
    ada.assert_heading("Cancel 2 invites?").await;
    ada.wait_for_js(
        "Keep them focused",
        "return document.activeElement.textContent.trim();",
        serde_json::json!("Keep them"),
    )
    .await;
    ada.screenshot("bulk-cancel-confirmation").await;
    assert_eq!(app.invite_record("dan@client.test").await.state, "pending", "nothing cancelled yet");
    ada.click_text("Cancel 2 invites").await;
    ada.assert_text("2 invites cancelled").await;
    assert_eq!(app.invite_record("eli@client.test").await.state, "cancelled");
    ada.close().await;
}

/// ⋯ → "Renew and copy link" on an expired invite does both, in place: the link on the
/// clipboard works (it opens the invite page), the row is pending again, and the page says
/// so. The same from the Pending invites page's ⋯.
#[tokio::test(flavor = "multi_thread")]
async fn renew_and_copy_link_renews_and_copies_a_link_that_works() {
    if !installed_or_skip("invite_editing_renew_copy") {
        return;
    }
    let f = firm_with_a_client().await;
    let (app, org, ws) = (&f.app, f.org, f.ws);
    for email in ["dan@client.test", "eli@client.test"] {
        let r = f.ada.invite(ws, email, "member", &[f.llc]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let id = app.invite_record(email).await.id;
        app.set_invite_times(id, Some(now() - chrono::Duration::days(2)), None).await;
    }
    let ada = Browser::start("invite_editing_renew_copy").await;
    log_in(&ada, &app.base, "ada@firm.test").await;

    for (page, email) in
        [(format!("/w/{ws}/settings/members"), "dan@client.test"), (format!("/orgs/{org}/invites"), "eli@client.test")]
    {
        ada.goto(&format!("{}{page}", app.base)).await;
        ada.assert_row(email, &["Expired"]).await;
        ada.open_menu(email).await;
        ada.click_text("Renew and copy link").await;
        ada.assert_text(&format!("Invite to {email}")).await;
        ada.assert_text("Its link is copied.").await;
        ada.assert_row(email, &["Invite pending", "expires in 7 days"]).await;
        assert_eq!(ada.path().await, page, "still on the same page");
        let link = ada.clipboard().await;
        assert!(link.starts_with(&format!("{}/invites/", app.base)), "a link on the clipboard: {link:?}");
        let (status, landing) = app.visitor().page(&link).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text_of(&landing).contains("Accept invite"), "the copied link works: {}", text_of(&landing));
        assert!(app.invite_record(email).await.expires_at > now(), "renewed in the database");
        ada.screenshot(&format!("renewed-{email}")).await;
    }
    ada.close().await;
}
