//! The rules behind the Members page: email input, duplicates, forged forms, who may grant
//! what, the last Admin, invite links (randomness, storage, expiry, single use, bound to
//! one address), races, and the email outbox.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Response, StatusCode};

use crate::support::{actions_menu, firm_with_a_client, location, row, row_of, text_of, Firm, TestUser, PASSWORD};

/// The status of a response and the text of its page.
async fn outcome(r: Response) -> (StatusCode, String) {
    let status = r.status();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = r.text().await.unwrap_or_default();
    (status, location.unwrap_or_else(|| text_of(&body)))
}

/// The invite form, posted with exactly these fields (and the CSRF token).
async fn post_invite(user: &TestUser, ws: i64, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = user.post(&format!("/w/{ws}/settings/members/invite"), fields).await;
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// The workspace role stored for `user` in `ws`, if they have a membership row.
async fn stored_role(f: &Firm, user: i64) -> Option<String> {
    use diesel::prelude::*;
    use portico::db::schema::workspace_memberships as m;
    let ws = f.ws;
    f.app
        .db
        .read(move |c| {
            m::table
                .filter(m::workspace_id.eq(ws))
                .filter(m::user_id.eq(user))
                .select(m::role)
                .first::<String>(c)
                .optional()
        })
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Email input and duplicates
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn emails_are_trimmed_lower_cased_and_validated() {
    let f = firm_with_a_client().await;
    let (ws, llc) = (f.ws, f.llc);
    for (input, message) in [
        ("cleo", "Enter a valid email address, like name@example.com."),
        ("a@b", "Enter a valid email address, like name@example.com."),
        ("x@y.z, w@v.u", "Enter one email address, like name@example.com."),
        ("   ", "Enter an email address."),
    ] {
        let (status, body) =
            post_invite(&f.ada, ws, &[("email", input), ("role", "accountant"), ("entity", &llc.to_string())]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input:?} is refused");
        assert!(text_of(&body).contains(message), "{input:?}: {message:?} missing from {}", text_of(&body));
        assert!(body.contains(&format!("value=\"{input}\"")), "{input:?} is kept in the field");
        assert!(
            body.contains("value=\"accountant\" checked") && body.contains(&format!("value=\"{llc}\" checked")),
            "role and entities are kept"
        );
    }
    assert_eq!(f.app.invite_count().await, 0, "nothing was invited");

    let r = f.ada.invite(ws, " Cleo@Client.TEST ", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let body = f.ada.members_page(ws).await;
    assert!(row(&body, "cleo@client.test").contains("Invite pending"));
    assert!(!body.contains("Cleo@Client.TEST"));
    let mails = f.app.smtp.wait_for("cleo@client.test", 1).await;
    assert_eq!(mails[0].to, ["cleo@client.test"]);
    assert_eq!(f.app.invite_record("cleo@client.test").await.email, "cleo@client.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn inviting_a_current_member_says_so_and_invites_nobody() {
    let f = firm_with_a_client().await;
    f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let before = f.app.invite_count().await;
    for (email, shown) in [("CLEO@client.test ", "cleo@client.test"), ("Ada@Firm.test", "ada@firm.test")] {
        let (status, body) =
            post_invite(&f.ada, f.ws, &[("email", email), ("role", "member"), ("entity", &f.llc.to_string())]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{email}");
        let text = text_of(&body);
        assert!(text.contains(&format!("{shown} is already a member of Acme Bakery")), "{text}");
        assert!(text.contains("Configure permissions"), "it points to the right action: {text}");
    }
    assert_eq!(f.app.invite_count().await, before, "no new invite");
}

#[tokio::test(flavor = "multi_thread")]
async fn inviting_someone_with_a_pending_invite_offers_resend_instead_of_a_duplicate() {
    let f = firm_with_a_client().await;
    f.invite("cleo@client.test", "member", &[f.llc]).await;
    let invite = f.app.invite_record("cleo@client.test").await;

    let (status, body) = post_invite(
        &f.ada,
        f.ws,
        &[("email", " Cleo@CLIENT.test"), ("role", "accountant"), ("entity", &f.holdings.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let text = text_of(&body);
    assert!(text.contains("cleo@client.test already has a pending invite to Acme Bakery."), "{text}");
    assert!(text.contains("Resend invite"), "{text}");
    let action = format!("action=\"/w/{}/settings/invites/{}/resend\"", f.ws, invite.id);
    assert!(body.contains(&action), "the Resend invite button resends the existing invite");
    let records = f.app.invite_records("cleo@client.test").await;
    assert_eq!(records.len(), 1, "no duplicate invite");
    assert_eq!(records[0].role, "member", "the pending invite is unchanged");
    assert_eq!(f.app.outbox_of(invite.id).await.len(), 1, "no second email");

    // The offered button works (a minute later).
    f.app.allow_resend(invite.id).await;
    let r = f.ada.resend_invite(f.ws, invite.id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.app.smtp.wait_for("cleo@client.test", 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_invite_sent_many_times_at_once_makes_one_invite() {
    let f = firm_with_a_client().await;
    f.ada.csrf().await;
    let llc = f.llc.to_string();
    let fields = [("email", "cleo@client.test"), ("role", "member"), ("entity", llc.as_str())];
    let results = join_all((0..10).map(|_| post_invite(&f.ada, f.ws, &fields))).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::SEE_OTHER).count();
    for (status, body) in &results {
        assert!(
            *status == StatusCode::SEE_OTHER
                || (*status == StatusCode::CONFLICT && text_of(body).contains("already has a pending invite")),
            "each request is sent or told about the pending invite; got {status}: {}",
            text_of(body)
        );
    }
    assert_eq!(created, 1, "one of them made the invite");
    let records = f.app.invite_records("cleo@client.test").await;
    assert_eq!(records.len(), 1);
    assert_eq!(f.app.outbox_of(records[0].id).await.len(), 1, "one email");
}

// ---------------------------------------------------------------------------------------
// Forged forms
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_role_is_a_bad_request_and_changes_nothing() {
    let f = firm_with_a_client().await;
    let (_, mia) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;
    let before = f.app.invite_count().await;
    for role in ["owner", "Admin", "superuser", "", "admin "] {
        let (status, body) = post_invite(&f.ada, f.ws, &[("email", "cleo@client.test"), ("role", role)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "role {role:?}");
        assert!(text_of(&body).contains("That role does not exist."), "{}", text_of(&body));
        let r = f.ada.configure_member(f.ws, mia, role, &[]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "configure with role {role:?}");
    }
    // No role at all: the form asks for one and keeps the email.
    let (status, body) = post_invite(&f.ada, f.ws, &[("email", "cleo@client.test")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&body).contains("Choose a role.") && body.contains("value=\"cleo@client.test\""));
    assert_eq!(f.app.invite_count().await, before, "no invite was made");
    assert_eq!(stored_role(&f, mia).await.as_deref(), Some("member"), "Mia is unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entity_of_another_workspace_is_a_bad_request_and_changes_nothing() {
    let f = firm_with_a_client().await;
    let (mia_user, mia) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;
    let blue = f.ada.add_client(f.org, "Blue Cafe").await;
    let blue_llc = f.ada.add_entity(blue, "Blue LLC").await;
    let (eve, eve_org) = f.app.sign_up("Eve Else", "eve@else.test", "Else Inc").await;
    let eve_ws = eve.add_client(eve_org, "Else Client").await;
    let eve_entity = eve.add_entity(eve_ws, "Else LLC").await;
    let before = f.app.invite_count().await;

    for foreign in [blue_llc, eve_entity, 999_999] {
        let entity = foreign.to_string();
        let (status, body) = post_invite(
            &f.ada,
            f.ws,
            &[("email", "cleo@client.test"), ("role", "member"), ("entity", &f.llc.to_string()), ("entity", &entity)],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "entity {foreign}");
        assert!(text_of(&body).contains("One of the chosen entities is not in this workspace."), "{}", text_of(&body));
        let r = f.ada.configure_member(f.ws, mia, "member", &[f.holdings, foreign]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "configure with entity {foreign}");
    }
    for junk in ["abc", "1.5", "-", ""] {
        let (status, _) =
            post_invite(&f.ada, f.ws, &[("email", "cleo@client.test"), ("role", "member"), ("entity", junk)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "entity {junk:?}");
    }
    assert_eq!(f.app.invite_count().await, before, "no invite was made");
    // Mia still sees exactly what she had.
    assert_eq!(mia_user.get(&format!("/w/{}/entities/{}", f.ws, f.llc)).await.status(), StatusCode::OK);
    assert_eq!(mia_user.get(&format!("/w/{}/entities/{}", f.ws, f.holdings)).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let f = firm_with_a_client().await;
    let (_, mia) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;
    f.invite("pending@client.test", "member", &[f.llc]).await;
    f.app.allow_resend(f.app.invite_record("pending@client.test").await.id).await;
    let pending = f.app.invite_record("pending@client.test").await;
    let before = f.app.invite_count().await;
    let other_session = f.app.visitor().csrf().await;
    let ws = f.ws;
    let invite_fields = [("email", "cleo@client.test"), ("role", "member")];
    for (what, path, fields) in [
        ("invite", format!("/w/{ws}/settings/members/invite"), &invite_fields[..]),
        ("configure", format!("/w/{ws}/settings/members/{mia}/permissions"), &[("role", "accountant")][..]),
        ("remove", format!("/w/{ws}/settings/members/{mia}/remove"), &[][..]),
        ("resend", format!("/w/{ws}/settings/invites/{}/resend", pending.id), &[][..]),
        ("cancel", format!("/w/{ws}/settings/invites/{}/cancel", pending.id), &[][..]),
        ("edit", format!("/w/{ws}/settings/invites/{}/edit", pending.id), &[("role", "admin")][..]),
        ("renew", format!("/w/{ws}/settings/invites/{}/renew", pending.id), &[][..]),
    ] {
        for token in [None, Some("wrong"), Some(other_session.as_str())] {
            let mut all: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
            all.extend_from_slice(fields);
            let r = f.ada.post_raw(&path, &all).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what} with token {token:?}");
            assert!(text_of(&r.text().await.unwrap()).contains("This form has expired"));
        }
    }
    assert_eq!(f.app.invite_count().await, before, "no invite was made");
    assert_eq!(stored_role(&f, mia).await.as_deref(), Some("member"), "Mia is unchanged and still a member");
    let after = f.app.invite_record("pending@client.test").await;
    assert_eq!(
        (after.state.as_str(), after.last_sent_at),
        ("pending", pending.last_sent_at),
        "the invite was neither resent nor cancelled"
    );
}

// ---------------------------------------------------------------------------------------
// Who may grant what
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_accountant_invites_only_below_admin_and_only_to_entities_they_hold() {
    let f = firm_with_a_client().await;
    let (carl, _) = f.client_user("carl@client.test", "Carl Counts", "accountant", &[f.llc]).await;
    f.invite("boss@client.test", "admin", &[]).await;
    let ws = f.ws;

    // The form offers only what Carl may give.
    let (status, form) = carl.page(&format!("/w/{ws}/settings/members/invite")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!form.contains("value=\"admin\""), "no Admin choice for an Accountant");
    assert!(form.contains("value=\"accountant\"") && form.contains("value=\"member\""));
    assert!(form.contains(&format!("name=\"entity\" value=\"{}\"", f.llc)));
    assert!(
        !form.contains(&format!("name=\"entity\" value=\"{}\"", f.holdings)),
        "no checkbox for an entity Carl cannot see"
    );
    assert!(text_of(&form).contains("Only a workspace Admin can give the Admin role."));

    let before = f.app.invite_count().await;
    let r = carl.invite(ws, "cleo@client.test", "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        text_of(&r.text().await.unwrap()).contains("Only a workspace Admin can give, change or remove the Admin role.")
    );
    let r = carl.invite(ws, "cleo@client.test", "member", &[f.holdings]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        text_of(&r.text().await.unwrap()).contains("You can only give access to entities you have access to yourself.")
    );
    let r = carl.invite(ws, "cleo@client.test", "member", &[f.llc, f.holdings]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.app.invite_count().await, before, "refused invites make nothing");

    // Within his own role and entities he invites like an Admin.
    let r = carl.invite(ws, "cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = carl.invite(ws, "dora@client.test", "accountant", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let body = carl.members_page(ws).await;
    assert!(row(&body, "cleo@client.test").contains("by Carl Counts"));
    let mail = &f.app.smtp.wait_for("cleo@client.test", 1).await[0];
    assert!(mail.text.contains("Carl Counts"), "the email names Carl as the inviter");

    // The Admin invite is not his to manage.
    assert!(actions_menu(&body, "cleo@client.test").is_some());
    assert!(actions_menu(&body, "boss@client.test").is_none(), "no ⋯ menu for an Admin invite");
    f.app.allow_resend(f.app.invite_record("boss@client.test").await.id).await;
    let boss = f.app.invite_record("boss@client.test").await;
    assert_eq!(carl.resend_invite(ws, boss.id).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.get(&format!("/w/{ws}/settings/invites/{}/link", boss.id)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.get(&format!("/w/{ws}/settings/invites/{}/cancel", boss.id)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.cancel_invite(ws, boss.id).await.status(), StatusCode::FORBIDDEN);
    let after = f.app.invite_record("boss@client.test").await;
    assert_eq!((after.state.as_str(), after.last_sent_at), ("pending", boss.last_sent_at));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accountant_cannot_configure_or_remove_an_admin() {
    let f = firm_with_a_client().await;
    let (_, cleo) = f.client_user("cleo@client.test", "Cleo Client", "admin", &[]).await;
    let (carl, _) = f.client_user("carl@client.test", "Carl Counts", "accountant", &[f.llc]).await;
    let ada = f.app.user_id("ada@firm.test").await;
    let ws = f.ws;
    let body = carl.members_page(ws).await;
    assert!(
        actions_menu(&body, "Cleo Client").is_none() && actions_menu(&body, "Ada Ames").is_none(),
        "no ⋯ menu next to Admins"
    );

    for admin in [cleo, ada] {
        for path in [
            format!("/w/{ws}/settings/members/{admin}/permissions"),
            format!("/w/{ws}/settings/members/{admin}/remove"),
        ] {
            assert_eq!(carl.get(&path).await.status(), StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(carl.configure_member(ws, admin, "member", &[f.llc]).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(carl.configure_member(ws, admin, "accountant", &[f.llc]).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(carl.remove_member(ws, admin).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(stored_role(&f, cleo).await.as_deref(), Some("admin"));
    assert_eq!(f.app.workspace_admins(ws).await, 2, "Ada and Cleo are still Admins");
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_grants_more_than_they_hold() {
    let f = firm_with_a_client().await;
    let ws = f.ws;
    let (carl, carl_id) = f.client_user("carl@client.test", "Carl Counts", "accountant", &[f.llc]).await;
    let (mia, mia_id) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc, f.holdings]).await;

    // Not a role above his own, for someone else or for himself.
    assert_eq!(carl.configure_member(ws, mia_id, "admin", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.configure_member(ws, carl_id, "admin", &[]).await.status(), StatusCode::FORBIDDEN);
    // Not an entity he cannot see.
    let (status, form) = carl.page(&format!("/w/{ws}/settings/members/{mia_id}/permissions")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!form.contains("value=\"admin\""));
    assert!(!form.contains(&format!("name=\"entity\" value=\"{}\"", f.holdings)));
    assert!(text_of(&form).contains("They also have access to 1 entity you cannot see; that stays as it is"));
    let r = carl.configure_member(ws, carl_id, "accountant", &[f.llc, f.holdings]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "not even to himself");
    assert_eq!(carl.get(&format!("/w/{ws}/entities/{}", f.holdings)).await.status(), StatusCode::NOT_FOUND);

    // Taking away what he holds leaves what he cannot see as it was.
    let r = carl.configure_member(ws, mia_id, "member", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(mia.get(&format!("/w/{ws}/entities/{}", f.llc)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(mia.get(&format!("/w/{ws}/entities/{}", f.holdings)).await.status(), StatusCode::OK);
    // Not her role while she holds an entity he cannot see: that would give (or take) a
    // role on books beyond his reach. The form says so and nothing changes.
    let before = f.app.snapshot().await;
    let r = carl.configure_member(ws, mia_id, "accountant", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(text_of(&r.text().await.unwrap()).contains("They also hold entities you cannot see"));
    assert_eq!(f.app.snapshot().await, before);
    assert_eq!(stored_role(&f, mia_id).await.as_deref(), Some("member"));
    // Up to his own role is fine for someone within his reach.
    let (_, ned_id) = f.client_user("ned@client.test", "Ned Member", "member", &[f.llc]).await;
    let r = carl.configure_member(ws, ned_id, "accountant", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_role(&f, ned_id).await.as_deref(), Some("accountant"));
    assert_eq!(stored_role(&f, carl_id).await.as_deref(), Some("accountant"));

    // A Member grants nothing at all.
    let (tom_user, tom) = f.client_user("tom@client.test", "Tom Member", "member", &[f.llc]).await;
    let before = f.app.invite_count().await;
    assert_eq!(tom_user.get(&format!("/w/{ws}/settings/members/invite")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(tom_user.invite(ws, "x@client.test", "member", &[f.llc]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(tom_user.configure_member(ws, tom, "accountant", &[f.llc]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.app.invite_count().await, before);
    assert_eq!(stored_role(&f, tom).await.as_deref(), Some("member"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_firms_admin_stays_an_admin_of_every_client_so_a_client_never_loses_its_last_admin() {
    let f = firm_with_a_client().await;
    let ws = f.ws;
    let ada = f.app.user_id("ada@firm.test").await;
    const FIRM_LEAD: &str = "Firm Admins and Managers are Admins of every client";

    // Ada, the firm's Admin, is an Admin of the client, always: nobody inside it, herself
    // included, can lower or remove that (roles.md, firm staff inside a client).
    assert_eq!(f.app.workspace_admins(ws).await, 1);
    let before = f.app.snapshot().await;
    for r in [f.ada.configure_member(ws, ada, "accountant", &[f.llc]).await, f.ada.remove_member(ws, ada).await] {
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(text_of(&r.text().await.unwrap()).contains(FIRM_LEAD));
    }
    for page in ["permissions", "remove"] {
        let url = format!("/w/{ws}/settings/members/{ada}/{page}");
        assert_eq!(f.ada.get(&url).await.status(), StatusCode::FORBIDDEN, "{url}");
    }
    assert_eq!(f.app.snapshot().await, before, "refused: nothing changed");
    let r = row(&f.ada.members_page(ws).await, "ada@firm.test");
    assert!(r.contains("Admin") && r.contains("Firm Admin") && r.contains("managed on the Team page"), "{r}");

    // A client Admin cannot lower her either.
    let (cleo_user, cleo) = f.client_user("cleo@client.test", "Cleo Client", "admin", &[]).await;
    assert_eq!(f.app.workspace_admins(ws).await, 2);
    let r = cleo_user.configure_member(ws, ada, "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text_of(&r.text().await.unwrap()).contains(FIRM_LEAD));
    assert_eq!(cleo_user.remove_member(ws, ada).await.status(), StatusCode::FORBIDDEN);

    // So the client's own last Admin may step down or leave: the firm's Admin remains.
    let r = cleo_user.configure_own_access(ws, cleo, "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_role(&f, cleo).await.as_deref(), Some("member"));
    assert_eq!(f.app.workspace_admins(ws).await, 1);
    assert_eq!(f.ada.configure_member(ws, cleo, "admin", &[]).await.status(), StatusCode::SEE_OTHER);
    let r = cleo_user.remove_member(ws, cleo).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let (_, body, _) = cleo_user.visit("/").await;
    assert!(text_of(&body).contains("You left Acme Bakery"), "{}", text_of(&body));
    assert_eq!(cleo_user.get(&format!("/w/{ws}/entities")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(f.app.workspace_admins(ws).await, 1);
    assert_eq!(f.ada.get(&format!("/w/{ws}/settings/activity")).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_admins_demoting_each_other_at_once_leave_an_admin() {
    let f = firm_with_a_client().await;
    let ws = f.ws;
    let (cleo_user, cleo) = f.client_user("cleo@client.test", "Cleo Client", "admin", &[]).await;
    let (dan_user, dan) = f.client_user("dan@client.test", "Dan Client", "admin", &[]).await;
    cleo_user.csrf().await;
    dan_user.csrf().await;
    let llc = [f.llc];

    // Each demotes the other, at the same moment, a few times over.
    for round in 0..5 {
        // Ada (the firm's Admin), Cleo and Dan.
        assert_eq!(f.app.workspace_admins(ws).await, 3, "round {round} starts with three Admins");
        let (a, b) = tokio::join!(
            cleo_user.configure_member(ws, dan, "member", &llc),
            dan_user.configure_member(ws, cleo, "accountant", &llc)
        );
        let results = [outcome(a).await, outcome(b).await];
        let done: Vec<bool> = results.iter().map(|(s, _)| *s == StatusCode::SEE_OTHER).collect();
        assert_eq!(
            done.iter().filter(|d| **d).count(),
            1,
            "round {round}: exactly one demotion goes through: {results:?}"
        );
        // The loser's request came in after the winner's change, and the caller's role is
        // re-read under the workspace's lock: they are no longer Admin.
        for (status, text) in results.iter().filter(|(s, _)| *s != StatusCode::SEE_OTHER) {
            assert_eq!(*status, StatusCode::FORBIDDEN, "round {round}: {text}");
            assert!(
                text.contains("Only a workspace Admin can")
                    || text.contains("Your role in this workspace does not allow this"),
                "round {round}: {text}"
            );
        }
        assert_eq!(f.app.workspace_admins(ws).await, 2, "round {round}");
        // Ada makes the demoted one Admin again.
        let demoted = if done[0] { dan } else { cleo };
        let r = f.ada.configure_member(ws, demoted, "admin", &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "round {round}: restoring three Admins");
    }
}

// ---------------------------------------------------------------------------------------
// Invite links
// ---------------------------------------------------------------------------------------

/// The token of an invite link (not its emailed proof).
fn token_of(link: &str) -> &str {
    link.split('?').next().unwrap().rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn invite_links_carry_256_random_bits_that_the_database_does_not_hold() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let token = token_of(&link);
    assert_eq!(token.len(), 43, "256 bits in base64url: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
    let other = f.invite("dora@client.test", "member", &[f.llc]).await;
    assert_ne!(token_of(&other), token);

    // Nothing stored equals the token, or contains it.
    let record = f.app.invite_record("cleo@client.test").await;
    for (column, value) in [
        ("email", &record.email),
        ("role", &record.role),
        ("state", &record.state),
        ("token_hash", &record.token_hash),
        ("token_nonce", &record.token_nonce),
    ] {
        assert!(!value.contains(token), "invites.{column} holds the token");
    }
    let stored = f
        .app
        .db
        .read(|c| {
            use diesel::prelude::*;
            use portico::db::schema::{audit_events as a, outbox as o};
            let mut all: Vec<String> = a::table
                .select((a::target_email, a::detail))
                .load::<(String, String)>(c)?
                .into_iter()
                .map(|(t, d)| format!("{t} {d}"))
                .collect();
            all.extend(
                o::table
                    .select((o::kind, o::to_email, o::last_error))
                    .load::<(String, String, Option<String>)>(c)?
                    .into_iter()
                    .map(|(k, t, e)| format!("{k} {t} {}", e.unwrap_or_default())),
            );
            Ok(all)
        })
        .await
        .unwrap();
    assert!(stored.iter().all(|s| !s.contains(token)), "the audit trail and the outbox do not hold the token");

    // What the database does hold does not open the invite.
    for guess in [&record.token_hash, &record.token_nonce] {
        let (status, text) = f.app.visitor().status_and_text(&format!("/invites/{guess}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a value from the database used as a link");
        assert!(text.contains("This invite link is not valid"));
    }
    // Seven days.
    assert_eq!(record.expires_at - record.created_at, chrono::Duration::days(7));
    assert_eq!(f.app.visitor().get(&link).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_used_expired_and_cancelled_links_each_have_their_own_page() {
    let f = firm_with_a_client().await;
    let visitor = f.app.visitor();

    // Used.
    let used = f.invite("used@client.test", "member", &[f.llc]).await;
    let user = f.app.accept_as_new_user(&used, "Una Used").await;
    // Expired.
    let expired = f.invite("late@client.test", "member", &[f.llc]).await;
    let rec = f.app.invite_record("late@client.test").await;
    f.app.set_invite_times(rec.id, Some(portico::db::models::now() - chrono::Duration::seconds(1)), None).await;
    // Cancelled.
    let cancelled = f.invite("gone@client.test", "member", &[f.llc]).await;
    let rec = f.app.invite_record("gone@client.test").await;
    assert_eq!(f.ada.cancel_invite(f.ws, rec.id).await.status(), StatusCode::SEE_OTHER);

    let unknown = format!("{}/invites/{}", f.app.base, "A".repeat(43));
    let malformed = format!("{}/invites/not-a-token", f.app.base);
    for (link, status, heading) in [
        (&unknown, StatusCode::NOT_FOUND, "This invite link is not valid"),
        (&malformed, StatusCode::NOT_FOUND, "This invite link is not valid"),
        (&used, StatusCode::GONE, "This invite has already been used"),
        (&expired, StatusCode::GONE, "This invite has expired"),
        (&cancelled, StatusCode::GONE, "This invite was cancelled"),
    ] {
        let (got, text) = visitor.status_and_text(link).await;
        assert_eq!(got, status, "{heading}");
        assert!(text.contains(heading), "{heading:?} missing: {text}");
        for secret in ["Acme Bakery", "Ames & Co", "Acme LLC"] {
            assert!(!text.contains(secret), "the {heading:?} page names {secret:?}");
        }
        // Creating an account there does not work either, and makes no account.
        let r = visitor.invite_post(link, "register", &[("name", "Someone"), ("password", PASSWORD)]).await;
        assert_eq!(r.status(), status, "register on {heading:?}");
        assert!(text_of(&r.text().await.unwrap()).contains(heading));
    }
    assert_eq!(
        visitor.log_in("late@client.test", PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no account for the expired invite"
    );
    // The person who used the link is simply taken to the workspace.
    let r = user.get(&used).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    // Signed in, accepting an expired invite gets the same page and no membership.
    let late = f.app.sign_up("Lee Late", "late@client.test", "Late Ltd").await.0;
    let r = late.accept_invite(&expired).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite has expired"));
    assert_eq!(f.app.membership_rows(f.ws, f.app.user_id("late@client.test").await).await, 0);
    let r = late.accept_invite(&unknown).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_can_only_be_accepted_by_the_invited_address() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let (eve, _) = f.app.sign_up("Eve Else", "eve@else.test", "Else Inc").await;
    let eve_id = f.app.user_id("eve@else.test").await;

    let r = eve.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite is for another email address"));
    // Creating an account while signed in accepts as the signed-in account: refused too.
    let r = eve.invite_post(&link, "register", &[("name", "Eve"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.app.membership_rows(f.ws, eve_id).await, 0, "no membership for Eve");
    assert_eq!(eve.get(&format!("/w/{}/entities", f.ws)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(f.app.invite_record("cleo@client.test").await.state, "pending");

    // The invited person still can.
    f.app.accept_as_new_user(&link, "Cleo Client").await;
    assert_eq!(f.app.invite_record("cleo@client.test").await.state, "accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_works_once() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let cleo = f.app.accept_as_new_user(&link, "Cleo Client").await;
    let cleo_id = f.app.user_id("cleo@client.test").await;

    // Anyone else with the link: used.
    let (eve, _) = f.app.sign_up("Eve Else", "eve@else.test", "Else Inc").await;
    let r = eve.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite has already been used"));
    assert_eq!(f.app.membership_rows(f.ws, f.app.user_id("eve@else.test").await).await, 0);
    let stranger = f.app.visitor();
    let r = stranger.invite_post(&link, "register", &[("name", "Stranger"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::GONE);

    // Cleo accepting again lands in the workspace, with still one membership.
    let r = cleo.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    assert_eq!(f.app.membership_rows(f.ws, cleo_id).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_an_account_for_an_address_that_has_one_asks_to_log_in() {
    let f = firm_with_a_client().await;
    let (dan, _) = f.app.sign_up("Dan Dole", "dan@dole.test", "Dole Books").await;
    dan.log_out().await;
    let link = f.invite("dan@dole.test", "member", &[f.llc]).await;
    let visitor = f.app.visitor();
    visitor.page(&link).await;
    let r = visitor.invite_post(&link, "register", &[("name", "Not Dan"), ("password", "another password!")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("An account with this email already exists. Log in to accept the invite."), "{text}");
    assert_eq!(f.app.invite_record("dan@dole.test").await.state, "pending");
    assert_eq!(
        dan.log_in("dan@dole.test", PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "Dan's password is unchanged"
    );
    assert_eq!(dan.accept_invite(&link).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_accepts_make_exactly_one_membership() {
    let f = firm_with_a_client().await;
    let (cleo, _) = f.app.sign_up("Cleo Client", "cleo@client.test", "Cleo's Own Firm").await;
    let cleo_id = f.app.user_id("cleo@client.test").await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    cleo.page(&link).await;

    let responses = join_all((0..20).map(|_| cleo.accept_invite(&link))).await;
    let mut said = Vec::new();
    for r in responses {
        let (status, what) = outcome(r).await;
        said.push(format!("{status} {what}"));
    }
    // Whichever request won, each of hers lands in the workspace: none is an error page.
    let landing = format!("303 See Other /w/{}/entities", f.ws);
    assert!(said.iter().all(|s| *s == landing), "every accept by the invited person lands in the workspace: {said:?}");
    assert_eq!(f.app.membership_rows(f.ws, cleo_id).await, 1, "exactly one membership");
    let (_, activity) = f.ada.page(&format!("/w/{}/settings/activity", f.ws)).await;
    assert_eq!(text_of(&activity).matches("accepted the invite as").count(), 1, "one acceptance in the trail");
    assert_eq!(cleo.get(&format!("/w/{}/entities/{}", f.ws, f.llc)).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sign_ups_on_one_invite_make_one_account() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let visitors: Vec<TestUser> = (0..5).map(|_| f.app.visitor()).collect();
    for v in &visitors {
        v.page(&link).await;
    }
    let fields = [("name", "Cleo Client"), ("password", PASSWORD)];
    let responses = join_all(visitors.iter().map(|v| v.invite_post(&link, "register", &fields))).await;
    let mut made = 0;
    for r in responses {
        let (status, said) = outcome(r).await;
        match status {
            StatusCode::SEE_OTHER => made += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert!(said.contains("An account with this email already exists"), "{said}")
            }
            StatusCode::GONE => assert!(said.contains("This invite has already been used"), "{said}"),
            other => panic!("a concurrent sign-up answered {other}: {said}"),
        }
    }
    assert_eq!(made, 1, "one account made the membership");
    assert_eq!(f.app.membership_rows(f.ws, f.app.user_id("cleo@client.test").await).await, 1);
}

// ---------------------------------------------------------------------------------------
// The outbox
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_email_that_cannot_be_sent_waits_in_the_outbox_and_is_retried_with_backoff() {
    let f = firm_with_a_client().await;
    f.app.smtp.set_refusing(true);
    let r = f.ada.invite(f.ws, "cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the invite is made");
    let invite = f.app.invite_record("cleo@client.test").await;
    assert_eq!(invite.state, "pending");
    let first = row(&f.ada.members_page(f.ws).await, "cleo@client.test");
    assert!(first.contains("Email not sent yet") || first.contains("Email failed, retrying"), "{first}");

    // The first attempt fails; the next waits five seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let next_attempt = loop {
        let rows = f.app.outbox_of(invite.id).await;
        assert_eq!(rows.len(), 1, "one email in the outbox");
        let (state, attempts, next) = rows[0].clone();
        // Enqueued "now"; after a failure, due again later.
        if attempts >= 1 && next > invite.created_at + chrono::Duration::seconds(1) {
            assert_eq!((state.as_str(), attempts), ("pending", 1), "waiting to be retried");
            let wait = next - portico::db::models::now();
            assert!(wait <= chrono::Duration::seconds(5), "the first retry comes after 5 s: {wait}");
            break next;
        }
        assert!(tokio::time::Instant::now() < deadline, "the first attempt never failed: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(row(&f.ada.members_page(f.ws).await, "cleo@client.test").contains("Email failed, retrying"));
    assert!(f.app.smtp.messages().is_empty());

    // The server comes back; the email goes out at the next attempt, not before.
    f.app.smtp.set_refusing(false);
    let mail = f.app.smtp.wait_for("cleo@client.test", 1).await;
    assert!(portico::db::models::now() >= next_attempt, "not retried before the backoff");
    assert!(mail[0].text.contains(&format!("{}/invites/", f.app.base)));
    let sent = f.until_row_says("cleo@client.test", "Email sent").await;
    assert!(sent.contains("Invite pending"));
    let rows = f.app.outbox_of(invite.id).await;
    assert_eq!(
        (rows.len(), rows[0].0.as_str(), rows[0].1),
        (1, "sent", 2),
        "sent once, on the second attempt: {rows:?}"
    );
    assert_eq!(f.app.smtp.messages().len(), 1, "exactly one email");
    assert!(row_of(&f.ada.members_page(f.ws).await, "cleo@client.test").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_one_database_send_each_email_once() {
    let f = firm_with_a_client().await;
    f.app.smtp.set_refusing(true);
    let people: Vec<String> = (1..=6).map(|i| format!("person{i}@client.test")).collect();
    for email in &people {
        assert_eq!(f.ada.invite(f.ws, email, "member", &[f.llc]).await.status(), StatusCode::SEE_OTHER);
    }
    let second = f.app.another_instance().await;

    // Every email fails once and waits in the outbox…
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for email in &people {
        let invite = f.app.invite_record(email).await;
        loop {
            let rows = f.app.outbox_of(invite.id).await;
            if rows
                .iter()
                .all(|(_, attempts, next)| *attempts >= 1 && *next > invite.created_at + chrono::Duration::seconds(1))
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{email}: never attempted: {rows:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // …and, with both instances' workers polling, goes out exactly once. Each claim of an
    // outbox row adds one to its attempts and makes one attempt at the sink, refused or
    // delivered. Once every row is sent and the attempts add up to what reached the sink, no
    // send is under way and none can follow: the mails counted then are all there will be.
    f.app.smtp.set_refusing(false);
    let mut invites = Vec::new();
    for email in &people {
        f.app.smtp.wait_for(email, 1).await;
        invites.push(f.app.invite_record(email).await.id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let rows = loop {
        let mut rows = Vec::new();
        for invite in &invites {
            rows.push(f.app.outbox_of(*invite).await);
        }
        let claims: i32 = rows.iter().flatten().map(|(_, attempts, _)| attempts).sum();
        let reached = f.app.smtp.refused() + f.app.smtp.messages().len();
        let all_sent = rows.iter().flatten().all(|(state, _, _)| state == "sent");
        if all_sent && usize::try_from(claims) == Ok(reached) {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{claims} claims, {reached} attempts at the SMTP sink: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (email, rows) in people.iter().zip(&rows) {
        assert_eq!(rows.len(), 1, "one email queued for {email}: {rows:?}");
        assert!(rows[0].1 >= 2, "{email}: refused, then sent: {rows:?}");
        let to_them = f.app.mails_to(email).len();
        assert_eq!(to_them, 1, "{email} got {to_them} emails");
    }
    assert_eq!(f.app.smtp.messages().len(), people.len());

    // Either instance serves the same session and the same invites.
    let (status, body) = f.ada.page(&format!("{}/w/{}/settings/members", second.base, f.ws)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(row(&body, "person1@client.test").contains("Email sent"));
    let link = f.app.invite_link("person1@client.test", 1).await;
    let token = token_of(&link);
    let (status, text) = f.app.visitor().status_and_text(&format!("{}/invites/{token}", second.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Accept invite"));
}
