//! The firm's Team page: staff, their client access and "New clients", bulk invites, the ⋯
//! actions, firm staff inside a client's workspace, the firm-wide Pending invites view, the
//! rules of roles.md, concurrency, and who may open which Team route.

use diesel::prelude::*;
use reqwest::{Response, StatusCode};

use crate::support::{
    actions_menu, id_after, location, now, row, row_of, spawn_app, text_of, TestApp, TestUser, PASSWORD,
};

// ---------------------------------------------------------------------------------------
// Steps a person takes on the Team page
// ---------------------------------------------------------------------------------------

fn team_path(org: i64) -> String {
    format!("/orgs/{org}/team")
}

/// "Add Team" → Emails, role, clients, "New clients" → "Send invites".
async fn send_team_invites(
    admin: &TestUser,
    org: i64,
    emails: &str,
    role: &str,
    clients: &[i64],
    new_clients: bool,
) -> Response {
    let ids: Vec<String> = clients.iter().map(|c| c.to_string()).collect();
    let mut fields = vec![("emails", emails), ("role", role)];
    fields.extend(ids.iter().map(|i| ("client", i.as_str())));
    if new_clients {
        fields.push(("new_clients", "on"));
    }
    admin.post(&format!("/orgs/{org}/team/invite"), &fields).await
}

/// ⋯ → "Configure permissions" → "Save permissions".
async fn configure_team_member(
    admin: &TestUser,
    org: i64,
    user: i64,
    role: &str,
    clients: &[i64],
    new_clients: bool,
) -> Response {
    let ids: Vec<String> = clients.iter().map(|c| c.to_string()).collect();
    let mut fields = vec![("role", role)];
    fields.extend(ids.iter().map(|i| ("client", i.as_str())));
    if new_clients {
        fields.push(("new_clients", "on"));
    }
    admin.post(&format!("/orgs/{org}/team/{user}/permissions"), &fields).await
}

/// Invites `email` to the team and accepts as a new person: their client, and user id.
#[allow(clippy::too_many_arguments)]
async fn join_team(
    app: &TestApp,
    admin: &TestUser,
    org: i64,
    email: &str,
    name: &str,
    role: &str,
    clients: &[i64],
    new_clients: bool,
) -> (TestUser, i64) {
    let before = app.mails_to(email).len();
    let r = send_team_invites(admin, org, email, role, clients, new_clients).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "inviting {email} to the team failed: {}",
        text_of(&r.text().await.unwrap_or_default())
    );
    let link = app.invite_link(email, before + 1).await;
    let person = app.visitor();
    let (status, _) = person.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    let resp = person.invite_post(&link, "register", &[("name", name), ("password", PASSWORD)]).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "accepting the team invite of {email} failed: {}",
        text_of(&resp.text().await.unwrap_or_default())
    );
    assert_eq!(location(&resp), format!("/orgs/{org}/clients"), "a team invite lands on the firm's Clients page");
    (person, app.user_id(email).await)
}

/// GET, asserting the status, and the page's text.
async fn open(user: &TestUser, path: &str, expected: StatusCode) -> (String, String) {
    let (status, body) = user.page(path).await;
    assert_eq!(status, expected, "GET {path}: {}", text_of(&body));
    let text = text_of(&body);
    (body, text)
}

async fn status_of(user: &TestUser, path: &str) -> StatusCode {
    user.get(path).await.status()
}

/// Follows a 303 and returns the text of the page it leads to (with its flash message).
async fn after_redirect(user: &TestUser, r: Response) -> String {
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect: {}",
        text_of(&r.text().await.unwrap_or_default())
    );
    let to = location(&r);
    let (status, body, _) = user.visit(&to).await;
    assert_eq!(status, StatusCode::OK, "{to}: {}", text_of(&body));
    text_of(&body)
}

/// The id of the pending team invite to `email`, from its ⋯ menu on the Team page.
fn team_invite_id_on(html: &str, email: &str) -> i64 {
    let m = actions_menu(html, email).unwrap_or_else(|| panic!("no ⋯ menu for {email}: {}", text_of(html)));
    id_after(m, "/team/invites/")
}

/// The lines of the per-address report after "Send invites".
fn outcomes(html: &str) -> Vec<String> {
    let main = html.find("<main").map_or(html, |i| &html[i..]);
    main.split("<li>").skip(1).map(|li| text_of(&li[..li.find("</li>").unwrap_or(li.len())])).collect()
}

/// The text inside the "Emails" field.
fn emails_field(html: &str) -> String {
    let start = html.find("name=\"emails\"").expect("an Emails field");
    let rest = &html[start..];
    let open_end = rest.find('>').expect("the field's tag ends") + 1;
    let close = rest.find("</textarea>").expect("a textarea");
    rest[open_end..close].to_string()
}

// ---------------------------------------------------------------------------------------
// What the database holds (read only to check what no page shows)
// ---------------------------------------------------------------------------------------

async fn org_memberships_of(app: &TestApp, org: i64, user: i64) -> i64 {
    use portico::db::schema::org_memberships as m;
    app.db
        .read(move |c| {
            m::table.filter(m::organization_id.eq(org)).filter(m::user_id.eq(user)).count().get_result::<i64>(c)
        })
        .await
        .expect("count memberships")
}

async fn org_admins(app: &TestApp, org: i64) -> i64 {
    use portico::db::schema::org_memberships as m;
    app.db
        .read(move |c| {
            m::table.filter(m::organization_id.eq(org)).filter(m::role.eq("admin")).count().get_result::<i64>(c)
        })
        .await
        .expect("count admins")
}

/// (action, actor) of the audit events of `org` about `email`, oldest first.
async fn audit_of(app: &TestApp, org: i64, email: &str) -> Vec<(String, Option<i64>)> {
    use portico::db::schema::audit_events as a;
    let email = email.to_string();
    app.db
        .read(move |c| {
            a::table
                .filter(a::organization_id.eq(org))
                .filter(a::target_email.eq(email))
                .order(a::id.asc())
                .select((a::action, a::actor_id))
                .load::<(String, Option<i64>)>(c)
        })
        .await
        .expect("read audit events")
}

async fn transactions_by(app: &TestApp, user: i64) -> i64 {
    use portico::db::schema::transactions as t;
    app.db
        .read(move |c| t::table.filter(t::created_by.eq(user)).count().get_result::<i64>(c))
        .await
        .expect("count transactions")
}

/// A team member who never signs in (a target for the ⋯ actions), put on the team directly.
async fn staff_row(app: &TestApp, org: i64, email: &str, name: &str, role: &str) -> i64 {
    use portico::db::schema::{org_memberships as m, users};
    let (email, name, role) = (email.to_string(), name.to_string(), role.to_string());
    app.db
        .write(move |c| {
            let uid = diesel::insert_into(users::table)
                .values((
                    users::email.eq(email),
                    users::name.eq(name),
                    users::password_hash.eq("not a hash"),
                    users::created_at.eq(now()),
                ))
                .returning(users::id)
                .get_result::<i64>(c)?;
            diesel::insert_into(m::table)
                .values((
                    m::organization_id.eq(org),
                    m::user_id.eq(uid),
                    m::role.eq(role),
                    m::new_clients.eq(false),
                    m::created_at.eq(now()),
                ))
                .execute(c)?;
            Ok(uid)
        })
        .await
        .expect("add a team member")
}

// ---------------------------------------------------------------------------------------
// 1. The Team page
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_team_page_lists_members_and_invites_with_role_client_access_status_and_delivery() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let cedar = ada.add_client(org, "Cedar Cafe").await;
    join_team(&app, &ada, org, "gina@firm.test", "Gina Manager", "manager", &[], false).await;
    join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme, beta], true).await;
    join_team(&app, &ada, org, "max@firm.test", "Max Member", "member", &[acme, beta, cedar], false).await;
    // A Member left with no client (no invite or Configure gives that any more: put on the team directly).
    staff_row(&app, org, "nell@firm.test", "Nell Member", "member").await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = send_team_invites(&ada, org, "old@firm.test", "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let old = app.invite_records("old@firm.test").await[0].id;
    app.set_invite_times(old, Some(now() - chrono::Duration::hours(1)), None).await;
    app.smtp.wait_for("pat@firm.test", 1).await;
    app.smtp.wait_for("old@firm.test", 1).await;

    // The sidebar's "Team" opens it.
    let (clients_page, _) = open(&ada, &format!("/orgs/{org}/clients"), StatusCode::OK).await;
    assert!(clients_page.contains(&format!("href=\"/orgs/{org}/team\"")), "the sidebar links to Team");

    let team = team_path(org);
    let body = ada
        .page_until(&team, "both pending invites show their email as sent", |b| {
            for email in ["pat@firm.test", "old@firm.test"] {
                let r = row(b, email);
                if !r.contains("Email sent") {
                    return Err(format!("{email}: {r}"));
                }
            }
            Ok(())
        })
        .await;
    let text = text_of(&body);
    assert!(body.contains("<h1>Team</h1>"), "heading Team: {text}");
    assert!(text.contains("Add Team"), "{text}");

    // Members: name, email, role, client access, status.
    let ada_row = row(&body, "ada@firm.test");
    for words in ["Ada Admin", "(you)", "Admin", "All clients", "Active"] {
        assert!(ada_row.contains(words), "{words:?} missing from Ada's row: {ada_row}");
    }
    let gina = row(&body, "gina@firm.test");
    for words in ["Gina Manager", "Manager", "All clients", "Active"] {
        assert!(gina.contains(words), "{words:?} missing from Gina's row: {gina}");
    }
    let mia = row(&body, "mia@firm.test");
    for words in ["Mia Member", "Member", "Acme Bakery, Beta Books · New clients", "Active"] {
        assert!(mia.contains(words), "{words:?} missing from Mia's row: {mia}");
    }
    assert!(!mia.contains("Cedar Cafe"), "{mia}");
    let max = row(&body, "max@firm.test");
    assert!(max.contains("Acme Bakery, Beta Books, +1 more") && !max.contains("New clients"), "{max}");
    assert!(body.contains("title=\"Acme Bakery, Beta Books, Cedar Cafe\""), "the full list is in the title");
    let nell = row(&body, "nell@firm.test");
    assert!(nell.contains("No clients"), "{nell}");
    for who in ["Gina Manager", "Mia Member", "Max Member", "Nell Member", "Ada Admin"] {
        let m = actions_menu(&body, who).unwrap_or_else(|| panic!("no ⋯ menu for {who}"));
        assert!(
            text_of(m).contains("Configure permissions") && text_of(m).contains("Remove from organization"),
            "{who}: {}",
            text_of(m)
        );
    }

    // Pending invites: role, client access, status, who invited, delivery.
    let pat = row(&body, "pat@firm.test");
    for words in ["Member", "Beta Books", "Invite pending", "by Ada Admin", "Email sent", "expires in 7 days"] {
        assert!(pat.contains(words), "{words:?} missing from the pending invite: {pat}");
    }
    assert!(!pat.contains("Active") && !pat.contains("Expired"), "{pat}");
    let expired = row(&body, "old@firm.test");
    for words in ["Admin", "All clients", "Expired", "Email sent"] {
        assert!(expired.contains(words), "{words:?} missing from the expired invite: {expired}");
    }
    assert!(!expired.contains("Invite pending"), "{expired}");
    // One order of ⋯ items (destructive last); an expired invite's link is renewed first.
    for (email, copy) in [("pat@firm.test", "Copy invite link"), ("old@firm.test", "Renew and copy link")] {
        let m = text_of(actions_menu(&body, email).unwrap_or_else(|| panic!("no ⋯ menu for {email}")));
        let order = ["Edit invite", "Resend invite", copy, "Cancel invite"];
        let at: Vec<Option<usize>> = order.iter().map(|a| m.find(a)).collect();
        assert!(
            at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
            "{order:?} in the ⋯ menu of {email}: {m}"
        );
    }
    assert!(!text_of(actions_menu(&body, "old@firm.test").unwrap()).contains("Copy invite link"));

    // An email that cannot go out yet says so.
    app.smtp.set_refusing(true);
    let r = send_team_invites(&ada, org, "late@firm.test", "member", &[acme], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    ada.page_until(&team, "the failed email is shown as retrying", |b| {
        let r = row(b, "late@firm.test");
        if r.contains("Email failed, retrying") && r.contains("Invite pending") {
            Ok(())
        } else {
            Err(r)
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 2. Add Team
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn add_team_sends_one_invite_and_one_email_per_address_naming_the_firm_and_the_inviter() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;

    let (body, text) = open(&ada, &format!("/orgs/{org}/team/invite"), StatusCode::OK).await;
    assert!(
        body.contains("<label for=\"emails\">Emails</label>") && body.contains("id=\"emails\""),
        "a labelled Emails field: {text}"
    );
    for role in ["admin", "manager", "member"] {
        assert!(body.contains(&format!("name=\"role\" value=\"{role}\"")), "role {role}: {text}");
    }
    for words in ["Admin", "Manager", "Member", "Acme Bakery", "Beta Books", "New clients", "Send invites"] {
        assert!(text.contains(words), "{words:?} missing from Add Team: {text}");
    }
    for c in [acme, beta] {
        assert_eq!(body.matches(&format!("name=\"client\" value=\"{c}\"")).count(), 1, "one checkbox for client {c}");
    }
    assert_eq!(body.matches("name=\"new_clients\"").count(), 1);

    let before = app.invite_count().await;
    let r = send_team_invites(&ada, org, "a@x.test, B@x.test", "member", &[acme], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), team_path(org));
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Invites to 2 people queued"), "{page}");
    assert_eq!(app.invite_count().await, before + 2, "one invite per address");

    for email in ["a@x.test", "b@x.test"] {
        let rows = app.invite_records(email).await;
        assert_eq!(rows.len(), 1, "one invite to {email}");
        assert_eq!(
            (rows[0].workspace_id, rows[0].role.as_str(), rows[0].state.as_str()),
            (None, "member", "pending"),
            "{email}"
        );
        // Exactly one email: the invite's one outbox row, sent once (so never again).
        app.assert_sent_once(rows[0].id, email).await;
    }
    assert!(app.invite_records("B@x.test").await.is_empty(), "addresses are stored lower-cased");
    for email in ["a@x.test", "b@x.test"] {
        let mails = app.mails_to(email);
        let mail = &mails[0];
        assert_eq!(mail.subject, "Ada Admin invited you to join Ada & Co on Portico", "{email}");
        for words in
            ["Ada Admin", "ada@firm.test", "Ada & Co", "Member", "Acme Bakery", "new clients as they are added"]
        {
            assert!(mail.text.contains(words), "{words:?} missing from the email to {email}: {}", mail.text);
        }
        assert!(!mail.text.contains("Beta Books"), "only the granted clients are named: {}", mail.text);
        assert!(mail.link(&format!("{}/invites/", app.base)).is_some(), "a link: {}", mail.text);
    }
    let a = app.mails_to("a@x.test")[0].link(&format!("{}/invites/", app.base)).unwrap();
    let b = app.mails_to("b@x.test")[0].link(&format!("{}/invites/", app.base)).unwrap();
    assert_ne!(a, b, "each address gets its own link");

    // The invite page names the firm and the inviter too.
    let (_, landing) = open(&app.visitor(), &a, StatusCode::OK).await;
    for words in ["Ada Admin", "a@x.test", "Ada & Co", "Member", "Acme Bakery", "Accept invite"] {
        assert!(landing.contains(words), "{words:?} missing from the invite page: {landing}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Parsing the Emails field
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_emails_field_reports_each_address_and_keeps_what_needs_fixing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let r = send_team_invites(&ada, org, "pat@x.test", "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.smtp.wait_for("pat@x.test", 1).await;
    let before = app.invite_count().await;

    let typed = "  c@x.test ,C@X.TEST,\n not-an-email ,, d@x.test,  ADA@firm.test, pat@x.test,";
    let r = send_team_invites(&ada, org, typed, "member", &[acme], true).await;
    assert_eq!(r.status(), StatusCode::OK, "some were invited: the report is shown");
    let body = r.text().await.unwrap();
    let report = outcomes(&body);
    let expected = [
        ("c@x.test", "invite queued"),
        ("c@x.test", "listed twice"),
        ("not-an-email", "not a valid address"),
        ("d@x.test", "invite queued"),
        ("ada@firm.test", "already a member"),
        ("pat@x.test", "already invited"),
    ];
    assert_eq!(report.len(), expected.len(), "one line per address: {report:?}");
    for (line, (address, words)) in report.iter().zip(expected) {
        assert!(line.contains(address) && line.contains(words), "expected {address}: {words}, got {line:?}");
        let badge = if words == "invite queued" { "Invited" } else { "Not invited" };
        assert!(line.starts_with(badge), "{line:?} should start with {badge:?}");
    }
    assert_eq!(emails_field(&body).trim(), "not-an-email", "only the invalid input stays in the field");
    assert!(
        report[5].contains("Update invite") && report[5].contains("Resend invite"),
        "the right actions are offered: {}",
        report[5]
    );
    assert_keeps_choices(&body, "member", &[acme], &[beta], true);

    // The valid new ones are invited, nothing else is written.
    assert_eq!(app.invite_count().await, before + 2);
    let mut invited = Vec::new();
    for email in ["c@x.test", "d@x.test", "pat@x.test"] {
        let rows = app.invite_records(email).await;
        assert_eq!(rows.len(), 1, "one invite to {email}");
        invited.push(rows[0].id);
    }
    assert!(app.invite_records("ada@firm.test").await.is_empty());
    // Listed twice, mailed once; already invited: no second email (still the one outbox
    // row of the first invite); already a member: no email queued at all.
    app.assert_sent_once(invited[0], "c@x.test").await;
    app.assert_sent_once(invited[1], "d@x.test").await;
    app.assert_sent_once(invited[2], "pat@x.test").await;
    assert_eq!(app.outbox_rows_to("ada@firm.test").await, 0);
    assert!(app.mails_to("ada@firm.test").is_empty());

    // Only problems, nothing invited: 422 and the same report.
    let r = send_team_invites(&ada, org, "nope@, d@x.test", "member", &[acme], false).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    let report = outcomes(&body);
    assert!(report[0].contains("nope@") && report[0].contains("not a valid address"), "{report:?}");
    assert!(report[1].contains("d@x.test") && report[1].contains("already invited"), "{report:?}");
    assert_eq!(emails_field(&body).trim(), "nope@");

    // More than 50 addresses: a clear message, the input kept, no invite at all.
    let before = app.invite_count().await;
    let many = (0..51).map(|i| format!("u{i}@x.test")).collect::<Vec<_>>().join(", ");
    let r = send_team_invites(&ada, org, &many, "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("You entered 51 addresses; send at most 50 at once."), "{}", text_of(&body));
    assert_eq!(emails_field(&body), many, "the input is kept");
    assert_keeps_choices(&body, "member", &[beta], &[acme], false);
    assert_eq!(app.invite_count().await, before, "no invite at all");
    // Exactly 50 is fine.
    let fifty = (0..50).map(|i| format!("v{i}@x.test")).collect::<Vec<_>>().join(",");
    let r = send_team_invites(&ada, org, &fifty, "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.invite_count().await, before + 50);

    // Empty: a message.
    let before = app.invite_count().await;
    for empty in ["", "  ", " , ;\n"] {
        let r = send_team_invites(&ada, org, empty, "member", &[acme], false).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{empty:?}");
        let text = text_of(&r.text().await.unwrap());
        assert!(text.contains("Enter at least one email address."), "{empty:?}: {text}");
    }
    // No role chosen: a message, the addresses kept.
    let r = ada.post(&format!("/orgs/{org}/team/invite"), &[("emails", "e@x.test")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(text_of(&body).contains("Choose a role."));
    assert_eq!(emails_field(&body), "e@x.test");
    assert_eq!(app.invite_count().await, before);
}

/// The role, clients and "New clients" chosen are still chosen on the re-shown form.
fn assert_keeps_choices(body: &str, role: &str, checked: &[i64], unchecked: &[i64], new_clients: bool) {
    assert!(body.contains(&format!("name=\"role\" value=\"{role}\" checked")), "role {role} kept");
    for c in checked {
        assert!(body.contains(&format!("name=\"client\" value=\"{c}\" checked")), "client {c} kept");
    }
    for c in unchecked {
        assert!(body.contains(&format!("name=\"client\" value=\"{c}\">")), "client {c} not chosen");
    }
    let on = body.contains("name=\"new_clients\" value=\"on\" checked");
    assert_eq!(on, new_clients, "New clients kept");
}

// ---------------------------------------------------------------------------------------
// 4. Accepting a team invite
// ---------------------------------------------------------------------------------------

/// The client names on a Clients page, in order.
fn client_names(html: &str) -> Vec<String> {
    // The page's own list, not the header's workspace switcher.
    let main = html.find("<main").map_or(html, |i| &html[i..]);
    main.split("<a href=\"/w/")
        .skip(1)
        .filter_map(|a| {
            let strong = a.find("<strong>")? + "<strong>".len();
            let end = a[strong..].find("</strong>")?;
            Some(a[strong..strong + end].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_person_accepts_a_team_invite_and_sees_exactly_the_granted_clients() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let cedar = ada.add_client(org, "Cedar Cafe").await;
    let llc = ada.add_entity(beta, "Beta LLC").await;

    let r = send_team_invites(&ada, org, "mia@firm.test", "member", &[acme, cedar], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("mia@firm.test", 1).await;
    let mia = app.visitor();
    let (_, landing) = open(&mia, &link, StatusCode::OK).await;
    for words in ["Ada Admin", "mia@firm.test", "Ada & Co", "Member", "Acme Bakery, Cedar Cafe", "Accept invite"] {
        assert!(landing.contains(words), "{words:?} missing from the invite page: {landing}");
    }
    assert_eq!(
        app.invite_state(app.invite_records("mia@firm.test").await[0].id).await,
        "pending",
        "opening the link changes nothing"
    );
    let r = mia.invite_post(&link, "register", &[("name", "Mia Member"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/orgs/{org}/clients"));
    let (status, body, _) = mia.visit(&location(&r)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Clients</h1>"), "{}", text_of(&body));
    assert_eq!(client_names(&body), ["Acme Bakery", "Cedar Cafe"], "exactly the granted clients");
    assert!(!text_of(&body).contains("Add client"), "a Member cannot add clients");
    assert!(!body.contains(&format!("href=\"/orgs/{org}/team\"")), "a Member has no Team link");
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &format!("/w/{cedar}/entities")).await, StatusCode::OK);
    for path in [
        format!("/w/{beta}"),
        format!("/w/{beta}/entities"),
        format!("/w/{beta}/entities/{llc}"),
        format!("/w/{beta}/settings/members"),
    ] {
        assert_eq!(status_of(&mia, &path).await, StatusCode::NOT_FOUND, "{path} of a client not granted");
    }
    assert_eq!(app.org_role(org, app.user_id("mia@firm.test").await).await.as_deref(), Some("member"));
    // "/" leads to the firm.
    let (_, _, path) = mia.visit("/").await;
    assert_eq!(path, format!("/orgs/{org}/clients"));

    // The link works once.
    let other = app.visitor();
    let (status, body) = other.page(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(text_of(&body).contains("This invite has already been used"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_with_an_account_logs_in_accepts_and_a_manager_sees_every_client() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    ada.add_client(org, "Acme Bakery").await;
    ada.add_client(org, "Beta Books").await;
    // Gus already has an account (and a firm of his own).
    let (gus, gus_org) = app.sign_up("Gus", "gus@elsewhere.test", "Gus Ltd").await;
    gus.log_out().await;

    let r = send_team_invites(&ada, org, "GUS@elsewhere.test", "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("gus@elsewhere.test", 1).await;
    let r = gus.log_in("gus@elsewhere.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, landing) = open(&gus, &link, StatusCode::OK).await;
    assert!(
        landing.contains("Accept invite") && landing.contains("Manager") && landing.contains("All clients"),
        "{landing}"
    );
    let r = gus.invite_post(&link, "accept", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/orgs/{org}/clients"));
    let (_, body, _) = gus.visit(&location(&r)).await;
    assert_eq!(client_names(&body), ["Acme Bakery", "Beta Books"], "a Manager sees every client");
    assert!(text_of(&body).contains("Invite accepted"));
    // Both firms are his now.
    assert_eq!(status_of(&gus, &format!("/orgs/{gus_org}/clients")).await, StatusCode::OK);
    assert_eq!(status_of(&gus, &format!("/orgs/{org}/team")).await, StatusCode::OK, "a Manager opens Team");
    assert_eq!(app.org_role(org, app.user_id("gus@elsewhere.test").await).await.as_deref(), Some("manager"));

    // An Admin sees every client too, including one added later.
    let (adam, _) = join_team(&app, &ada, org, "adam@firm.test", "Adam Second", "admin", &[], false).await;
    let later = ada.add_client(org, "Cedar Cafe").await;
    let (_, body, _) = adam.visit(&format!("/orgs/{org}/clients")).await;
    assert_eq!(client_names(&body), ["Acme Bakery", "Beta Books", "Cedar Cafe"]);
    assert_eq!(status_of(&adam, &format!("/w/{later}/entities")).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// 5. The ⋯ actions
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn copy_resend_and_cancel_a_pending_team_invite() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let emailed = app.invite_link("pat@firm.test", 1).await;
    let (body, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    let id = team_invite_id_on(&body, "pat@firm.test");
    let pat_row = row(&body, "pat@firm.test");
    assert!(pat_row.contains("Member New clients Invite pending"), "{pat_row}");
    let copied = crate::support::copied(&emailed);
    assert!(body.contains(&format!("data-copy-text=\"{copied}\"")), "the ⋯ menu copies the emailed link, no proof");

    // Copy invite link: the same link as the email.
    let (body, text) = open(&ada, &format!("/orgs/{org}/team/invites/{id}/link"), StatusCode::OK).await;
    assert!(text.contains("Copy invite link") && text.contains("pat@firm.test"), "{text}");
    assert!(body.contains(&format!("value=\"{copied}\"")), "the link page shows {copied}: {text}");

    // Resend: a new email and a renewed expiry.
    app.set_invite_times(id, Some(now() + chrono::Duration::hours(1)), Some(now() - chrono::Duration::minutes(2)))
        .await;
    let r = ada.post(&format!("/orgs/{org}/team/invites/{id}/resend"), &[]).await;
    assert_eq!(location(&r), team_path(org));
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Invite to pat@firm.test to join Ada & Co queued again"), "{page}");
    let mails = app.smtp.wait_for("pat@firm.test", 2).await;
    assert_eq!(
        mails[1].link(&format!("{}/invites/", app.base)).as_deref(),
        Some(emailed.as_str()),
        "the resent email carries a working link"
    );
    let inv = app.invite_records("pat@firm.test").await.remove(0);
    assert!(inv.expires_at > now() + chrono::Duration::days(6), "the expiry is renewed to 7 days: {}", inv.expires_at);
    assert!(inv.last_sent_at > now() - chrono::Duration::minutes(1), "last sent now");
    // A second resend within a minute is refused, with a message, and sends nothing.
    let r = ada.post(&format!("/orgs/{org}/team/invites/{id}/resend"), &[]).await;
    let page = after_redirect(&ada, r).await;
    assert!(
        page.contains("An invite was sent to pat@firm.test less than a minute ago. Try again in a minute."),
        "{page}"
    );
    app.assert_outbox(id, &[("sent", 1), ("sent", 1)], "the invite and the resend, no third").await;
    assert_eq!(app.mails_to("pat@firm.test").len(), 2, "no third email");

    // Cancel: a confirmation, then the link stops working.
    let (_, text) = open(&ada, &format!("/orgs/{org}/team/invites/{id}/cancel"), StatusCode::OK).await;
    assert!(text.contains("Cancel the invite to pat@firm.test?") && text.contains("Ada & Co"), "{text}");
    let r = ada.post(&format!("/orgs/{org}/team/invites/{id}/cancel"), &[]).await;
    assert_eq!(location(&r), team_path(org));
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Invite to pat@firm.test to join Ada & Co cancelled: its link no longer works"), "{page}");
    assert!(!page.contains("pat@firm.test Member"), "the invite is gone from the Team page: {page}");
    let (body, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    assert!(row_of(&body, "pat@firm.test").is_none(), "no row for the cancelled invite");
    assert_eq!(app.invite_state(id).await, "cancelled");
    let visitor = app.visitor();
    let (status, body) = visitor.page(&emailed).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(text_of(&body).contains("This invite was cancelled"), "{}", text_of(&body));
    let r = visitor.invite_post(&emailed, "register", &[("name", "Pat"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(text_of(&r.text().await.unwrap()).contains("This invite was cancelled"));
    // A cancelled invite has no ⋯ actions any more.
    for path in [format!("/orgs/{org}/team/invites/{id}/link"), format!("/orgs/{org}/team/invites/{id}/cancel")] {
        assert_eq!(status_of(&ada, &path).await, StatusCode::NOT_FOUND, "{path}");
    }
    let r = ada.post(&format!("/orgs/{org}/team/invites/{id}/resend"), &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The address can be invited again.
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn configure_permissions_changes_role_clients_and_new_clients_on_the_next_request() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let (mia, mia_id) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme, beta], false).await;
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::OK);

    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    let m = actions_menu(&team, "Mia Member").expect("a ⋯ menu for Mia");
    assert!(m.contains(&format!("href=\"/orgs/{org}/team/{mia_id}/permissions\"")), "{m}");
    let (body, text) = open(&ada, &format!("/orgs/{org}/team/{mia_id}/permissions"), StatusCode::OK).await;
    assert!(
        text.contains("Configure permissions") && text.contains("Mia Member") && text.contains("mia@firm.test"),
        "{text}"
    );
    assert!(body.contains("name=\"role\" value=\"member\" checked"), "the current role is chosen");
    assert!(
        body.contains(&format!("name=\"client\" value=\"{acme}\" checked"))
            && body.contains(&format!("name=\"client\" value=\"{beta}\" checked"))
    );
    assert!(body.contains("name=\"new_clients\" value=\"on\">"), "New clients is off: {body}");

    // Only Acme, and New clients.
    let r = configure_team_member(&ada, org, mia_id, "member", &[acme], true).await;
    assert_eq!(location(&r), team_path(org));
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Permissions of Mia Member in Ada & Co updated"), "{page}");
    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    assert!(row(&team, "mia@firm.test").contains("Acme Bakery · New clients"), "{}", row(&team, "mia@firm.test"));
    // Her very next request: Beta is gone, Acme stays.
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities")).await, StatusCode::OK);
    let (_, body, _) = mia.visit(&format!("/orgs/{org}/clients")).await;
    assert_eq!(client_names(&body), ["Acme Bakery"]);
    let (body, _) = open(&ada, &format!("/orgs/{org}/team/{mia_id}/permissions"), StatusCode::OK).await;
    assert!(body.contains("name=\"new_clients\" value=\"on\" checked"));
    assert!(!body.contains(&format!("name=\"client\" value=\"{beta}\" checked")));

    // Manager: every client, and the Team page, at once.
    let r = configure_team_member(&ada, org, mia_id, "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &team_path(org)).await, StatusCode::OK);
    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    let mia_row = row(&team, "mia@firm.test");
    assert!(mia_row.contains("Manager") && mia_row.contains("All clients"), "{mia_row}");

    // And back to a Member with no client yet, only "New clients": nothing now, and no Team.
    let r = configure_team_member(&ada, org, mia_id, "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities")).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&mia, &team_path(org)).await, StatusCode::FORBIDDEN);
    let (_, body, _) = mia.visit(&format!("/orgs/{org}/clients")).await;
    assert!(
        client_names(&body).is_empty() && text_of(&body).contains("No client has been shared with you yet."),
        "{}",
        text_of(&body)
    );
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_from_organization_ends_all_access_at_once_and_keeps_past_work() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let (mia, mia_id) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme, beta], true).await;
    // Mia works in Acme's books (as firm staff she is a workspace Admin there).
    let r = mia
        .post(
            &format!("/w/{acme}/entities/{llc}/transactions"),
            &[("date", "2026-03-04"), ("description", "Flour by Mia"), ("amount", "-42.00")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    // In Beta a workspace Admin gave her a workspace role of her own.
    let r = ada
        .post(
            &format!("/w/{beta}/settings/members/{mia_id}/permissions"),
            &[("role", "accountant"), ("all_entities", "on")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.membership_rows(beta, mia_id).await, 1);

    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    let m = actions_menu(&team, "Mia Member").expect("a ⋯ menu for Mia");
    assert!(
        m.contains(&format!("href=\"/orgs/{org}/team/{mia_id}/remove\""))
            && text_of(m).contains("Remove from organization")
    );
    let (_, text) = open(&ada, &format!("/orgs/{org}/team/{mia_id}/remove"), StatusCode::OK).await;
    assert!(
        text.contains("Remove Mia Member from Ada & Co?"),
        "the confirmation names the person and the firm: {text}"
    );
    assert!(text.contains("mia@firm.test"), "{text}");
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"), "opening the confirmation changes nothing");

    let r = ada.post(&format!("/orgs/{org}/team/{mia_id}/remove"), &[]).await;
    assert_eq!(location(&r), team_path(org));
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Mia Member removed from Ada & Co"), "{page}");
    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    assert!(row_of(&team, "mia@firm.test").is_none(), "Mia is gone from the Team page");
    assert_eq!(app.org_role(org, mia_id).await, None);

    // She belongs nowhere now: her session ended with the removal, and her next request
    // goes to "Log in". Signed in again, she reaches nothing of the firm.
    let r = mia.get(&format!("/w/{acme}/entities")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    mia.page("/login").await;
    let r = mia.log_in("mia@firm.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Her next requests: every workspace of the firm and its Clients page are gone.
    for path in [
        format!("/w/{acme}"),
        format!("/w/{acme}/entities"),
        format!("/w/{acme}/entities/{llc}"),
        format!("/w/{acme}/settings/members"),
        format!("/w/{beta}/entities"),
        format!("/orgs/{org}/clients"),
        format!("/orgs/{org}/invites"),
        team_path(org),
    ] {
        assert_eq!(status_of(&mia, &path).await, StatusCode::NOT_FOUND, "{path} after removal");
    }
    let r = mia
        .post(
            &format!("/w/{acme}/entities/{llc}/transactions"),
            &[("date", "2026-03-05"), ("description", "Too late"), ("amount", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, body, path) = mia.visit("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !path.starts_with(&format!("/orgs/{org}")) && !text_of(&body).contains("Acme Bakery"),
        "{path}: {}",
        text_of(&body)
    );
    for ws in [acme, beta] {
        let (members, _) = open(&ada, &format!("/w/{ws}/settings/members"), StatusCode::OK).await;
        assert!(row_of(&members, "mia@firm.test").is_none(), "Mia is gone from the Members page of {ws}");
        assert_eq!(app.membership_rows(ws, mia_id).await, 0);
    }
    // A new client with "New clients" does not reach her any more.
    let later = ada.add_client(org, "Cedar Cafe").await;
    assert_eq!(status_of(&mia, &format!("/w/{later}/entities")).await, StatusCode::NOT_FOUND);

    // Her past work stays.
    let (_, books) = open(&ada, &format!("/w/{acme}/entities/{llc}"), StatusCode::OK).await;
    assert!(books.contains("Flour by Mia") && books.contains("-42.00"), "{books}");
    assert!(!books.contains("Too late"));
    assert_eq!(transactions_by(&app, mia_id).await, 1);
    // And the audit trail: who did what to her.
    let ada_id = app.user_id("ada@firm.test").await;
    let events = audit_of(&app, org, "mia@firm.test").await;
    for (action, actor) in
        [("invited", ada_id), ("accepted", mia_id), ("changed_permissions", ada_id), ("removed", ada_id)]
    {
        assert!(
            events.iter().any(|(a, by)| a == action && *by == Some(actor)),
            "{action} by {actor} missing from {events:?}"
        );
    }

    // She can be invited again, and accept with her account.
    let r = send_team_invites(&ada, org, "mia@firm.test", "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    let link = app.invite_link("mia@firm.test", 2).await;
    let r = mia.invite_post(&link, "accept", &[]).await;
    assert_eq!(location(&r), format!("/orgs/{org}/clients"));
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities")).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_be_removed_or_demoted() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let ada_id = app.user_id("ada@firm.test").await;

    let r = ada.post(&format!("/orgs/{org}/team/{ada_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("must keep at least one Admin"), "{text}");
    for role in ["manager", "member"] {
        let r = configure_team_member(&ada, org, ada_id, role, &[acme], false).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "demote to {role}");
        let body = r.text().await.unwrap();
        assert!(text_of(&body).contains("must keep at least one Admin"), "{}", text_of(&body));
        assert!(body.contains(&format!("name=\"role\" value=\"{role}\" checked")), "the form keeps the choice");
    }
    assert_eq!(app.org_role(org, ada_id).await.as_deref(), Some("admin"));
    assert_eq!(status_of(&ada, &team_path(org)).await, StatusCode::OK);

    // With a second Admin, either can go.
    let (bo, bo_id) = join_team(&app, &ada, org, "bo@firm.test", "Bo Admin", "admin", &[], false).await;
    let r = configure_team_member(&ada, org, bo_id, "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Bo is a Manager now: he cannot demote or remove Ada, the last Admin, anyway.
    let r = bo.post(&format!("/orgs/{org}/team/{ada_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = configure_team_member(&ada, org, bo_id, "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Ada leaves the firm herself.
    let r = ada.post(&format!("/orgs/{org}/team/{ada_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    assert_eq!(app.org_role(org, ada_id).await, None);
    assert_eq!(status_of(&ada, &team_path(org)).await, StatusCode::NOT_FOUND);
    // Now Bo is the last one.
    let r = bo.post(&format!("/orgs/{org}/team/{bo_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(org_admins(&app, org).await, 1);
}

// ---------------------------------------------------------------------------------------
// 6. New clients
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_member_with_new_clients_reaches_a_client_added_afterwards_at_once_one_without_does_not() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let (mia, _) = join_team(&app, &ada, org, "mia@firm.test", "Mia Follows", "member", &[], true).await;
    let (noor, _) = join_team(&app, &ada, org, "noor@firm.test", "Noor Fixed", "member", &[acme], false).await;
    let (_, body, _) = mia.visit(&format!("/orgs/{org}/clients")).await;
    assert!(client_names(&body).is_empty(), "no clients yet: {}", text_of(&body));

    let beta = ada.add_client(org, "Beta Books").await;
    let (_, body, _) = mia.visit(&format!("/orgs/{org}/clients")).await;
    assert_eq!(client_names(&body), ["Beta Books"], "the new client, at once");
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities")).await, StatusCode::NOT_FOUND, "not the older one");
    let (_, body, _) = noor.visit(&format!("/orgs/{org}/clients")).await;
    assert_eq!(client_names(&body), ["Acme Bakery"]);
    assert_eq!(status_of(&noor, &format!("/w/{beta}/entities")).await, StatusCode::NOT_FOUND);
    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    assert!(row(&team, "mia@firm.test").contains("Beta Books · New clients"), "{}", row(&team, "mia@firm.test"));
    assert!(
        row(&team, "noor@firm.test").contains("Acme Bakery") && !row(&team, "noor@firm.test").contains("Beta Books")
    );

    // A Manager adding a client has the same effect.
    let (gina, _) = join_team(&app, &ada, org, "gina@firm.test", "Gina Manager", "manager", &[], false).await;
    let cedar = gina.add_client(org, "Cedar Cafe").await;
    assert_eq!(status_of(&mia, &format!("/w/{cedar}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&noor, &format!("/w/{cedar}/entities")).await, StatusCode::NOT_FOUND);

    // Turning New clients off keeps what was granted but stops following.
    let mia_id = app.user_id("mia@firm.test").await;
    let r = configure_team_member(&ada, org, mia_id, "member", &[beta, cedar], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let delta = ada.add_client(org, "Delta Deli").await;
    assert_eq!(status_of(&mia, &format!("/w/{delta}/entities")).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&mia, &format!("/w/{cedar}/entities")).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn new_clients_on_a_team_invite_covers_clients_added_before_it_is_accepted() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    // The form promises: "New clients": also every client added from now on.
    let r = send_team_invites(&ada, org, "mia@firm.test", "member", &[acme], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("mia@firm.test", 1).await;
    let beta = ada.add_client(org, "Beta Books").await;
    let mia = app.accept_as_new_user(&link, "Mia Follows").await;
    let (_, body, _) = mia.visit(&format!("/orgs/{org}/clients")).await;
    assert_eq!(
        client_names(&body),
        ["Acme Bakery", "Beta Books"],
        "a client added after the invite was sent is a new client"
    );
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// 7. Firm staff inside a client's workspace
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn firm_admins_and_managers_are_admins_of_every_client_and_nobody_inside_can_lower_them() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let holdings = ada.add_entity(acme, "Acme Holdings").await;
    let (gina, gina_id) = join_team(&app, &ada, org, "gina@firm.test", "Gina Manager", "manager", &[], false).await;
    let (mia, _) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme], false).await;
    let cleo = app.add_client_user(&ada, acme, "cleo@client.test", "admin", &[]).await;
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;

    // Their rows say they are firm staff, managed on the Team page, and offer no ⋯ menu.
    for (email, words) in [("ada@firm.test", "Firm Admin"), ("gina@firm.test", "Firm Manager")] {
        let r = row(&members, email);
        assert!(r.contains("Admin") && r.contains("All entities") && r.contains(words), "{r}");
        assert!(r.contains("managed on the Team page"), "{r}");
    }
    assert!(actions_menu(&members, "Ada Admin").is_none() && actions_menu(&members, "Gina Manager").is_none());

    // Nobody inside the client can lower or remove them: not a firm Member working there
    // (issue 1), not a client-side Admin (issue 2), not themselves (issue 3).
    let before = app.snapshot().await;
    for (who, actor) in [("Mia", &mia), ("Cleo", &cleo), ("Ada", &ada), ("Gina", &gina)] {
        for target in [ada_id, gina_id] {
            let path = format!("/w/{acme}/settings/members/{target}");
            let r =
                actor.post(&format!("{path}/permissions"), &[("role", "member"), ("entity", &llc.to_string())]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who} lowering {target}");
            assert_eq!(actor.post(&format!("{path}/remove"), &[]).await.status(), StatusCode::FORBIDDEN);
            assert_eq!(status_of(actor, &format!("{path}/permissions")).await, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(app.snapshot().await, before, "every refused request changed nothing");
    // Both can still open the client, all of its books and its Members page.
    for user in [&ada, &gina] {
        for path in [format!("/w/{acme}/settings/members"), format!("/w/{acme}/entities/{holdings}")] {
            assert_eq!(status_of(user, &path).await, StatusCode::OK, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_firm_member_works_in_a_client_with_a_workspace_role_of_their_own() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let holdings = ada.add_entity(acme, "Acme Holdings").await;
    let (mia, mia_id) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme], false).await;

    // Not shown as an Admin (issue 4): an Accountant of all the client's entities, until a
    // workspace Admin gives her another role; she is not on Beta, which she was not given.
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    let r = row(&members, "mia@firm.test");
    assert!(r.contains("Accountant") && r.contains("All entities") && r.contains("Firm Member"), "{r}");
    assert!(!r.contains("Admin"), "{r}");
    let (beta_members, _) = open(&ada, &format!("/w/{beta}/settings/members"), StatusCode::OK).await;
    assert!(row_of(&beta_members, "mia@firm.test").is_none());
    assert_eq!(status_of(&mia, &format!("/w/{beta}/entities")).await, StatusCode::NOT_FOUND);
    // Her workspace role is changed on the Members page like anyone else's; she is not
    // removed there (her client access is the Team page's).
    let m = actions_menu(&members, "Mia Member").expect("a ⋯ menu for Mia");
    assert!(text_of(m).contains("Configure permissions") && !text_of(m).contains("Remove from workspace"));
    let r = ada
        .post(
            &format!("/w/{acme}/settings/members/{mia_id}/permissions"),
            &[("role", "member"), ("entity", &llc.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities/{llc}")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities/{holdings}")).await, StatusCode::NOT_FOUND);
    assert_eq!(
        status_of(&mia, &format!("/w/{acme}/settings/members")).await,
        StatusCode::FORBIDDEN,
        "a workspace Member has no Members page"
    );
    let before = app.snapshot().await;
    assert_eq!(
        ada.post(&format!("/w/{acme}/settings/members/{mia_id}/remove"), &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.snapshot().await, before);
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    let r = row(&members, "mia@firm.test");
    assert!(r.contains("Member") && r.contains("Acme LLC") && r.contains("Firm Member"), "{r}");
    // Her organization role is unchanged.
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));

    // Losing Acme on the Team page takes her off Acme's Members list, and her Acme role
    // goes with the access.
    let r = configure_team_member(&ada, org, mia_id, "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    assert!(row_of(&members, "mia@firm.test").is_none(), "{}", text_of(&members));
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities/{llc}")).await, StatusCode::NOT_FOUND);
    assert_eq!(app.membership_rows(acme, mia_id).await, 0, "her Acme role went with the access");
    // Given Acme back, she starts again as the default: an Accountant of every entity.
    let r = configure_team_member(&ada, org, mia_id, "member", &[acme, beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/entities/{holdings}")).await, StatusCode::OK);
    assert_eq!(status_of(&mia, &format!("/w/{acme}/settings/activity")).await, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accountant_sees_of_others_only_what_they_could_grant() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let holdings = ada.add_entity(acme, "Acme Holdings").await;
    let trust = ada.add_entity(acme, "Acme Trust").await;
    let carl = app.add_client_user(&ada, acme, "carl@client.test", "accountant", &[llc]).await;
    app.add_client_user(&ada, acme, "mo@client.test", "member", &[llc, holdings, trust]).await;
    let r = ada.invite(acme, "pat@client.test", "member", &[holdings]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = ada.invite(acme, "quin@client.test", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Issue 5: Carl (Accountant, Acme LLC) reads names only of entities he holds.
    let (members, text) = open(&carl, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    assert!(!text.contains("Acme Holdings") && !text.contains("Acme Trust"), "{text}");
    let mo = row(&members, "mo@client.test");
    assert!(mo.contains("Acme LLC") && mo.contains("+2 entities you cannot see"), "{mo}");
    let pat = row(&members, "pat@client.test");
    assert!(pat.contains("1 entity you cannot see"), "{pat}");
    // The invite that grants an entity beyond his reach is not his to resend, copy or cancel.
    assert!(actions_menu(&members, "pat@client.test").is_none(), "no ⋯ for Pat's invite");
    assert!(actions_menu(&members, "quin@client.test").is_some(), "his own kind of invite he manages");
    let pat_id = app.invite_record("pat@client.test").await.id;
    app.allow_resend(pat_id).await;
    // Quin's email may still be on its way: the worker must not change the outbox mid-check.
    app.outbox_settled().await;
    let before = app.snapshot().await;
    let base = format!("/w/{acme}/settings/invites/{pat_id}");
    assert_eq!(carl.post(&format!("{base}/resend"), &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.post(&format!("{base}/cancel"), &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&carl, &format!("{base}/link")).await, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&carl, &format!("{base}/cancel")).await, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot().await, before, "nothing changed");
    // Nor on the firm-wide Pending invites list (he is not on the firm's team: 404 there).
    assert_eq!(status_of(&carl, &format!("/orgs/{org}/invites")).await, StatusCode::NOT_FOUND);
    // Ada, an Admin, sees every name.
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    let mo = row(&members, "mo@client.test");
    assert!(mo.contains("Acme Holdings") && !mo.contains("cannot see"), "{mo}");
}

#[tokio::test(flavor = "multi_thread")]
async fn firm_staff_reach_a_client_only_through_their_client_access() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    // Cleo is Acme's accountant (a client user), and later joins the firm's team for Beta.
    let cleo = app.add_client_user(&ada, acme, "cleo@client.test", "accountant", &[llc]).await;
    let r = send_team_invites(&ada, org, "cleo@client.test", "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("cleo@client.test", 2).await;
    let r = cleo.invite_post(&link, "accept", &[]).await;
    assert_eq!(location(&r), format!("/orgs/{org}/clients"));
    let cleo_id = app.user_id("cleo@client.test").await;
    // On the team, she reaches the firm's clients only through the Team page (roles.md):
    // Beta, not Acme.
    assert_eq!(status_of(&cleo, &format!("/w/{beta}/entities")).await, StatusCode::OK);
    assert_eq!(status_of(&cleo, &format!("/w/{acme}/entities/{llc}")).await, StatusCode::NOT_FOUND);
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    assert!(row_of(&members, "cleo@client.test").is_none(), "{}", text_of(&members));
    // Nor can a client invite bring her back in past the Team page: the form says where to go.
    let before = app.snapshot().await;
    let r = ada.invite(acme, "cleo@client.test", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let text = text_of(&r.text().await.unwrap());
    assert!(text.contains("is on your firm's team") && text.contains("Team page"), "{text}");
    assert_eq!(app.snapshot().await, before, "no invite, no email");

    // Given Acme on the Team page, she works there with the workspace role she had.
    let r = configure_team_member(&ada, org, cleo_id, "member", &[acme, beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&cleo, &format!("/w/{acme}/entities/{llc}")).await, StatusCode::OK);
    let (members, _) = open(&ada, &format!("/w/{acme}/settings/members"), StatusCode::OK).await;
    let cleo_row = row(&members, "cleo@client.test");
    assert!(
        cleo_row.contains("Accountant") && cleo_row.contains("Acme LLC") && cleo_row.contains("Firm Member"),
        "{cleo_row}"
    );
}

// ---------------------------------------------------------------------------------------
// 8. Pending invites (firm-wide)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn pending_invites_lists_team_and_client_invites_with_bulk_resend_and_cancel() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let (mia, _) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme], false).await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[beta], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = ada.invite(acme, "cleo@client.test", "member", &[llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = ada.invite_to_all_entities(beta, "bob@client.test", "accountant").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (eve, eve_org) = app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let r = send_team_invites(&eve, eve_org, "evan@other.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for email in ["pat@firm.test", "cleo@client.test", "bob@client.test", "evan@other.test"] {
        app.smtp.wait_for(email, 1).await;
    }
    let pat = app.invite_records("pat@firm.test").await[0].id;
    let cleo = app.invite_records("cleo@client.test").await[0].id;
    let bob = app.invite_records("bob@client.test").await[0].id;
    let evan = app.invite_records("evan@other.test").await[0].id;
    app.set_invite_times(bob, Some(now() - chrono::Duration::minutes(5)), None).await;

    let pending = format!("/orgs/{org}/invites");
    let (body, text) = open(&ada, &pending, StatusCode::OK).await;
    assert!(text.contains("Pending invites"), "{text}");
    let r = row(&body, "pat@firm.test");
    assert!(
        r.contains("Team") && r.contains("Member") && r.contains("Invite pending") && r.contains("by Ada Admin"),
        "{r}"
    );
    let r = row(&body, "cleo@client.test");
    assert!(r.contains("Acme Bakery") && r.contains("Member") && r.contains("Invite pending"), "{r}");
    assert!(body.contains(&format!("href=\"/w/{acme}/settings/members\"")));
    let r = row(&body, "bob@client.test");
    assert!(r.contains("Beta Books") && r.contains("Accountant") && r.contains("Expired"), "{r}");
    assert!(!text.contains("evan@other.test") && !text.contains("mia@firm.test"), "{text}");
    for id in [pat, cleo, bob] {
        assert!(body.contains(&format!("name=\"invite\" value=\"{id}\"")), "a checkbox for invite {id}");
    }
    // The pending view is in the sidebar.
    assert!(body.contains(&format!("href=\"/orgs/{org}/invites\"")));

    // A team Member sees only what she can manage: invites of the client she works in.
    let (body, text) = open(&mia, &pending, StatusCode::OK).await;
    assert!(row_of(&body, "cleo@client.test").is_some(), "{text}");
    assert!(!text.contains("pat@firm.test") && !text.contains("bob@client.test"), "{text}");
    for action in ["cancel", "confirm-cancel"] {
        let r = mia.post(&pending, &[("invite", &pat.to_string()), ("action", action)]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "a Member cannot cancel a team invite ({action})");
    }
    assert_eq!(app.invite_state(pat).await, "pending");

    // Bulk resend.
    for id in [pat, cleo, bob] {
        app.allow_resend(id).await;
    }
    let (pat_s, cleo_s, bob_s) = (pat.to_string(), cleo.to_string(), bob.to_string());
    let r = ada.post(&pending, &[("invite", &pat_s), ("invite", &bob_s), ("action", "resend")]).await;
    assert_eq!(location(&r), pending);
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("2 invites resent"), "{page}");
    app.smtp.wait_for("pat@firm.test", 2).await;
    app.smtp.wait_for("bob@client.test", 2).await;
    let bob_row = app.invite_records("bob@client.test").await.remove(0);
    assert!(bob_row.expires_at > now() + chrono::Duration::days(6), "the expired invite is renewed");
    let (body, _) = open(&ada, &pending, StatusCode::OK).await;
    assert!(row(&body, "bob@client.test").contains("Invite pending"));
    // Unselected invites are left alone: Cleo's one email, no second.
    app.assert_sent_once(cleo, "cleo@client.test").await;
    // Again at once: skipped, with a message.
    let r = ada.post(&pending, &[("invite", &pat_s), ("invite", &cleo_s), ("action", "resend")]).await;
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("1 invite resent: cleo@client.test; 1 sent less than a minute ago were skipped"), "{page}");

    // Another firm's invite among the ids: 404, and nothing changes.
    let evan_s = evan.to_string();
    for action in ["cancel", "confirm-cancel"] {
        let r = ada.post(&pending, &[("invite", &pat_s), ("invite", &evan_s), ("action", action)]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(app.invite_state(pat).await, "pending");
    assert_eq!(app.invite_state(evan).await, "pending");
    let r = ada.post(&pending, &[("invite", &evan_s), ("action", "resend")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.assert_sent_once(evan, "evan@other.test").await;
    // Bad input: nothing selected, an unknown action, a non-number.
    let r = ada.post(&pending, &[("action", "cancel")]).await;
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("Select at least one invite."), "{page}");
    let r = ada.post(&pending, &[("invite", &pat_s), ("action", "delete")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = ada.post(&pending, &[("invite", "abc"), ("action", "cancel")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.invite_state(pat).await, "pending");

    // Bulk cancel.
    let pat_link = app.invite_link("pat@firm.test", 2).await;
    let cleo_link = app.invite_link("cleo@client.test", 1).await;
    // "Cancel selected" asks first, naming them; then "Cancel 2 invites".
    let r = ada.post(&pending, &[("invite", &pat_s), ("invite", &cleo_s), ("action", "cancel")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let confirm = text_of(&r.text().await.unwrap_or_default());
    assert!(confirm.contains("Cancel 2 invites?") && confirm.contains("pat@firm.test"), "{confirm}");
    assert_eq!(app.invite_state(pat).await, "pending", "nothing is cancelled before confirming");
    let r = ada.post(&pending, &[("invite", &pat_s), ("invite", &cleo_s), ("action", "confirm-cancel")]).await;
    let page = after_redirect(&ada, r).await;
    assert!(page.contains("2 invites cancelled"), "{page}");
    assert_eq!(app.invite_state(pat).await, "cancelled");
    assert_eq!(app.invite_state(cleo).await, "cancelled");
    assert_eq!(app.invite_state(bob).await, "pending");
    for link in [pat_link, cleo_link] {
        let (status, body) = app.visitor().page(&link).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(text_of(&body).contains("This invite was cancelled"));
    }
    let (body, _) = open(&ada, &pending, StatusCode::OK).await;
    assert!(row_of(&body, "pat@firm.test").is_none() && row_of(&body, "cleo@client.test").is_none());
    assert!(row_of(&body, "bob@client.test").is_some());
    let (team, _) = open(&ada, &team_path(org), StatusCode::OK).await;
    assert!(row_of(&team, "pat@firm.test").is_none());
    let (eve_pending, _) = open(&eve, &format!("/orgs/{eve_org}/invites"), StatusCode::OK).await;
    assert!(row_of(&eve_pending, "evan@other.test").is_some() && !eve_pending.contains("firm.test"));
}

// ---------------------------------------------------------------------------------------
// 9. Rules
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_cannot_invite_promote_or_remove_an_admin() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let (gina, _) = join_team(&app, &ada, org, "gina@firm.test", "Gina Manager", "manager", &[], false).await;
    let mia_id = staff_row(&app, org, "mia@firm.test", "Mia Member", "member").await;
    let before = app.invite_count().await;

    // The form offers no Admin role.
    let (body, text) = open(&gina, &format!("/orgs/{org}/team/invite"), StatusCode::OK).await;
    assert!(
        !body.contains("value=\"admin\"") && body.contains("value=\"manager\"") && body.contains("value=\"member\""),
        "{text}"
    );
    assert!(text.contains("Only a firm Admin can give the Admin role."));
    let r = send_team_invites(&gina, org, "boss@firm.test", "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a Manager invites an Admin");
    assert_eq!(app.invite_count().await, before);
    // Managers and Members she may invite.
    let r = send_team_invites(&gina, org, "mo@firm.test", "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = send_team_invites(&gina, org, "mem@firm.test", "member", &[acme], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (body, _) = open(&gina, &format!("/orgs/{org}/team/{mia_id}/permissions"), StatusCode::OK).await;
    assert!(!body.contains("value=\"admin\"") && body.contains("value=\"manager\""), "no Admin role offered");
    let r = configure_team_member(&gina, org, mia_id, "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a Manager promotes to Admin");
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));
    let r = configure_team_member(&gina, org, mia_id, "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "to Manager is fine");
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("manager"));

    // Admins are out of her reach: no ⋯ on their row, 403 on every action.
    let (team, _) = open(&gina, &team_path(org), StatusCode::OK).await;
    assert!(actions_menu(&team, "Ada Admin").is_none(), "no ⋯ for an Admin");
    assert!(actions_menu(&team, "Mia Member").is_some());
    for path in [format!("/orgs/{org}/team/{ada_id}/permissions"), format!("/orgs/{org}/team/{ada_id}/remove")] {
        assert_eq!(status_of(&gina, &path).await, StatusCode::FORBIDDEN, "{path}");
    }
    let r = gina.post(&format!("/orgs/{org}/team/{ada_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a Manager removes an Admin");
    let r = configure_team_member(&gina, org, ada_id, "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a Manager demotes an Admin");
    assert_eq!(app.org_role(org, ada_id).await.as_deref(), Some("admin"));
    // Nor an Admin's pending invite.
    let r = send_team_invites(&ada, org, "boss@firm.test", "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let boss = app.invite_records("boss@firm.test").await[0].id;
    app.allow_resend(boss).await;
    let (team, _) = open(&gina, &team_path(org), StatusCode::OK).await;
    assert!(actions_menu(&team, "boss@firm.test").is_none(), "no ⋯ for an Admin's invite");
    assert!(!team.contains(&format!("/team/invites/{boss}/")), "and no link to its actions");
    for path in [format!("/orgs/{org}/team/invites/{boss}/link"), format!("/orgs/{org}/team/invites/{boss}/cancel")] {
        assert_eq!(status_of(&gina, &path).await, StatusCode::FORBIDDEN, "{path}");
    }
    for action in ["resend", "cancel"] {
        let r = gina.post(&format!("/orgs/{org}/team/invites/{boss}/{action}"), &[]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action} an Admin's invite");
    }
    let (pending, _) = open(&gina, &format!("/orgs/{org}/invites"), StatusCode::OK).await;
    assert!(row_of(&pending, "boss@firm.test").is_none());
    let r = gina.post(&format!("/orgs/{org}/invites"), &[("invite", &boss.to_string()), ("action", "cancel")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not among the invites she may manage");
    assert_eq!(app.invite_state(boss).await, "pending");
    // She may remove a Member.
    let (_, mem_id) = join_team(&app, &ada, org, "temp@firm.test", "Temp Member", "member", &[], true).await;
    let r = gina.post(&format!("/orgs/{org}/team/{mem_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.org_role(org, mem_id).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_cannot_open_team_or_invite() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let (mia, _) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme], false).await;
    let (_, clients) = open(&mia, &format!("/orgs/{org}/clients"), StatusCode::OK).await;
    assert!(!clients.contains(&format!("href=\"/orgs/{org}/team\"")), "no Team in her sidebar");
    let (status, body) = mia.page(&team_path(org)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text_of(&body).contains("Your role in the firm does not allow this"), "{}", text_of(&body));
    assert_eq!(status_of(&mia, &format!("/orgs/{org}/team/invite")).await, StatusCode::FORBIDDEN);
    let before = app.invite_count().await;
    let r = send_team_invites(&mia, org, "friend@firm.test", "member", &[acme], false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.invite_count().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_roles_foreign_clients_and_missing_csrf_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let (eve, eve_org) = app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let foreign = eve.add_client(eve_org, "Eve Client").await;
    let mia_id = staff_row(&app, org, "mia@firm.test", "Mia Member", "member").await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[acme], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pat = app.invite_records("pat@firm.test").await[0].id;
    app.allow_resend(pat).await;
    let before = app.invite_count().await;

    for role in ["owner", "ADMIN", "", "superadmin"] {
        let r = send_team_invites(&ada, org, "x@firm.test", role, &[], false).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "invite with role {role:?}");
        let r = configure_team_member(&ada, org, mia_id, role, &[], false).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "configure with role {role:?}");
    }
    let r = send_team_invites(&ada, org, "x@firm.test", "member", &[acme, foreign], false).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a client of another firm");
    assert!(text_of(&r.text().await.unwrap()).contains("not one of your firm's clients"));
    let r = configure_team_member(&ada, org, mia_id, "member", &[foreign], false).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a client of another firm");
    let r = send_team_invites(&ada, org, "x@firm.test", "member", &[999_999], false).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a client that does not exist");
    let r = ada
        .post(&format!("/orgs/{org}/team/invite"), &[("emails", "x@firm.test"), ("role", "member"), ("client", "abc")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a client id that is not a number");
    assert_eq!(app.invite_count().await, before);
    assert!(app.invite_records("x@firm.test").await.is_empty());
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));
    let (body, _) = open(&ada, &format!("/orgs/{org}/team/{mia_id}/permissions"), StatusCode::OK).await;
    assert!(!body.contains(&format!("value=\"{acme}\" checked")), "Mia still has no clients: nothing was half-written");

    // Without the CSRF token every Team POST is refused.
    let posts: Vec<(String, Vec<(&str, String)>)> = vec![
        (format!("/orgs/{org}/team/invite"), vec![("emails", "x@firm.test".into()), ("role", "member".into())]),
        (format!("/orgs/{org}/team/{mia_id}/permissions"), vec![("role", "manager".into())]),
        (format!("/orgs/{org}/team/{mia_id}/remove"), vec![]),
        (format!("/orgs/{org}/team/invites/{pat}/resend"), vec![]),
        (format!("/orgs/{org}/team/invites/{pat}/cancel"), vec![]),
        (format!("/orgs/{org}/team/invites/{pat}/edit"), vec![("role", "manager".into())]),
        (format!("/orgs/{org}/team/invites/{pat}/renew"), vec![]),
        (format!("/orgs/{org}/invites"), vec![("invite", pat.to_string()), ("action", "confirm-cancel".into())]),
    ];
    for (path, fields) in &posts {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = ada.post_raw(path, &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path} without a token");
        assert!(text_of(&r.text().await.unwrap()).contains("This form has expired"));
        let mut wrong = vec![("csrf", "forged-token")];
        wrong.extend(fields.iter().copied());
        let r = ada.post_raw(path, &wrong).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path} with a wrong token");
    }
    assert_eq!(app.invite_count().await, before);
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));
    assert_eq!(app.invite_state(pat).await, "pending");
    // Nothing was resent: the invite still has its one email.
    app.assert_sent_once(pat, "pat@firm.test").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_of_another_firm_gets_404_on_every_team_route() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    ada.add_client(org, "Acme Bakery").await;
    let mia_id = staff_row(&app, org, "mia@firm.test", "Mia Member", "member").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let r = send_team_invites(&ada, org, "pat@firm.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pat = app.invite_records("pat@firm.test").await[0].id;
    app.allow_resend(pat).await;
    let (eve, eve_org) = app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let before = app.invite_count().await;

    // Ada's firm in the path, and Ada's people and invites under Eve's own firm.
    for o in [org, eve_org] {
        for user in [mia_id, ada_id] {
            for path in [format!("/orgs/{o}/team/{user}/permissions"), format!("/orgs/{o}/team/{user}/remove")] {
                assert_eq!(status_of(&eve, &path).await, StatusCode::NOT_FOUND, "GET {path}");
            }
            let r = configure_team_member(&eve, o, user, "admin", &[], false).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST permissions of {user} in {o}");
            let r = eve.post(&format!("/orgs/{o}/team/{user}/remove"), &[]).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST remove of {user} in {o}");
        }
        for action in ["link", "cancel", "edit"] {
            let path = format!("/orgs/{o}/team/invites/{pat}/{action}");
            assert_eq!(status_of(&eve, &path).await, StatusCode::NOT_FOUND, "GET {path}");
        }
        for action in ["resend", "cancel", "renew", "edit"] {
            let r = eve.post(&format!("/orgs/{o}/team/invites/{pat}/{action}"), &[("role", "member")]).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {action} in {o}");
        }
        for action in ["cancel", "confirm-cancel"] {
            let r = eve.post(&format!("/orgs/{o}/invites"), &[("invite", &pat.to_string()), ("action", action)]).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "bulk {action} in {o}");
        }
    }
    for path in [team_path(org), format!("/orgs/{org}/team/invite"), format!("/orgs/{org}/invites")] {
        let (status, body) = eve.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(!body.contains("Ada") && !body.contains("pat@firm.test"), "{path} leaks nothing");
    }
    let r = send_team_invites(&eve, org, "spy@other.test", "admin", &[], false).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.invite_count().await, before);
    assert_eq!(app.org_role(org, mia_id).await.as_deref(), Some("member"));
    assert_eq!(app.org_role(org, ada_id).await.as_deref(), Some("admin"));
    assert_eq!(app.invite_state(pat).await, "pending");
    assert_eq!(app.org_role(org, app.user_id("eve@other.test").await).await, None);
    let (team, _) = open(&eve, &team_path(eve_org), StatusCode::OK).await;
    assert!(!team.contains("firm.test"), "Eve's Team page shows only her firm");
}

// ---------------------------------------------------------------------------------------
// 10. Concurrency
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_accepts_of_one_team_invite_make_one_membership() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    ada.add_client(org, "Acme Bakery").await;
    let (gus, _) = app.sign_up("Gus", "gus@elsewhere.test", "Gus Ltd").await;
    let gus_id = app.user_id("gus@elsewhere.test").await;
    let r = send_team_invites(&ada, org, "gus@elsewhere.test", "manager", &[], false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("gus@elsewhere.test", 1).await;
    // Gus's address is confirmed: the link works with or without its emailed proof.
    let accept = format!("{}/accept", crate::support::copied(&link));
    gus.csrf().await;

    let responses = futures::future::join_all((0..20).map(|_| gus.post(&accept, &[]))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(!statuses.iter().any(|s| s.is_server_error()), "{statuses:?}");
    let landed = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SEE_OTHER && location(r) == format!("/orgs/{org}/clients"))
        .count();
    assert!(landed >= 1, "at least one lands in the firm: {statuses:?}");
    for r in &responses {
        assert!(
            r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::GONE,
            "each accept lands in the firm or says the invite was used: {statuses:?}"
        );
    }
    assert_eq!(org_memberships_of(&app, org, gus_id).await, 1, "exactly one membership");
    assert_eq!(app.org_role(org, gus_id).await.as_deref(), Some("manager"));
    let rows = app.invite_records("gus@elsewhere.test").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "accepted");
    assert_eq!(status_of(&gus, &team_path(org)).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_accepts_by_the_invited_person_all_land_in_the_firm() {
    // A double-click on "Accept invite": the person who accepted is never told the
    // invite was used by someone else; every one of their requests lands in the firm.
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let (gus, _) = app.sign_up("Gus", "gus@elsewhere.test", "Gus Ltd").await;
    let r = send_team_invites(&ada, org, "gus@elsewhere.test", "member", &[], true).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = app.invite_link("gus@elsewhere.test", 1).await;
    // Gus's address is confirmed: the link works with or without its emailed proof.
    let accept = format!("{}/accept", crate::support::copied(&link));
    gus.csrf().await;
    let responses = futures::future::join_all((0..20).map(|_| gus.post(&accept, &[]))).await;
    let got: Vec<String> = responses
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.status().as_u16(),
                r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
            )
        })
        .collect();
    let landed = format!("303 /orgs/{org}/clients");
    assert!(got.iter().all(|g| *g == landed), "every accept by the invited person lands in the firm: {got:?}");
    assert_eq!(org_memberships_of(&app, org, app.user_id("gus@elsewhere.test").await).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_add_team_of_one_address_makes_one_invite_and_one_email() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let (bo, _) = join_team(&app, &ada, org, "bo@firm.test", "Bo Admin", "admin", &[], false).await;
    ada.csrf().await;
    bo.csrf().await;
    let sends = (0..10).map(|i| {
        let who = if i % 2 == 0 { &ada } else { &bo };
        send_team_invites(who, org, "pat@firm.test, other@firm.test", "member", &[], true)
    });
    let responses = futures::future::join_all(sends).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(!statuses.iter().any(|s| s.is_server_error()), "no 500: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(),
        1,
        "one request invites both: {statuses:?}"
    );
    for email in ["pat@firm.test", "other@firm.test"] {
        let rows = app.invite_records(email).await;
        assert_eq!(rows.len(), 1, "one invite to {email}");
        assert_eq!(app.outbox_rows_to(email).await, 1, "one email queued for {email}");
        app.assert_sent_once(rows[0].id, email).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_admins_demoting_each_other_at_the_same_moment_leave_one_admin() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let (bo, bo_id) = join_team(&app, &ada, org, "bo@firm.test", "Bo Admin", "admin", &[], false).await;
    ada.csrf().await;
    bo.csrf().await;

    for round in 0..3 {
        let (a, b) = tokio::join!(
            configure_team_member(&ada, org, bo_id, "member", &[], true),
            configure_team_member(&bo, org, ada_id, "member", &[], true),
        );
        let statuses = [a.status(), b.status()];
        assert_eq!(org_admins(&app, org).await, 1, "round {round}: exactly one Admin is left ({statuses:?})");
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(),
            1,
            "round {round}: one demotion wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [StatusCode::SEE_OTHER, StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(s)),
            "round {round}: the other is refused (last Admin, or no longer an Admin): {statuses:?}"
        );
        // Make both Admins again for the next round.
        let (admin, demoted) =
            if app.org_role(org, ada_id).await.as_deref() == Some("admin") { (&ada, bo_id) } else { (&bo, ada_id) };
        let r = configure_team_member(admin, org, demoted, "admin", &[], false).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(org_admins(&app, org).await, 2);
    }

    // Removing each other at the same moment, likewise.
    let (remove_bo, remove_ada) =
        (format!("/orgs/{org}/team/{bo_id}/remove"), format!("/orgs/{org}/team/{ada_id}/remove"));
    let (a, b) = tokio::join!(ada.post(&remove_bo, &[]), bo.post(&remove_ada, &[]));
    let statuses = [a.status(), b.status()];
    assert!(!statuses.iter().any(|s| s.is_server_error()), "{statuses:?}");
    assert_eq!(org_admins(&app, org).await, 1, "one Admin is left: {statuses:?}");
}

// ---------------------------------------------------------------------------------------
// 11. Who may open which Team route
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// This status (a 303 must not be the sign-in redirect).
    Status(u16),
    /// Sent to "Log in".
    SignIn,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Actor {
    Admin,
    Manager,
    Member,
    ClientUser,
    OtherFirm,
    SignedOut,
}

const ACTORS: [Actor; 6] =
    [Actor::Admin, Actor::Manager, Actor::Member, Actor::ClientUser, Actor::OtherFirm, Actor::SignedOut];

/// Why a cell expects what it does, for the failure message.
fn why(actor: Actor, expect: Expect, method: &str) -> &'static str {
    match (actor, expect) {
        (_, Expect::SignIn) => "signed out: every firm page sends you to Log in first",
        (Actor::Admin, _) => "a firm Admin manages the whole team",
        (Actor::Manager, _) => "a Manager manages Managers and Members (the targets here are Members)",
        (Actor::Member, Expect::Status(403)) => "a team Member has no Team page and manages nobody (roles.md)",
        (Actor::Member, Expect::Status(200)) => {
            "every team member has the Pending invites view, listing only what they may manage"
        }
        (Actor::Member, _) if method == "POST" => {
            "a team invite is not among the invites a Member may manage: not found"
        }
        (Actor::ClientUser, _) => "a client's user is not on the firm's team: the firm is not found for them",
        (Actor::OtherFirm, _) => "another firm's page: 404, never 403, so nothing is revealed",
        _ => "",
    }
}

/// The fresh targets of one cell of the matrix.
struct Target<'a> {
    /// A team Member (no clients, New clients off).
    user: i64,
    /// A pending team invite (role Member) that may be resent, and its address.
    invite: i64,
    invited: &'a str,
    /// The address "Add Team" invites.
    new_email: &'a str,
    /// The client "Add Team" and "Configure permissions" grant.
    client: i64,
}

/// Whether an allowed Team POST did what it is for: its redirect, and its row changes.
async fn took_effect(app: &TestApp, org: i64, route: &str, t: &Target<'_>, location: &str) -> Result<(), String> {
    let leads_to = match route {
        "/invites" => format!("/orgs/{org}/invites"),
        "/team/invites/{invite}/renew" => format!("/orgs/{org}/team/invites/{}/link", t.invite),
        _ => team_path(org),
    };
    if location != leads_to {
        return Err(format!("led to {location:?}, not {leads_to:?}"));
    }
    let done = match route {
        "/team/invite" => {
            let invites = app.invite_records(t.new_email).await;
            let queued = app.outbox_rows_to(t.new_email).await;
            let got: Vec<(Option<i64>, &str, &str)> =
                invites.iter().map(|i| (i.workspace_id, i.role.as_str(), i.state.as_str())).collect();
            (got == [(None, "member", "pending")] && queued == 1)
                .then_some(())
                .ok_or(format!("invites to {}: {got:?}, {queued} emails queued", t.new_email))
        }
        "/team/{user}/permissions" => {
            let access = team_access(app, org, t.user).await;
            (access == Some(("member".into(), true, vec![t.client])))
                .then_some(())
                .ok_or(format!("the team access is {access:?}"))
        }
        "/team/{user}/remove" => {
            let role = app.org_role(org, t.user).await;
            role.is_none().then_some(()).ok_or(format!("the person is still on the team as {role:?}"))
        }
        "/team/invites/{invite}/resend" => {
            let emails = app.outbox_of(t.invite).await.len();
            // allow_resend dated its last email two minutes back.
            let sent = app.invite_record(t.invited).await.last_sent_at;
            (emails == 2 && sent > now() - chrono::Duration::minutes(1))
                .then_some(())
                .ok_or(format!("invite {} has {emails} emails queued (not 2), last sent {sent}", t.invite))
        }
        "/team/invites/{invite}/cancel" | "/invites" => {
            let state = app.invite_state(t.invite).await;
            (state == "cancelled").then_some(()).ok_or(format!("invite {} is {state}", t.invite))
        }
        "/team/invites/{invite}/edit" => {
            let offer = crate::invite_editing::invite_offer(app, t.invite).await;
            (offer.role == "member" && offer.new_clients && offer.clients == [t.client])
                .then_some(())
                .ok_or(format!("invite {} offers {offer:?}", t.invite))
        }
        "/team/invites/{invite}/renew" => {
            let i = app.invite_record(t.invited).await;
            (i.expires_at > i.created_at + chrono::Duration::days(7))
                .then_some(())
                .ok_or(format!("invite {} still expires at {}", t.invite, i.expires_at))
        }
        other => Err(format!("no expected effect written for POST {other}")),
    };
    done.map_err(|e| format!("did not take effect: {e}"))
}

/// The team role, "New clients" and granted clients of `user` in `org`, if on the team.
async fn team_access(app: &TestApp, org: i64, user: i64) -> Option<(String, bool, Vec<i64>)> {
    use portico::db::schema::{org_client_grants as g, org_memberships as m};
    app.db
        .read(move |c| {
            let Some((id, role, new_clients)) = m::table
                .filter(m::organization_id.eq(org))
                .filter(m::user_id.eq(user))
                .select((m::id, m::role, m::new_clients))
                .first::<(i64, String, bool)>(c)
                .optional()?
            else {
                return Ok(None);
            };
            let clients = g::table
                .filter(g::membership_id.eq(id))
                .order(g::workspace_id)
                .select(g::workspace_id)
                .load::<i64>(c)?;
            Ok(Some((role, new_clients, clients)))
        })
        .await
        .expect("read team access")
}

#[tokio::test(flavor = "multi_thread")]
async fn team_routes_authorization_matrix() {
    use Expect::{SignIn, Status};
    // Each cell sends an invite of its own: more than one person's hourly limit.
    let app = crate::support::spawn_app_with(crate::support::Options {
        adjust: |s| s.invites_per_user_per_hour = 1_000,
        ..Default::default()
    })
    .await;
    let (ada, org) = app.sign_up("Ada Admin", "ada@firm.test", "Ada & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(acme, "Acme LLC").await;
    let (gina, _) = join_team(&app, &ada, org, "gina@firm.test", "Gina Manager", "manager", &[], false).await;
    let (mia, _) = join_team(&app, &ada, org, "mia@firm.test", "Mia Member", "member", &[acme], false).await;
    let cleo = app.add_client_user(&ada, acme, "cleo@client.test", "accountant", &[llc]).await;
    let (eve, _) = app.sign_up("Eve", "eve@other.test", "Eve Inc").await;
    let out = app.visitor();
    let users: [&TestUser; 6] = [&ada, &gina, &mia, &cleo, &eve, &out];

    // (method, route, expected for Admin, Manager, Member, client user, other firm, signed out).
    // {user}: a fresh team Member; {invite}: a fresh pending team invite (role Member).
    let ok = Status(200);
    let done = Status(303);
    let forbidden = Status(403);
    let missing = Status(404);
    let table: &[(&str, &str, [Expect; 6])] = &[
        ("GET", "/team", [ok, ok, forbidden, missing, missing, SignIn]),
        ("GET", "/team/invite", [ok, ok, forbidden, missing, missing, SignIn]),
        ("POST", "/team/invite", [done, done, forbidden, missing, missing, SignIn]),
        ("GET", "/team/{user}/permissions", [ok, ok, forbidden, missing, missing, SignIn]),
        ("POST", "/team/{user}/permissions", [done, done, forbidden, missing, missing, SignIn]),
        ("GET", "/team/{user}/remove", [ok, ok, forbidden, missing, missing, SignIn]),
        ("POST", "/team/{user}/remove", [done, done, forbidden, missing, missing, SignIn]),
        ("POST", "/team/invites/{invite}/resend", [done, done, forbidden, missing, missing, SignIn]),
        ("GET", "/team/invites/{invite}/link", [ok, ok, forbidden, missing, missing, SignIn]),
        ("GET", "/team/invites/{invite}/cancel", [ok, ok, forbidden, missing, missing, SignIn]),
        ("POST", "/team/invites/{invite}/cancel", [done, done, forbidden, missing, missing, SignIn]),
        ("GET", "/team/invites/{invite}/edit", [ok, ok, forbidden, missing, missing, SignIn]),
        ("POST", "/team/invites/{invite}/edit", [done, done, forbidden, missing, missing, SignIn]),
        ("POST", "/team/invites/{invite}/renew", [done, done, forbidden, missing, missing, SignIn]),
        // Everyone on the team has the firm-wide view, listing only what they may manage.
        ("GET", "/invites", [ok, ok, ok, missing, missing, SignIn]),
        // A team invite is not among what a Member may manage: not found.
        ("POST", "/invites", [done, done, missing, missing, missing, SignIn]),
    ];

    let mut failures = Vec::new();
    let mut n = 0;
    for (method, route, expected) in table {
        for ((actor, user), expect) in ACTORS.iter().zip(users).zip(expected) {
            n += 1;
            // Fresh targets for every cell, so that one cell's change cannot decide another's.
            let target = staff_row(&app, org, &format!("target{n}@firm.test"), &format!("Target {n}"), "member").await;
            let invited = format!("invitee{n}@firm.test");
            let r = send_team_invites(&ada, org, &invited, "member", &[acme], false).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let invite = app.invite_records(&invited).await[0].id;
            app.allow_resend(invite).await;
            let path = format!(
                "/orgs/{org}{}",
                route.replace("{user}", &target.to_string()).replace("{invite}", &invite.to_string())
            );
            let (acme_s, invite_s, new_email) = (acme.to_string(), invite.to_string(), format!("new{n}@firm.test"));
            let fields: Vec<(&str, &str)> = match *route {
                "/team/invite" => vec![("emails", &new_email), ("role", "member"), ("client", &acme_s)],
                "/team/{user}/permissions" | "/team/invites/{invite}/edit" => {
                    vec![("role", "member"), ("client", &acme_s), ("new_clients", "on")]
                }
                "/invites" => vec![("invite", &invite_s), ("action", "confirm-cancel")],
                _ => vec![],
            };
            // Nothing is left for the outbox worker to change while the request runs.
            app.outbox_settled().await;
            let before = app.snapshot().await;
            let r = if *method == "GET" { user.get(&path).await } else { user.post(&path, &fields).await };
            let status = r.status();
            let to = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let after = app.snapshot().await;
            let got_sign_in = status == StatusCode::SEE_OTHER && to.starts_with("/login");
            let pass = match expect {
                SignIn => got_sign_in,
                Status(code) => status.as_u16() == *code && !got_sign_in,
            };
            let cell = format!("{actor:?} {method} {path}");
            if !pass {
                let reason = why(*actor, *expect, method);
                failures.push(format!("{cell}: expected {expect:?} ({reason}), got {status} {to}"));
            } else if *method == "POST" && *expect == done {
                // Allowed: it went where that action leads, and did what it says.
                let target = Target { user: target, invite, invited: &invited, new_email: &new_email, client: acme };
                if let Err(e) = took_effect(&app, org, route, &target, &to).await {
                    failures.push(format!("{cell}: answered {status} {to} but {e}"));
                }
            } else if after != before {
                // Refused, or only looked at: not a row changed.
                failures
                    .push(format!("{cell}: answered {status} {to} but changed the database:\n{}", before.diff(&after)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {n} cells differ:\n{}", failures.len(), failures.join("\n"));
}
