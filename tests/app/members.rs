//! Settings → Members end to end, as the help page "Invite your Clients" tells it: the list,
//! the invite form, the email, accepting, and the ⋯ actions with their Activity trail.

use reqwest::StatusCode;

use crate::support::{
    actions_menu, firm_with_a_client, invite_id_on, location, member_id_on, row, row_of, text_of, PASSWORD,
};

#[tokio::test(flavor = "multi_thread")]
async fn invite_a_client_step_by_step_as_the_help_page_says() {
    let f = firm_with_a_client().await;
    let (app, ada, ws) = (&f.app, &f.ada, f.ws);

    // 1. Open the client's workspace. 2. The profile icon, or Settings → Members.
    let (status, body, path) = ada.visit(&format!("/w/{ws}")).await;
    assert_eq!((status, path.as_str()), (StatusCode::OK, format!("/w/{ws}/entities").as_str()));
    assert!(text_of(&body).contains("Settings"));
    assert!(
        body.contains(&format!("href=\"/w/{ws}/settings/members\"")),
        "Settings and the profile icon lead to Members"
    );
    let r = ada.get(&format!("/w/{ws}/settings")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), f.members(), "Settings opens on Members");
    let body = ada.members_page(ws).await;
    let text = text_of(&body);
    assert!(text.contains("Members") && text.contains("Add team"), "{text}");
    let me = row(&body, "ada@firm.test");
    for words in ["Ada Ames", "Admin", "All entities", "Active"] {
        assert!(me.contains(words), "{words:?} missing from Ada's row: {me}");
    }

    // 3. Add team: a labelled Email field, three roles with one line each, one checkbox per
    // entity, and "Send invite".
    assert!(body.contains(&format!("href=\"/w/{ws}/settings/members/invite\"")), "Add team links to the form");
    let (status, form) = ada.page(&format!("/w/{ws}/settings/members/invite")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("<label for=\"email\">Email</label>") && form.contains("id=\"email\" name=\"email\""),
        "a labelled Email field"
    );
    let roles: Vec<&str> = form.split("class=\"radio-title\">").skip(1).map(|s| &s[..s.find('<').unwrap()]).collect();
    assert_eq!(roles, ["Admin", "Accountant", "Member"]);
    assert_eq!(form.matches("class=\"radio-desc\">").count(), 3, "one line about each role");
    assert_eq!(form.matches("type=\"checkbox\" name=\"entity\"").count(), 2, "one checkbox per entity");
    for (id, name) in [(f.llc, "Acme LLC"), (f.holdings, "Acme Holdings")] {
        let cb = format!("name=\"entity\" value=\"{id}\"> <span>{name}</span>");
        assert!(form.contains(&cb), "no checkbox {cb}");
    }
    assert!(text_of(&form).contains("Send invite"));

    // 4–7. Email, role, entities, Send invite.
    let r = ada.invite(ws, "cleo@client.test", "accountant", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), f.members());

    // The invite appears at once as "Invite pending", with who invited them and when.
    let (_, body, _) = ada.visit(&f.members()).await;
    assert!(text_of(&body).contains("Invite to cleo@client.test queued"));
    let pending = row(&body, "cleo@client.test");
    for words in
        ["cleo@client.test", "Accountant", "Acme LLC", "Invite pending", "by Ada Ames", "just now", "expires in 7 days"]
    {
        assert!(pending.contains(words), "{words:?} missing from the invite's row: {pending}");
    }
    assert!(!pending.contains("Acme Holdings"));
    assert!(pending.contains("Email not sent yet") || pending.contains("Email sent"), "{pending}");
    let menu = actions_menu(&body, "cleo@client.test").expect("a ⋯ menu for the invite");
    for item in ["Resend invite", "Copy invite link", "Cancel invite"] {
        assert!(menu.contains(item), "{item} missing from the invite's ⋯ menu");
    }

    // The client receives an email with a link to their workspace.
    let mails = app.smtp.wait_for("cleo@client.test", 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    let link = app.invite_link("cleo@client.test", 1).await;
    assert!(link.starts_with(&format!("{}/invites/", app.base)), "{link}");
    let record = app.invite_record("cleo@client.test").await;
    let expires = record.expires_at.format("%B %-d, %Y at %H:%M UTC").to_string();
    assert!(mail.subject.contains("Ada Ames") && mail.subject.contains("Acme Bakery"), "subject: {}", mail.subject);
    let html = text_of(&mail.html);
    for (part, body) in [("text", mail.text.as_str()), ("HTML", html.as_str())] {
        for words in ["Ames & Co", "Acme Bakery", "Ada Ames", "Accountant", "Acme LLC", expires.as_str(), link.as_str()]
        {
            assert!(body.contains(words), "{words:?} missing from the {part} part of the email: {body}");
        }
        assert!(!body.contains("Acme Holdings"), "the email names only the granted entities");
    }
    assert!(mail.html.contains(&format!("href=\"{link}\"")), "the HTML button opens the link");
    f.until_row_says("cleo@client.test", "Email sent").await;

    // The link opens a page saying who invited whom to what; opening it changes nothing.
    let cleo = app.visitor();
    let (status, landing) = cleo.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let landing = text_of(&landing);
    for words in [
        "Ada Ames of Ames & Co invited cleo@client.test to the Acme Bakery workspace",
        "Accountant",
        "Acme LLC",
        "Accept invite",
    ] {
        assert!(landing.contains(words), "{words:?} missing from the invite page: {landing}");
    }
    let still = row(&ada.members_page(ws).await, "cleo@client.test");
    assert!(still.contains("Invite pending"), "opening the link accepted nothing: {still}");
    assert_eq!(app.invite_record("cleo@client.test").await.state, "pending");

    // Accepting as a new person lands in the workspace with exactly the granted entities.
    let r = cleo.invite_post(&link, "register", &[("name", "Cleo Client"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    assert_eq!(location(&r), format!("/w/{ws}/entities"));
    let (status, body, _) = cleo.visit(&format!("/w/{ws}/entities")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Acme LLC"), "{}", text_of(&body));
    assert!(!body.contains("Acme Holdings"), "an entity that was not granted is not listed");
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{}", f.llc)).await.status(), StatusCode::OK);
    assert_eq!(
        cleo.get(&format!("/w/{ws}/entities/{}", f.holdings)).await.status(),
        StatusCode::NOT_FOUND,
        "nor reachable by URL"
    );
    let other = ada.add_client(f.org, "Blue Cafe").await;
    let blue = ada.add_entity(other, "Blue LLC").await;
    for path in [
        format!("/w/{other}"),
        format!("/w/{other}/entities"),
        format!("/w/{other}/entities/{blue}"),
        format!("/w/{other}/settings/members"),
    ] {
        assert_eq!(cleo.get(&path).await.status(), StatusCode::NOT_FOUND, "another client's workspace: {path}");
    }

    // On the Members page she is now an active member, invited by Ada.
    let body = ada.members_page(ws).await;
    let member = row(&body, "cleo@client.test");
    for words in ["Cleo Client", "Accountant", "Acme LLC", "Active", "by Ada Ames", "joined just now"] {
        assert!(member.contains(words), "{words:?} missing from Cleo's row: {member}");
    }
    assert!(!member.contains("Invite pending"));
    assert_eq!(body.matches("cleo@client.test</span>").count(), 1, "one row for Cleo, the invite is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_people_of_one_company_can_be_invited() {
    let f = firm_with_a_client().await;
    let people = [
        ("owner@client.test", "admin", vec![]),
        ("office@client.test", "member", vec![f.llc]),
        ("books@client.test", "accountant", vec![f.llc, f.holdings]),
        ("helper@client.test", "member", vec![f.holdings]),
        ("partner@client.test", "member", vec![f.llc]),
    ];
    for (email, role, entities) in &people {
        let r = f.ada.invite(f.ws, email, role, entities).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "no seat limit: inviting {email}");
    }
    let body = f.ada.members_page(f.ws).await;
    for (email, words) in [
        ("owner@client.test", ["Admin", "All entities"]),
        ("office@client.test", ["Member", "Acme LLC"]),
        ("books@client.test", ["Accountant", "Acme Holdings, Acme LLC"]),
        ("helper@client.test", ["Member", "Acme Holdings"]),
        ("partner@client.test", ["Member", "Acme LLC"]),
    ] {
        let r = row(&body, email);
        assert!(r.contains("Invite pending") && words.iter().all(|w| r.contains(w)), "{email}: {r}");
    }
    // Two of them accept; both are members side by side.
    let link = f.app.invite_link("owner@client.test", 1).await;
    f.app.accept_as_new_user(&link, "Olive Owner").await;
    let link = f.app.invite_link("office@client.test", 1).await;
    f.app.accept_as_new_user(&link, "Otto Office").await;
    let body = f.ada.members_page(f.ws).await;
    assert!(row(&body, "owner@client.test").contains("Active"));
    assert!(row(&body, "office@client.test").contains("Active"));
    assert!(row(&body, "books@client.test").contains("Invite pending"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_already_on_portico_logs_in_and_accepts() {
    let f = firm_with_a_client().await;
    let app = &f.app;
    // Dan already has an account (and a firm of his own).
    let (dan, dan_org) = app.sign_up("Dan Dole", "dan@dole.test", "Dole Books").await;
    dan.log_out().await;
    let link = f.invite("Dan@Dole.test", "member", &[f.holdings]).await;

    // Signed out, the page offers to log in and come back.
    let (status, body) = dan.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let (path, proof) = crate::support::split_invite_link(&link);
    let token = path.rsplit('/').next().unwrap();
    let proof = proof.unwrap();
    assert!(
        body.contains(&format!("/login?next=%2Finvites%2F{token}%3Fproof%3D{proof}")),
        "a Log in link back to the invite, its proof kept"
    );
    let next = format!("/invites/{token}?proof={proof}");
    let r = dan.post("/login", &[("email", "dan@dole.test"), ("password", PASSWORD), ("next", &next)]).await;
    assert_eq!(location(&r), next);

    // Signed in as the invited address: "Accept invite", and still nothing has changed.
    let (status, body) = dan.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("action=\"/invites/{token}/accept\"")) && text_of(&body).contains("Accept invite"));
    assert!(row(&f.ada.members_page(f.ws).await, "dan@dole.test").contains("Invite pending"));
    assert_eq!(
        dan.get(&format!("/w/{}/entities", f.ws)).await.status(),
        StatusCode::NOT_FOUND,
        "not a member before accepting"
    );

    let r = dan.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/w/{}/entities", f.ws));
    let (_, body, _) = dan.visit(&location(&r)).await;
    assert!(body.contains("Acme Holdings") && !body.contains("Acme LLC"), "{}", text_of(&body));
    // His own firm is still his.
    assert_eq!(dan.get(&format!("/orgs/{dan_org}/clients")).await.status(), StatusCode::OK);
    let member = row(&f.ada.members_page(f.ws).await, "dan@dole.test");
    assert!(member.contains("Dan Dole") && member.contains("Member") && member.contains("Active"), "{member}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_as_someone_else_the_invite_page_names_both_addresses() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let (eve, _) = f.app.sign_up("Eve Else", "eve@else.test", "Else Inc").await;
    let (status, body) = eve.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&body);
    assert!(
        text.contains("You are logged in as eve@else.test") && text.contains("but this invite is for cleo@client.test"),
        "{text}"
    );
    assert!(!body.contains("/accept\""), "no Accept button for another account");
    assert!(text.contains("Log out"));
    assert!(row(&f.ada.members_page(f.ws).await, "cleo@client.test").contains("Invite pending"));
}

#[tokio::test(flavor = "multi_thread")]
async fn configure_permissions_takes_effect_on_the_next_request() {
    let f = firm_with_a_client().await;
    let (ws, llc, holdings) = (f.ws, f.llc, f.holdings);
    let (cleo, _) = f.client_user("cleo@client.test", "Cleo Client", "member", &[llc]).await;
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{llc}")).await.status(), StatusCode::OK);
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{holdings}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(cleo.get(&f.members()).await.status(), StatusCode::FORBIDDEN, "a Member does not see the Members page");

    // ⋯ next to the client's name → Configure permissions.
    let body = f.ada.members_page(ws).await;
    let menu = actions_menu(&body, "Cleo Client").expect("a ⋯ menu labelled with Cleo's name");
    assert!(menu.contains("Configure permissions") && menu.contains("Remove from workspace"));
    let cleo_id = member_id_on(&body, "Cleo Client");
    let (status, form) = f.ada.page(&format!("/w/{ws}/settings/members/{cleo_id}/permissions")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&form).contains("Cleo Client"));
    assert!(form.contains("value=\"member\" checked"), "the current role is chosen");
    assert!(
        form.contains(&format!("value=\"{llc}\" checked")) && !form.contains(&format!("value=\"{holdings}\" checked"))
    );

    let r = f.ada.configure_member(ws, cleo_id, "accountant", &[holdings]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(text_of(&body).contains("Permissions of Cleo Client in Acme Bakery updated"));
    let r = row(&body, "cleo@client.test");
    assert!(r.contains("Accountant") && r.contains("Acme Holdings") && !r.contains("Acme LLC"), "{r}");

    // Her very next requests see the change, with the same session.
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{llc}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{holdings}")).await.status(), StatusCode::OK);
    assert_eq!(cleo.get(&f.members()).await.status(), StatusCode::OK, "an Accountant sees the Members page");

    // Admin: every entity, now and future.
    let r = f.ada.configure_member(ws, cleo_id, "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let later = f.ada.add_entity(ws, "Acme Later").await;
    for e in [llc, holdings, later] {
        assert_eq!(cleo.get(&format!("/w/{ws}/entities/{e}")).await.status(), StatusCode::OK);
    }
    let r = row(&f.ada.members_page(ws).await, "cleo@client.test");
    assert!(r.contains("Admin") && r.contains("All entities"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_from_workspace_ends_access_and_keeps_past_work() {
    let f = firm_with_a_client().await;
    let (ws, llc, holdings) = (f.ws, f.llc, f.holdings);
    let (cleo, cleo_id) = f.client_user("cleo@client.test", "Cleo Client", "accountant", &[llc]).await;
    let r = cleo
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-11-02"), ("description", "Flour sacks"), ("amount", "-120.00")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // ⋯ → Remove from workspace: a confirmation naming the person and the workspace.
    let body = f.ada.members_page(ws).await;
    assert_eq!(member_id_on(&body, "Cleo Client"), cleo_id);
    let (status, confirm) = f.ada.page(&format!("/w/{ws}/settings/members/{cleo_id}/remove")).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&confirm);
    assert!(text.contains("Remove Cleo Client from Acme Bakery?") && text.contains("cleo@client.test"), "{text}");
    assert_eq!(f.app.membership_rows(ws, cleo_id).await, 1, "nothing changes before confirming");

    let r = f.ada.remove_member(ws, cleo_id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(text_of(&body).contains("Cleo Client's access to Acme Bakery removed"), "{}", text_of(&body));
    assert!(row_of(&body, "cleo@client.test").is_none(), "Cleo is no longer listed");

    // She belongs nowhere now: her session ended with the removal, and her very next
    // request, whatever it is, goes to "Log in".
    for path in [format!("/w/{ws}"), format!("/w/{ws}/entities"), f.members(), "/".into()] {
        let r = cleo.get(&path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&r).starts_with("/login"), "{path}: {}", location(&r));
    }
    // Signed in again, every page of the workspace is refused.
    cleo.page("/login").await;
    assert_eq!(cleo.log_in("cleo@client.test", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    for path in [format!("/w/{ws}"), format!("/w/{ws}/entities"), format!("/w/{ws}/entities/{llc}"), f.members()] {
        assert_eq!(cleo.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = cleo
        .post(
            &format!("/w/{ws}/entities/{llc}/transactions"),
            &[("date", "2026-11-03"), ("description", "After removal"), ("amount", "-1.00")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Her past work stays on the books.
    let (_, books) = f.ada.page(&format!("/w/{ws}/entities/{llc}")).await;
    let books = text_of(&books);
    assert!(books.contains("Flour sacks") && books.contains("entered by Cleo Client"), "{books}");
    assert!(!books.contains("After removal"));

    // She can be invited again, and accept again with her account.
    let link = f.invite("cleo@client.test", "member", &[holdings]).await;
    let r = cleo.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    assert_eq!(location(&r), format!("/w/{ws}/entities"));
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{holdings}")).await.status(), StatusCode::OK);
    assert_eq!(
        cleo.get(&format!("/w/{ws}/entities/{llc}")).await.status(),
        StatusCode::NOT_FOUND,
        "only what the new invite grants"
    );
    let r = row(&f.ada.members_page(ws).await, "cleo@client.test");
    assert!(r.contains("Member") && r.contains("Acme Holdings") && r.contains("Active"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resend_invite_sends_it_again_and_renews_the_expiry() {
    let f = firm_with_a_client().await;
    let first = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let body = f.ada.members_page(f.ws).await;
    let invite = invite_id_on(&body, "cleo@client.test");

    // Once a minute at most.
    let r = f.ada.resend_invite(f.ws, invite).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(
        text_of(&body)
            .contains("An invite was sent to cleo@client.test less than a minute ago. Try again in a minute."),
        "{}",
        text_of(&body)
    );
    assert_eq!(f.app.outbox_of(invite).await.len(), 1, "no second email");

    // A week later the invite has expired; the Members page says so.
    let past = portico::db::models::now() - chrono::Duration::minutes(1);
    f.app.set_invite_times(invite, Some(past), Some(past)).await;
    let expired = row(&f.ada.members_page(f.ws).await, "cleo@client.test");
    assert!(expired.contains("Expired") && !expired.contains("Invite pending"), "{expired}");
    let (status, page) = f.app.visitor().status_and_text(&first).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This invite has expired"));

    // ⋯ → Resend invite: a second email, the same link working again, a new expiry.
    let r = f.ada.resend_invite(f.ws, invite).await;
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(text_of(&body).contains("Invite to cleo@client.test for Acme Bakery queued again"), "{}", text_of(&body));
    let renewed = row(&body, "cleo@client.test");
    assert!(renewed.contains("Invite pending") && renewed.contains("expires in 7 days"), "{renewed}");
    let record = f.app.invite_record("cleo@client.test").await;
    let left = record.expires_at - portico::db::models::now();
    assert!(
        left > chrono::Duration::days(7) - chrono::Duration::minutes(1) && left <= chrono::Duration::days(7),
        "expiry renewed to 7 days: {left}"
    );
    let second = f.app.invite_link("cleo@client.test", 2).await;
    assert_eq!(f.app.smtp.wait_for("cleo@client.test", 2).await.len(), 2);
    assert_eq!(second, first, "the resent email carries the same link");
    assert_eq!(f.app.visitor().get(&second).await.status(), StatusCode::OK);
    assert_eq!(f.app.invite_records("cleo@client.test").await.len(), 1, "still one invite");

    // And again at once: refused with a message, nothing sent.
    let r = f.ada.resend_invite(f.ws, invite).await;
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(text_of(&body).contains("less than a minute ago"));
    assert_eq!(f.app.outbox_of(invite).await.len(), 2, "two emails in all");
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_invite_link_shows_the_link_of_the_email() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let body = f.ada.members_page(f.ws).await;
    let invite = invite_id_on(&body, "cleo@client.test");
    let menu = actions_menu(&body, "cleo@client.test").unwrap();
    assert!(
        menu.contains(&format!("href=\"/w/{}/settings/invites/{invite}/link\"", f.ws))
            && menu.contains("Copy invite link")
    );

    let (status, page) = f.ada.page(&format!("/w/{}/settings/invites/{invite}/link", f.ws)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("type=\"text\" readonly value=\"{}\"", crate::support::copied(&link))),
        "a read-only field with the email's link, without its proof: {page}"
    );
    assert!(text_of(&page).contains("Invite link for cleo@client.test"));
    // Copying it accepts nothing.
    assert_eq!(f.app.invite_record("cleo@client.test").await.state, "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_invite_makes_the_link_stop_working() {
    let f = firm_with_a_client().await;
    let link = f.invite("cleo@client.test", "member", &[f.llc]).await;
    let invite = invite_id_on(&f.ada.members_page(f.ws).await, "cleo@client.test");

    let (status, confirm) = f.ada.page(&format!("/w/{}/settings/invites/{invite}/cancel", f.ws)).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&confirm);
    assert!(text.contains("Cancel the invite to cleo@client.test?") && text.contains("Acme Bakery"), "{text}");
    assert_eq!(f.app.invite_record("cleo@client.test").await.state, "pending", "nothing changes before confirming");

    let r = f.ada.cancel_invite(f.ws, invite).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body, _) = f.ada.visit(&location(&r)).await;
    assert!(text_of(&body).contains("Invite to cleo@client.test for Acme Bakery cancelled: its link no longer works"));
    assert!(row_of(&body, "cleo@client.test").is_none(), "the invite is no longer listed");

    let visitor = f.app.visitor();
    let (status, page) = visitor.status_and_text(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This invite was cancelled"), "{page}");
    let r = visitor.invite_post(&link, "register", &[("name", "Cleo Client"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite was cancelled"));
    assert_eq!(
        visitor.log_in("cleo@client.test", PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no account was made"
    );

    // The person can be invited again.
    let again = f.invite("cleo@client.test", "member", &[f.llc]).await;
    assert_ne!(again, link, "a new invite, a new link");
    assert_eq!(visitor.get(&again).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_members_page_says_when_an_invite_email_has_not_gone_out() {
    let f = firm_with_a_client().await;
    f.app.smtp.set_refusing(true);
    let r = f.ada.invite(f.ws, "cleo@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the invite is made even though no email can go out");
    let first = row(&f.ada.members_page(f.ws).await, "cleo@client.test");
    assert!(first.contains("Invite pending"), "{first}");
    assert!(first.contains("Email not sent yet") || first.contains("Email failed, retrying"), "{first}");
    f.until_row_says("cleo@client.test", "Email failed, retrying").await;

    f.app.smtp.set_refusing(false);
    f.app.smtp.wait_for("cleo@client.test", 1).await;
    let sent = f.until_row_says("cleo@client.test", "Email sent").await;
    assert!(sent.contains("Invite pending"), "{sent}");
}

#[tokio::test(flavor = "multi_thread")]
async fn activity_lists_every_change_with_who_did_it_to_whom() {
    let f = firm_with_a_client().await;
    let (ws, llc) = (f.ws, f.llc);
    // Invited, resent, cancelled.
    f.invite("cleo@client.test", "member", &[llc]).await;
    let invite = invite_id_on(&f.ada.members_page(ws).await, "cleo@client.test");
    f.app.allow_resend(invite).await;
    assert_eq!(f.ada.resend_invite(ws, invite).await.status(), StatusCode::SEE_OTHER);
    f.app.smtp.wait_for("cleo@client.test", 2).await;
    assert_eq!(f.ada.cancel_invite(ws, invite).await.status(), StatusCode::SEE_OTHER);
    // Invited, accepted, changed, removed.
    let (_, dan_id) = f.client_user("dan@client.test", "Dan Dole", "member", &[llc]).await;
    assert_eq!(
        f.ada.configure_member(ws, dan_id, "accountant", &[llc, f.holdings]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(f.ada.remove_member(ws, dan_id).await.status(), StatusCode::SEE_OTHER);

    let body = f.ada.members_page(ws).await;
    assert!(body.contains(&format!("href=\"/w/{ws}/settings/activity\"")), "Members links to Activity");
    let (status, body) = f.ada.page(&format!("/w/{ws}/settings/activity")).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&body);
    for line in [
        "Ada Ames invited cleo@client.test (as Member, Acme LLC)",
        "Ada Ames resent the invite to cleo@client.test",
        "Ada Ames cancelled the invite to cleo@client.test",
        "Ada Ames invited dan@client.test (as Member, Acme LLC)",
        "Dan Dole accepted the invite as dan@client.test (Member)",
        "Ada Ames changed the permissions of dan@client.test (Accountant, Acme Holdings, Acme LLC)",
        "Ada Ames removed dan@client.test",
    ] {
        assert!(text.contains(line), "{line:?} missing from Activity: {text}");
    }
    // Newest first: the removal is listed before the invitation.
    assert!(
        text.find("Ada Ames removed dan@client.test").unwrap() < text.find("Ada Ames invited dan@client.test").unwrap()
    );
    // Removing someone keeps the trail.
    assert!(text.contains("Dan Dole accepted"), "the removed person's own events stay");
}

#[tokio::test(flavor = "multi_thread")]
async fn all_entities_current_and_future_is_a_choice_of_its_own() {
    let f = firm_with_a_client().await;
    let ws = f.ws;
    // The form offers it to Ada, who holds all entities.
    let (_, form) = f.ada.page(&format!("/w/{ws}/settings/members/invite")).await;
    assert!(form.contains("name=\"all_entities\"") && text_of(&form).contains("All entities, current and future"));
    let r = f
        .ada
        .post(
            &format!("/w/{ws}/settings/members/invite"),
            &[("email", "cleo@client.test"), ("role", "accountant"), ("all_entities", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = f.app.invite_link("cleo@client.test", 1).await;
    // The email and the invite page say what it gives: an Accountant of all entities.
    let mail = f.app.smtp.wait_for("cleo@client.test", 1).await.pop().expect("the invite email");
    assert!(mail.text.contains("Accountant") && mail.text.contains("All entities"), "{}", mail.text);
    let (_, landing) = f.app.visitor().page(&link).await;
    assert!(text_of(&landing).contains("All entities"), "{}", text_of(&landing));
    let cleo = f.app.accept_as_new_user(&link, "Cleo Client").await;
    let cleo_id = f.app.user_id("cleo@client.test").await;
    // An entity added afterwards is hers too, and she is still not an Admin.
    let trust = f.ada.add_entity(ws, "Acme Trust").await;
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{trust}")).await.status(), StatusCode::OK);
    assert_eq!(cleo.get(&format!("/w/{ws}/settings/activity")).await.status(), StatusCode::FORBIDDEN);
    assert!(row(&f.ada.members_page(ws).await, "cleo@client.test").contains("All entities"));
    // "All entities" and single entities together is a mistake the form points out (the
    // page's script unticks one when the other is ticked; without it, the server says so).
    let before = f.app.snapshot().await;
    let r = f
        .ada
        .post(
            &format!("/w/{ws}/settings/members/{cleo_id}/permissions"),
            &[("role", "member"), ("all_entities", "on"), ("entity", &f.llc.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("not both"), "{}", text_of(&body));
    assert!(body.contains(&format!("name=\"entity\" value=\"{}\" checked", f.llc)), "the ticks are kept");
    assert_eq!(f.app.snapshot().await, before);
    let r = f
        .ada
        .post(
            &format!("/w/{ws}/settings/members/invite"),
            &[("email", "dan@client.test"), ("role", "member"), ("all_entities", "on"), ("entity", &f.llc.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.text().await.unwrap()).contains("not both"));
    assert_eq!(f.app.snapshot().await, before, "no invite");
    // Her form shows the choice ticked; saving it unchanged keeps future entities hers.
    let (_, form) = f.ada.page(&format!("/w/{ws}/settings/members/{cleo_id}/permissions")).await;
    assert!(form.contains("name=\"all_entities\" value=\"on\" checked"), "the choice is ticked");
    let r = f
        .ada
        .post(&format!("/w/{ws}/settings/members/{cleo_id}/permissions"), &[("role", "member"), ("all_entities", "on")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let later = f.ada.add_entity(ws, "Acme Later").await;
    assert_eq!(cleo.get(&format!("/w/{ws}/entities/{later}")).await.status(), StatusCode::OK);
    // An Accountant holding one entity is offered no such choice, cannot give it, and cannot
    // change someone who holds all.
    let (carl, carl_id) = f.client_user("carl@client.test", "Carl", "accountant", &[f.llc]).await;
    let (_, form) = carl.page(&format!("/w/{ws}/settings/members/invite")).await;
    assert!(!form.contains("name=\"all_entities\""));
    let before = f.app.snapshot().await;
    let r = carl
        .post(
            &format!("/w/{ws}/settings/members/invite"),
            &[("email", "dan@client.test"), ("role", "member"), ("all_entities", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = carl
        .post(
            &format!("/w/{ws}/settings/members/{cleo_id}/permissions"),
            &[("role", "member"), ("entity", &f.llc.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text_of(&r.text().await.unwrap()).contains("They have access to all entities, current and future"));
    assert_eq!(f.app.snapshot().await, before);
    assert!(actions_menu(&carl.members_page(ws).await, "Cleo Client").is_none());
    let _ = carl_id;
}
