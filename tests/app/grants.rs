//! Issue 9, item 3 and "Your own access": invites and Configure permissions must grant
//! something ("Choose at least one entity: an Accountant or Member with none could open nothing.", "Choose at least one
//! client, or New clients."), "Select all" on both forms, and changing one's own access says
//! what one would lose before anything is saved.

use std::collections::BTreeSet;

use diesel::prelude::*;
use reqwest::StatusCode;

use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{
    confirm_loss_in, firm_with_a_client, input_value, location, row, spawn_app, text_of, Firm, TestApp, TestUser,
    PASSWORD,
};

const NO_ENTITY: &str = "Choose at least one entity: an Accountant or Member with none could open nothing.";
const NO_CLIENT: &str = "Choose at least one client, or New clients.";
const OWN_NOTE: &str = "This is you. If these changes take away any of your own access, you are shown what you would lose before anything is saved.";

// ---------------------------------------------------------------------------------------
// Steps and what the database holds
// ---------------------------------------------------------------------------------------

async fn send(user: &TestUser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = user.post(path, fields).await;
    let status = r.status();
    let to = if status == StatusCode::SEE_OTHER { location(&r) } else { String::new() };
    let body = r.text().await.unwrap_or_default();
    (status, if to.is_empty() { body } else { to })
}

fn invite_path(ws: i64) -> String {
    format!("/w/{ws}/settings/members/invite")
}

fn permissions_path(ws: i64, user: i64) -> String {
    format!("/w/{ws}/settings/members/{user}/permissions")
}

fn team_invite_path(org: i64) -> String {
    format!("/orgs/{org}/team/invite")
}

fn team_permissions_path(org: i64, user: i64) -> String {
    format!("/orgs/{org}/team/{user}/permissions")
}

/// The text of the element with this id (a `<p>` next to the entity or client list).
fn text_by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find("</p>")?;
    Some(text_of(&html[start..end]))
}

/// The message next to the list comes after its last checkbox (or its note) and inside its
/// fieldset, and says `words`.
fn assert_next_to_list(html: &str, id: &str, words: &str) {
    let said = text_by_id(html, id).unwrap_or_else(|| panic!("no #{id} on the form: {}", text_of(html)));
    assert_eq!(said, words);
    let at = html.find(&format!("id=\"{id}\"")).unwrap();
    let list = html.find("class=\"entities-field\"").expect("the entity or client list");
    assert!(list < at, "the message is inside the list's fieldset, after it starts");
    assert!(!html[list..at].contains("</fieldset>"), "and before it ends");
    let described = format!("aria-describedby=\"{id}\"");
    assert!(html[list..at].contains(&described), "the fieldset points to its message");
}

/// What the invites to `email` offer: (all entities, entities, clients, new clients), of the newest.
async fn offered(app: &TestApp, email: &str) -> (bool, BTreeSet<i64>, BTreeSet<i64>, bool) {
    use portico::db::schema::{invite_clients as ic, invite_entities as ie, invites as i};
    let email = email.to_string();
    app.db
        .read(move |c| {
            let (id, all, new_clients) = i::table
                .filter(i::email.eq(email))
                .order(i::id.desc())
                .select((i::id, i::all_entities, i::new_clients))
                .first::<(i64, bool, bool)>(c)?;
            let entities = ie::table.filter(ie::invite_id.eq(id)).select(ie::entity_id).load::<i64>(c)?;
            let clients = ic::table.filter(ic::invite_id.eq(id)).select(ic::workspace_id).load::<i64>(c)?;
            Ok((all, entities.into_iter().collect(), clients.into_iter().collect(), new_clients))
        })
        .await
        .expect("read an invite")
}

/// `user`'s row in `ws`: role, all entities, the entities granted.
async fn seat(app: &TestApp, ws: i64, user: i64) -> Option<(String, bool, BTreeSet<i64>)> {
    use portico::db::schema::{workspace_entity_grants as g, workspace_memberships as m};
    app.db
        .read(move |c| {
            let Some((id, role, all)) = m::table
                .filter(m::workspace_id.eq(ws))
                .filter(m::user_id.eq(user))
                .select((m::id, m::role, m::all_entities))
                .first::<(i64, String, bool)>(c)
                .optional()?
            else {
                return Ok(None);
            };
            let entities = g::table.filter(g::membership_id.eq(id)).select(g::entity_id).load::<i64>(c)?;
            Ok(Some((role, all, entities.into_iter().collect())))
        })
        .await
        .expect("read a seat")
}

/// `user`'s place on the team of `org`: role, clients, "New clients".
async fn place(app: &TestApp, org: i64, user: i64) -> Option<(String, BTreeSet<i64>, bool)> {
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
            let clients = g::table.filter(g::membership_id.eq(id)).select(g::workspace_id).load::<i64>(c)?;
            Ok(Some((role, clients.into_iter().collect(), new_clients)))
        })
        .await
        .expect("read a team place")
}

fn set(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

/// Invites `email` onto the team of `org` and accepts as a new person: their client, and id.
async fn join_team(app: &TestApp, admin: &TestUser, org: i64, email: &str, fields: &[(&str, &str)]) -> (TestUser, i64) {
    let before = app.mails_to(email).len();
    let mut all = vec![("emails", email)];
    all.extend_from_slice(fields);
    let (status, body) = send(admin, &team_invite_path(org), &all).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "inviting {email}: {}", text_of(&body));
    let link = app.invite_link(email, before + 1).await;
    let person = app.accept_as_new_user(&link, &format!("User {email}")).await;
    (person, app.user_id(email).await)
}

/// The items of "what you would lose" on a Configure form.
fn losses(page: &str) -> Vec<String> {
    let Some(at) = page.find("class=\"losses\"") else {
        return Vec::new();
    };
    let list = &page[at..at + page[at..].find("</ul>").unwrap_or(page.len() - at)];
    list.split("<li>").skip(1).map(|li| text_of(&li[..li.find("</li>").unwrap_or(li.len())])).collect()
}

/// Carl, an Accountant of Acme Bakery holding Acme LLC only.
async fn carl(f: &Firm) -> (TestUser, i64) {
    f.client_user("carl@client.test", "Carl Accountant", "accountant", &[f.llc]).await
}

// ---------------------------------------------------------------------------------------
// 1. Invites and permissions grant something
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_invite_that_gives_no_entity_is_refused_next_to_the_list_and_writes_nothing() {
    let f = firm_with_a_client().await;
    let (carl, _) = carl(&f).await;
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;

    // The form's default state (Member, nothing ticked), and Accountant: refused, by an
    // Admin and by an Accountant alike.
    for (who, role) in [(&f.ada, "member"), (&f.ada, "accountant"), (&carl, "member")] {
        let (status, body) = send(who, &invite_path(f.ws), &[("email", "dan@client.test"), ("role", role)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{role}: {}", text_of(&body));
        assert_next_to_list(&body, "entities-error", NO_ENTITY);
        assert_eq!(input_value(&body, "email").as_deref(), Some("dan@client.test"), "the email is kept");
        assert!(body.contains(&format!("name=\"role\" value=\"{role}\" checked")), "the role is kept");
    }
    // With a bad address too: both said at once, the ticks kept once there are some.
    let fields = [("email", "not an address"), ("role", "member")];
    let (status, body) = send(&f.ada, &invite_path(f.ws), &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"email-error\""), "the address is wrong too: {}", text_of(&body));
    assert_next_to_list(&body, "entities-error", NO_ENTITY);
    let llc = f.llc.to_string();
    let (_, body) = send(&f.ada, &invite_path(f.ws), &[("email", "x"), ("role", "member"), ("entity", &llc)]).await;
    assert!(body.contains(&format!("name=\"entity\" value=\"{llc}\" checked")), "a tick is kept");
    assert!(text_by_id(&body, "entities-error").is_none(), "one entity is enough");

    let after = f.app.snapshot().await;
    assert_eq!(before, after, "no invite, no email, no audit event:\n{}", before.diff(&after));
    assert!(f.app.invite_records("dan@client.test").await.is_empty());
    assert_eq!(f.app.outbox_rows_to("dan@client.test").await, 0);

    // An Admin needs no entity; a Member with one, or all, is invited.
    for (email, fields) in [
        ("boss@client.test", vec![("role", "admin")]),
        ("one@client.test", vec![("role", "member"), ("entity", llc.as_str())]),
        ("all@client.test", vec![("role", "accountant"), ("all_entities", "on")]),
    ] {
        let mut all = vec![("email", email)];
        all.extend(fields);
        let (status, body) = send(&f.ada, &invite_path(f.ws), &all).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{email}: {}", text_of(&body));
    }
    assert_eq!(offered(&f.app, "one@client.test").await.1, set(&[f.llc]));
    assert!(offered(&f.app, "all@client.test").await.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn configure_permissions_with_every_box_unticked_is_refused_and_changes_nothing() {
    let f = firm_with_a_client().await;
    let (mia, mia_id) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;
    for role in ["member", "accountant"] {
        let (status, body) = send(&f.ada, &permissions_path(f.ws, mia_id), &[("role", role)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{role}: {}", text_of(&body));
        assert_next_to_list(&body, "entities-error", NO_ENTITY);
        assert!(body.contains(&format!("name=\"role\" value=\"{role}\" checked")), "the role is kept");
        assert!(!body.contains(&format!("name=\"entity\" value=\"{}\" checked", f.llc)), "as unticked as sent");
    }
    let after = f.app.snapshot().await;
    assert_eq!(before, after, "nothing written:\n{}", before.diff(&after));
    assert_eq!(mia.get(&format!("/w/{}/entities/{}", f.ws, f.llc)).await.status(), StatusCode::OK);
    // To Admin, nothing needs ticking.
    let (status, _) = send(&f.ada, &permissions_path(f.ws, mia_id), &[("role", "admin")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(seat(&f.app, f.ws, mia_id).await.map(|s| s.0).as_deref(), Some("admin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_the_editor_cannot_see_stay_and_count() {
    let f = firm_with_a_client().await;
    let (carl, _) = carl(&f).await;
    let (mia, mia_id) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc, f.holdings]).await;
    let (_, nia_id) = f.client_user("nia@client.test", "Nia Member", "member", &[f.llc]).await;
    f.app.outbox_settled().await;

    // Carl unticks the one entity he sees of Mia's: she keeps Acme Holdings, so she still
    // has something, and the change is saved.
    let (status, body) = send(&carl, &permissions_path(f.ws, mia_id), &[("role", "member")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text_of(&body));
    assert_eq!(seat(&f.app, f.ws, mia_id).await, Some(("member".into(), false, set(&[f.holdings]))));
    assert_eq!(mia.get(&format!("/w/{}/entities/{}", f.ws, f.holdings)).await.status(), StatusCode::OK);

    // Nia holds only what Carl sees: unticking it would leave her nothing.
    let before = f.app.snapshot().await;
    let (status, body) = send(&carl, &permissions_path(f.ws, nia_id), &[("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text_of(&body));
    assert_next_to_list(&body, "entities-error", NO_ENTITY);
    assert_eq!(before, f.app.snapshot().await, "nothing written");
    assert_eq!(seat(&f.app, f.ws, nia_id).await, Some(("member".into(), false, set(&[f.llc]))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_with_no_entities_offers_all_entities_or_says_plainly_that_nothing_can_be_given() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Empty Co").await;

    // Ada may give "All entities, current and future", and the form says what it means here.
    let (_, form) = ada.page(&invite_path(ws)).await;
    assert!(form.contains("name=\"all_entities\""), "{}", text_of(&form));
    assert!(!form.contains("name=\"select_all\""), "nothing to select");
    let note = text_by_id(&form, "no-entities").expect("a note on the empty list");
    assert_eq!(
        note,
        "There are no entities yet: \"All entities, current and future\" gives them every entity added later, \
         or invite them as Admin."
    );
    let (status, body) = send(&ada, &invite_path(ws), &[("email", "m@client.test"), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_next_to_list(&body, "entities-error", NO_ENTITY);
    let fields = [("email", "m@client.test"), ("role", "member"), ("all_entities", "on")];
    let (status, _) = send(&ada, &invite_path(ws), &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(offered(&app, "m@client.test").await, (true, set(&[]), set(&[]), false));
    let members = ada.members_page(ws).await;
    assert!(row(&members, "m@client.test").contains("All entities"), "{}", row(&members, "m@client.test"));

    // An Accountant who holds no entity (as an old version could leave her) can give
    // nothing: the form says so plainly, and offers neither a list nor "all".
    let r = ada.invite_to_all_entities(ws, "cleo@client.test", "accountant").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cleo = app.accept_as_new_user(&app.invite_link("cleo@client.test", 1).await, "Cleo Client").await;
    let cleo_id = app.user_id("cleo@client.test").await;
    {
        use portico::db::schema::workspace_memberships as m;
        app.db
            .write(move |c| {
                diesel::update(m::table.filter(m::workspace_id.eq(ws)).filter(m::user_id.eq(cleo_id)))
                    .set(m::all_entities.eq(false))
                    .execute(c)
            })
            .await
            .expect("take her entities");
    }
    let (status, form) = cleo.page(&invite_path(ws)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!form.contains("name=\"all_entities\"") && !form.contains("name=\"entity\""), "{}", text_of(&form));
    assert_eq!(
        text_by_id(&form, "no-entities").as_deref(),
        Some("There are no entities to give access to yet: ask a workspace Admin to give you access to one first.")
    );
    let before = app.snapshot().await;
    let (status, body) = send(&cleo, &invite_path(ws), &[("email", "n@client.test"), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_next_to_list(&body, "entities-error", NO_ENTITY);
    assert_eq!(before, app.snapshot().await, "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_invite_of_a_member_with_no_client_and_no_new_clients_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    ada.add_client(org, "Beta Books").await;
    app.outbox_settled().await;
    let before = app.snapshot().await;

    let typed = "pat@firm.test, quinn@firm.test";
    let (status, body) = send(&ada, &team_invite_path(org), &[("emails", typed), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text_of(&body));
    assert_next_to_list(&body, "clients-error", NO_CLIENT);
    assert!(body.contains(&format!(">{typed}</textarea>")), "the addresses are kept: {}", text_of(&body));
    assert!(body.contains("name=\"role\" value=\"member\" checked"), "the role is kept");
    // With no address either: both said at once.
    let (status, body) = send(&ada, &team_invite_path(org), &[("emails", ""), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&body).contains("Enter at least one email address."), "{}", text_of(&body));
    assert_next_to_list(&body, "clients-error", NO_CLIENT);

    let after = app.snapshot().await;
    assert_eq!(before, after, "no invite, no email, no audit event:\n{}", before.diff(&after));
    assert_eq!(app.outbox_rows_to("pat@firm.test").await, 0);

    // A client, or "New clients", or a Manager (who sees every client) are invited.
    let acme_s = acme.to_string();
    for (email, fields) in [
        ("one@firm.test", vec![("role", "member"), ("client", acme_s.as_str())]),
        ("later@firm.test", vec![("role", "member"), ("new_clients", "on")]),
        ("boss@firm.test", vec![("role", "manager")]),
    ] {
        let mut all = vec![("emails", email)];
        all.extend(fields);
        let (status, body) = send(&ada, &team_invite_path(org), &all).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{email}: {}", text_of(&body));
    }
    assert_eq!(offered(&app, "one@firm.test").await, (false, set(&[]), set(&[acme]), false));
    assert_eq!(offered(&app, "later@firm.test").await, (false, set(&[]), set(&[]), true));
}

#[tokio::test(flavor = "multi_thread")]
async fn team_configure_permissions_to_nothing_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let acme_s = acme.to_string();
    let (mia, mia_id) = join_team(&app, &ada, org, "mia@firm.test", &[("role", "member"), ("client", &acme_s)]).await;
    let (_, gus_id) = join_team(&app, &ada, org, "gus@firm.test", &[("role", "manager")]).await;
    app.outbox_settled().await;
    let before = app.snapshot().await;
    for who in [mia_id, gus_id] {
        let (status, body) = send(&ada, &team_permissions_path(org, who), &[("role", "member")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text_of(&body));
        assert_next_to_list(&body, "clients-error", NO_CLIENT);
        assert!(body.contains("name=\"role\" value=\"member\" checked"), "the role is kept");
    }
    let after = app.snapshot().await;
    assert_eq!(before, after, "nothing written:\n{}", before.diff(&after));
    assert_eq!(mia.get(&format!("/w/{acme}/entities")).await.status(), StatusCode::OK);
    assert_eq!(place(&app, org, gus_id).await.map(|p| p.0).as_deref(), Some("manager"));
    // "New clients" alone is something.
    let (status, _) =
        send(&ada, &team_permissions_path(org, gus_id), &[("role", "member"), ("new_clients", "on")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(place(&app, org, gus_id).await, Some(("member".into(), set(&[]), true)));
}

// ---------------------------------------------------------------------------------------
// 2. "Select all", without JavaScript
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn select_all_without_javascript_gives_exactly_the_entities_the_form_lists() {
    let f = firm_with_a_client().await;
    let trust = f.ada.add_entity(f.ws, "Acme Trust").await;
    let (carl, _) = carl(&f).await;
    let (_, mia_id) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;

    // The form: "Select all", with a hint that it is not "All entities, current and future".
    let (_, form) = f.ada.page(&invite_path(f.ws)).await;
    assert!(form.contains("name=\"select_all\" value=\"on\""), "{}", text_of(&form));
    assert!(form.contains("<span>Select all</span>"), "labelled Select all");
    assert_eq!(
        text_by_id(&form, "select-all-hint").as_deref(),
        Some(
            "\"Select all\" ticks the 3 entities listed here, not entities added later: for those too, choose \
             \"All entities, current and future\"."
        )
    );
    // Carl lists (and may select) only what he holds.
    let (_, form) = carl.page(&invite_path(f.ws)).await;
    assert_eq!(form.matches("name=\"entity\"").count(), 1, "{}", text_of(&form));
    assert_eq!(
        text_by_id(&form, "select-all-hint").as_deref(),
        Some("\"Select all\" ticks the 1 entity listed here, not entities added later.")
    );

    // Sent with nothing else ticked: every listed entity, and only those.
    let on = [("select_all", "on")];
    for (who, email, want) in
        [(&f.ada, "dan@client.test", vec![f.llc, f.holdings, trust]), (&carl, "eve@client.test", vec![f.llc])]
    {
        let mut fields = vec![("email", email), ("role", "member")];
        fields.extend(on);
        let (status, body) = send(who, &invite_path(f.ws), &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{email}: {}", text_of(&body));
        assert_eq!(offered(&f.app, email).await, (false, set(&want), set(&[]), false), "{email}");
    }
    // Configure: the same.
    let (status, _) =
        send(&f.ada, &permissions_path(f.ws, mia_id), &[("role", "accountant"), ("select_all", "on")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(seat(&f.app, f.ws, mia_id).await, Some(("accountant".into(), false, set(&[f.llc, f.holdings, trust]))));

    // Not "all, current and future": an entity added later is nobody's of those.
    let later = f.ada.add_entity(f.ws, "Acme Later").await;
    assert!(!offered(&f.app, "dan@client.test").await.1.contains(&later));
    assert!(!seat(&f.app, f.ws, mia_id).await.unwrap().2.contains(&later));

    // With "All entities, current and future" too: the form asks for one or the other.
    let before = f.app.snapshot().await;
    let fields = [("email", "x@client.test"), ("role", "member"), ("select_all", "on"), ("all_entities", "on")];
    let (status, body) = send(&f.ada, &invite_path(f.ws), &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&body).contains("not both"), "{}", text_of(&body));
    // A forged id beside "Select all" is not quietly dropped: refused, as without it.
    let holdings = f.holdings.to_string();
    let fields = [("email", "y@client.test"), ("role", "member"), ("select_all", "on"), ("entity", holdings.as_str())];
    let (status, _) = send(&carl, &invite_path(f.ws), &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(before, f.app.snapshot().await, "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn select_all_on_the_team_forms_gives_every_current_client_and_not_new_ones() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    let beta = ada.add_client(org, "Beta Books").await;
    let acme_s = acme.to_string();
    let (mia, mia_id) = join_team(&app, &ada, org, "mia@firm.test", &[("role", "member"), ("client", &acme_s)]).await;

    let (_, form) = ada.page(&team_invite_path(org)).await;
    assert!(form.contains("name=\"select_all\" value=\"on\"") && form.contains("<span>Select all</span>"));
    assert_eq!(
        text_by_id(&form, "clients-hint").as_deref(),
        Some(
            "\"New clients\": also every client added from now on. \"Select all\" ticks the 2 clients listed \
             here, not clients added later."
        )
    );
    let fields = [("emails", "pat@firm.test"), ("role", "member"), ("select_all", "on")];
    let (status, body) = send(&ada, &team_invite_path(org), &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text_of(&body));
    assert_eq!(offered(&app, "pat@firm.test").await, (false, set(&[]), set(&[acme, beta]), false));

    let (status, _) =
        send(&ada, &team_permissions_path(org, mia_id), &[("role", "member"), ("select_all", "on")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(place(&app, org, mia_id).await, Some(("member".into(), set(&[acme, beta]), false)));
    assert_eq!(mia.get(&format!("/w/{beta}/entities")).await.status(), StatusCode::OK);
    let cedar = ada.add_client(org, "Cedar Cafe").await;
    assert_eq!(mia.get(&format!("/w/{cedar}/entities")).await.status(), StatusCode::NOT_FOUND, "not a new client");
    assert!(!offered(&app, "pat@firm.test").await.2.contains(&cedar));
}

// ---------------------------------------------------------------------------------------
// 3. Your own access
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn lowering_your_own_workspace_access_says_what_you_lose_and_saves_only_once_confirmed() {
    let f = firm_with_a_client().await;
    let (cleo, cleo_id) = f.client_user("cleo@client.test", "Cleo Client", "admin", &[]).await;
    let path = permissions_path(f.ws, cleo_id);

    // Her own form says, before she saves, that she will be told.
    let (status, form) = cleo.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&form).contains(OWN_NOTE), "{}", text_of(&form));
    let (_, mia_id) = f.client_user("mia@client.test", "Mia Member", "member", &[f.llc]).await;
    let (_, not_hers) = cleo.page(&permissions_path(f.ws, mia_id)).await;
    assert!(!text_of(&not_hers).contains("This is you"), "only on her own");

    // Saving what she has already: saved at once, nothing to lose.
    let (status, _) = send(&cleo, &path, &[("role", "admin")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Member of Acme LLC: not saved; the form lists exactly what she would lose.
    f.app.outbox_settled().await;
    let before = f.app.snapshot().await;
    let llc = f.llc.to_string();
    let fields = [("role", "member"), ("entity", llc.as_str())];
    let (status, page) = send(&cleo, &path, &fields).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&page));
    assert_eq!(
        losses(&page),
        [
            "inviting and managing Admins",
            "the Members page",
            "inviting and managing Accountants and Members",
            "the Activity page",
            "requiring two-factor authentication here",
            "adding entities",
            "adding transactions",
            "Acme Holdings",
            "entities added from now on",
        ]
    );
    let text = text_of(&page);
    assert!(text.contains("Nothing is saved yet."), "{text}");
    assert!(!text.contains(OWN_NOTE), "the list replaces the note");
    assert!(
        page.contains(&format!("<a class=\"btn\" href=\"/w/{}/settings/members\" autofocus>Keep my access</a>", f.ws)),
        "Keep my access has the focus"
    );
    assert!(page.contains("name=\"confirm_loss\"") && text.contains("Save and lose this access"));
    assert!(!text.contains("Save permissions"));
    assert!(page.contains("name=\"role\" value=\"member\" checked"), "her choice is kept");
    assert!(page.contains(&format!("name=\"entity\" value=\"{llc}\" checked")));
    let after = f.app.snapshot().await;
    assert_eq!(before, after, "nothing written before she confirms:\n{}", before.diff(&after));
    assert_eq!(seat(&f.app, f.ws, cleo_id).await.unwrap().0, "admin");
    let key = confirm_loss_in(&page).expect("the confirmation");

    // The confirmation is for that change only: another change is asked about again.
    let holdings = f.holdings.to_string();
    let other = [("role", "member"), ("entity", holdings.as_str()), ("confirm_loss", key.as_str())];
    let (status, page) = send(&cleo, &path, &other).await;
    assert_eq!(status, StatusCode::OK);
    let lost = losses(&page);
    assert!(lost.contains(&"Acme LLC".to_string()) && !lost.contains(&"Acme Holdings".to_string()), "{lost:?}");
    assert_eq!(before, f.app.snapshot().await, "still nothing written");

    // Confirmed: saved, and she lands where she still may go.
    let confirmed = [("role", "member"), ("entity", llc.as_str()), ("confirm_loss", key.as_str())];
    let (status, to) = send(&cleo, &path, &confirmed).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/w/{}/entities", f.ws));
    assert_eq!(seat(&f.app, f.ws, cleo_id).await, Some(("member".into(), false, set(&[f.llc]))));
    assert_eq!(cleo.get(&f.members()).await.status(), StatusCode::FORBIDDEN);
    let changed = before.diff(&f.app.snapshot().await);
    assert!(changed.lines().any(|l| l.starts_with("+ audit_events") && l.contains("cleo@client.test")), "{changed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lowering_your_own_firm_access_says_what_you_lose_and_the_last_admin_rule_comes_first() {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ada_id = app.user_id("ada@firm.test").await;
    let acme = ada.add_client(org, "Acme Bakery").await;
    ada.add_client(org, "Beta Books").await;
    let acme_s = acme.to_string();

    // The only Admin: the firm keeps one, said at once (nothing to confirm).
    let before = app.snapshot().await;
    let (status, page) = send(&ada, &team_permissions_path(org, ada_id), &[("role", "manager")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(text_of(&page).contains("The firm must keep at least one Admin."), "{}", text_of(&page));
    assert!(!page.contains("name=\"confirm_loss\""));
    assert_eq!(before, app.snapshot().await);

    // With a second Admin, Ada → Manager: told first.
    join_team(&app, &ada, org, "bo@firm.test", &[("role", "admin")]).await;
    let (_, form) = ada.page(&team_permissions_path(org, ada_id)).await;
    assert!(text_of(&form).contains(OWN_NOTE));
    app.outbox_settled().await;
    let before = app.snapshot().await;
    let (status, page) = send(&ada, &team_permissions_path(org, ada_id), &[("role", "manager")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        losses(&page),
        [
            "inviting and managing Admins",
            "billing",
            "requiring two-factor authentication for the firm",
            "the Email delivery page"
        ]
    );
    assert!(page.contains(&format!("<a class=\"btn\" href=\"/orgs/{org}/team\" autofocus>Keep my access</a>")));
    assert_eq!(before, app.snapshot().await, "nothing written");

    // Gina, a Manager, to a Member of Acme: everything it takes, in words.
    let (gina, gina_id) = join_team(&app, &ada, org, "gina@firm.test", &[("role", "manager")]).await;
    app.outbox_settled().await;
    let before = app.snapshot().await;
    let fields = [("role", "member"), ("client", acme_s.as_str())];
    let (status, page) = send(&gina, &team_permissions_path(org, gina_id), &fields).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&page));
    assert_eq!(
        losses(&page),
        [
            "the Team page",
            "inviting and managing Managers and Members",
            "adding and deleting clients",
            "the firm's access report",
            "being an Admin of every client's workspace",
            "every client except the ones ticked",
            "clients added from now on",
        ]
    );
    assert_eq!(before, app.snapshot().await, "nothing written");
    assert_eq!(place(&app, org, gina_id).await.unwrap().0, "manager");
    let key = confirm_loss_in(&page).expect("the confirmation");
    let confirmed = [("role", "member"), ("client", acme_s.as_str()), ("confirm_loss", key.as_str())];
    let (status, to) = send(&gina, &team_permissions_path(org, gina_id), &confirmed).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/orgs/{org}/clients"), "not the Team page she no longer opens");
    assert_eq!(place(&app, org, gina_id).await, Some(("member".into(), set(&[acme]), false)));
    assert_eq!(gina.get(&format!("/orgs/{org}/team")).await.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------
// 4. "Select all" with JavaScript
// ---------------------------------------------------------------------------------------

/// Which boxes of the invite form are ticked: [select all, all entities, each entity…].
const TICKS: &str = "var q = function (s) { return Array.from(document.querySelectorAll(s)); }; \
    return q('input[name=\"select_all\"]').concat(q('input[name=\"all_entities\"]'), q('input[name=\"entity\"]'))\
    .map(function (b) { return (b.checked ? 'x' : '-') + (b.disabled ? 'd' : ''); }).join(' ');";

#[tokio::test(flavor = "multi_thread")]
async fn select_all_with_javascript_ticks_every_box_and_unticking_one_unticks_it() {
    if !installed_or_skip("select_all") {
        return;
    }
    let f = firm_with_a_client().await;
    let ada = Browser::start("select_all").await;
    ada.goto(&format!("{}/login", f.app.base)).await;
    ada.fill("Email", "ada@firm.test").await;
    ada.fill("Password", PASSWORD).await;
    ada.click_text("Log in").await;
    ada.wait_for_path("signed in", |p| !p.starts_with("/login")).await;
    ada.goto(&format!("{}{}", f.app.base, invite_path(f.ws))).await;
    ada.assert_heading("Invite someone to Acme Bakery").await;
    // Order: Select all, All entities, Acme Holdings, Acme LLC (by name). The form starts as
    // a Member with nothing ticked.
    ada.wait_for_js("nothing ticked", TICKS, serde_json::json!("- - - -")).await;
    ada.check("Select all").await;
    ada.wait_for_js("Select all ticks every entity", TICKS, serde_json::json!("x - x x")).await;
    ada.screenshot("select-all").await;
    ada.click_text("Acme LLC").await;
    ada.wait_for_js("unticking one unticks Select all", TICKS, serde_json::json!("- - x -")).await;
    ada.click_text("Acme LLC").await;
    ada.wait_for_js("ticking the last one ticks it again", TICKS, serde_json::json!("x - x x")).await;
    ada.click_text("Select all").await;
    ada.wait_for_js("unticking Select all unticks them all", TICKS, serde_json::json!("- - - -")).await;
    // "All entities, current and future" is another choice: each unticks the other.
    ada.check("All entities, current and future").await;
    ada.check("Select all").await;
    ada.wait_for_js("Select all unticks All entities", TICKS, serde_json::json!("x - x x")).await;
    ada.check("All entities, current and future").await;
    ada.wait_for_js("All entities unticks Select all", TICKS, serde_json::json!("- x - -")).await;
    // Admin: every box ticked and disabled; back to Member: as it was.
    ada.check("Select all").await;
    ada.choose_role("Admin").await;
    ada.wait_for_js("Admin holds all", TICKS, serde_json::json!("xd xd xd xd")).await;
    ada.choose_role("Member").await;
    ada.wait_for_js("Member again, as it was", TICKS, serde_json::json!("x - x x")).await;

    ada.fill("Email", "dan@client.test").await;
    ada.click_text("Send invite").await;
    ada.assert_path(&f.members()).await;
    ada.assert_row("dan@client.test", &["Member", "Acme Holdings, Acme LLC"]).await;
    assert_eq!(offered(&f.app, "dan@client.test").await, (false, set(&[f.llc, f.holdings]), set(&[]), false));
    ada.close().await;
}
