//! The help page, verbatim, in headless Chromium: an accountant signs up, adds a client
//! and its entities, invites the client from Settings → Members; the client accepts in a
//! second browser; then the ⋯ actions. Screenshots of each page go to target/screenshots/.

use fantoccini::key::Key;
use fantoccini::Locator;

use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{id_after, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn invite_your_clients_as_the_help_page_says() {
    if !installed_or_skip("invite_your_clients") {
        return;
    }
    let ada = Browser::start("invite_your_clients").await;
    let cleo = Browser::start("invite_your_clients").await;
    let app = spawn_app().await;

    // Foundation: sign up, add a client, two entities, a transaction.
    ada.goto(&format!("{}/signup", app.base)).await;
    ada.screenshot("sign-up").await;
    ada.fill("Your name", "Ada Accountant").await;
    ada.fill("Email", "ada@firm.test").await;
    ada.fill("Password", "correct horse battery").await;
    ada.fill("Firm name", "Ada & Co").await;
    ada.click_text("Sign up").await;
    let clients =
        ada.wait_for_path("the new firm's Clients page", |p| p.starts_with("/orgs/") && p.ends_with("/clients")).await;
    ada.assert_heading("Clients").await;
    ada.assert_text("Team").await;
    ada.screenshot("clients-empty").await;
    ada.click_text("Log out").await;
    ada.assert_path("/login").await;
    ada.assert_heading("Log in").await;
    ada.fill("Email", "ada@firm.test").await;
    ada.fill("Password", "correct horse battery").await;
    ada.click_text("Log in").await;
    ada.assert_path(&clients).await;
    ada.click_text("Add client").await;
    ada.assert_heading("Add client").await;
    ada.fill("Client name", "Acme Bakery").await;
    ada.screenshot("add-client").await;
    ada.click_text("Add client").await;
    let workspace = ada.wait_for_path("the new client's workspace", |p| p.starts_with("/w/")).await;
    let ws = id_after(&workspace, "/w/");
    ada.assert_heading("Entities").await;
    ada.assert_text("Settings").await;
    for name in ["Acme LLC", "Acme Holdings"] {
        ada.click_text("Entities").await;
        ada.click_text("Add entity").await;
        ada.fill("Entity name", name).await;
        ada.click_text("Add entity").await;
        ada.assert_text(&format!("Entity {name} added.")).await;
        ada.assert_heading(name).await;
    }
    ada.fill("Description", "Flour delivery").await;
    ada.fill("Amount", "-120.50").await;
    ada.click_text("Add transaction").await;
    ada.assert_row("Flour delivery", &["-120.50"]).await;
    ada.screenshot("books").await;

    // The help page: Invite a Client.
    // 1. Open the client's workspace.
    ada.goto(&app.base).await;
    ada.click_text("Acme Bakery").await;
    ada.assert_path(&format!("/w/{ws}/entities")).await;
    ada.screenshot("workspace").await;
    // 2. Click the profile icon or go to Settings → Members.
    let members = format!("/w/{ws}/settings/members");
    ada.click_text("Settings").await;
    ada.assert_path(&members).await;
    ada.assert_heading("Members").await;
    // 3. Click Add team.
    ada.click_text("Add team").await;
    ada.assert_heading("Invite someone to Acme Bakery").await;
    // 4. Enter the client's email address.
    ada.fill("Email", "cleo@client.test").await;
    // 5. Select the appropriate role.
    ada.choose_role("Member").await;
    // 6. Choose which entities they should access.
    ada.check("Acme LLC").await;
    ada.screenshot("add-team-form").await;
    // 7. Click Send invite.
    ada.click_text("Send invite").await;
    ada.assert_text("Invite to cleo@client.test queued").await;
    ada.assert_row("cleo@client.test", &["Member", "Acme LLC", "Invite pending"]).await;
    ada.screenshot("members-with-invite").await;

    // The client receives an email with a link to access their workspace.
    let link = app.invite_link("cleo@client.test", 1).await;
    cleo.goto(&link).await;
    cleo.assert_heading("You're invited").await;
    cleo.assert_text("Ada Accountant").await;
    cleo.assert_text("Acme Bakery").await;
    cleo.screenshot("invite-landing").await;
    cleo.fill("Your name", "Cleo Client").await;
    cleo.fill("Password", "cleo's long password").await;
    cleo.click_text("Accept invite").await;
    cleo.assert_path(&format!("/w/{ws}/entities")).await;
    cleo.assert_heading("Entities").await;
    cleo.assert_row("Acme LLC", &[]).await;
    let text = cleo.text().await;
    assert!(!text.contains("Acme Holdings"), "the client sees only the granted entity: {text}");
    assert!(!text.contains("Clients"), "a client has no firm sidebar: {text}");
    cleo.screenshot("client-workspace").await;
    let cleo_id = app.user_id("cleo@client.test").await;
    assert_eq!(app.membership_rows(ws, cleo_id).await, 1);

    // Update Permissions or Remove Access: Settings → Members → ⋯ next to the client's name.
    ada.goto(&app.base).await;
    ada.click_text("Acme Bakery").await;
    ada.click_text("Settings").await;
    ada.assert_path(&members).await;
    ada.assert_row("cleo@client.test", &["Cleo Client", "Member", "Acme LLC", "Active"]).await;
    // The ⋯ menu from the keyboard: Enter opens it on its first item, arrows move, Escape
    // closes it and gives focus back to the button.
    keyboard_menu(&ada, "Actions for Cleo Client", &["Configure permissions", "Remove from workspace"]).await;
    ada.open_menu("Cleo Client").await;
    ada.screenshot("member-menu").await;
    ada.click_text("Configure permissions").await;
    ada.assert_heading("Configure permissions").await;
    ada.check("Acme Holdings").await;
    ada.screenshot("configure-permissions").await;
    ada.click_text("Save permissions").await;
    ada.assert_text("Permissions of Cleo Client in Acme Bakery updated").await;
    cleo.goto(&app.base).await;
    cleo.assert_text("Acme Holdings").await;

    // How do I resend an invite? ⋯ → Resend invite; then Copy invite link and Cancel invite.
    ada.click_text("Add team").await;
    ada.fill("Email", "owen@client.test").await;
    ada.choose_role("Accountant").await;
    ada.check("Acme LLC").await;
    ada.click_text("Send invite").await;
    ada.assert_text("Invite to owen@client.test queued").await;
    let owen_link = app.invite_link("owen@client.test", 1).await;
    ada.open_menu("owen@client.test").await;
    ada.screenshot("invite-menu").await;
    ada.click_text("Copy invite link").await;
    // With JavaScript the link is copied in place: the menu says so and the page stays.
    // (Without it the item opens the link's own page, which members.rs checks.)
    ada.assert_text("Invite link copied").await;
    ada.assert_path(&members).await;
    ada.screenshot("invite-link-copied").await;
    assert_eq!(
        ada.clipboard().await,
        crate::support::copied(&owen_link),
        "the clipboard holds the link of the email, without its proof"
    );
    ada.open_menu("owen@client.test").await;
    ada.click_text("Cancel invite").await;
    ada.assert_heading("Cancel the invite to owen@client.test?").await;
    ada.screenshot("cancel-invite").await;
    ada.click_text("Cancel invite").await;
    ada.assert_text("Invite to owen@client.test for Acme Bakery cancelled: its link no longer works").await;
    ada.assert_path(&members).await;
    ada.assert_no_row("owen@client.test").await;
    assert_eq!(app.invite_record("owen@client.test").await.state, "cancelled");

    ada.open_menu("Cleo Client").await;
    ada.click_text("Remove from workspace").await;
    ada.assert_heading("Remove Cleo Client from Acme Bakery?").await;
    ada.screenshot("remove-confirmation").await;
    ada.click_text("Remove from workspace").await;
    ada.assert_text("Cleo Client's access to Acme Bakery removed").await;
    ada.assert_path(&members).await;
    ada.assert_no_row("cleo@client.test").await;
    ada.screenshot("members-after-removal").await;
    assert_eq!(app.membership_rows(ws, cleo_id).await, 0, "Cleo's membership is gone");
    // Removed from her only workspace, her session has ended: back to "Log in".
    cleo.goto(&format!("{}/", app.base)).await;
    cleo.assert_heading("Log in").await;
    cleo.fill("Email", "cleo@client.test").await;
    cleo.fill("Password", "cleo's long password").await;
    cleo.click_text("Log in").await;
    cleo.assert_text("You don't have access to any workspace yet").await;

    ada.click_text("Activity").await;
    ada.assert_path(&format!("/w/{ws}/settings/activity")).await;
    ada.assert_heading("Activity").await;
    ada.assert_row("Ada Accountant removed cleo@client.test", &[]).await;
    ada.assert_row("Ada Accountant cancelled the invite to owen@client.test", &[]).await;
    ada.screenshot("activity").await;

    // The same pages at phone width.
    ada.client.set_window_size(360, 780).await.expect("resize");
    ada.click_text("Members").await;
    ada.assert_path(&members).await;
    ada.screenshot("members-phone").await;

    cleo.close().await;
    ada.close().await;
}

/// The Team page, steps 1–5 of its issue: bulk staff invites with client access and
/// "New clients", acceptance, the ⋯ actions, and new clients reaching "New clients" staff.
#[tokio::test(flavor = "multi_thread")]
async fn invite_your_team() {
    if !installed_or_skip("invite_your_team") {
        return;
    }
    let ada = Browser::start("invite_your_team").await;
    let bo = Browser::start("invite_your_team").await;
    let app = spawn_app().await;
    ada.goto(&format!("{}/signup", app.base)).await;
    ada.fill("Your name", "Ada Accountant").await;
    ada.fill("Email", "ada@firm.test").await;
    ada.fill("Password", "correct horse battery").await;
    ada.fill("Firm name", "Ada & Co").await;
    ada.click_text("Sign up").await;
    let clients =
        ada.wait_for_path("the new firm's Clients page", |p| p.starts_with("/orgs/") && p.ends_with("/clients")).await;
    let org = id_after(&clients, "/orgs/");
    for client in ["Acme Bakery", "Birch Dental", "Cedar Farms"] {
        ada.click_text("Clients").await;
        ada.click_text("Add client").await;
        ada.fill("Client name", client).await;
        ada.click_text("Add client").await;
        ada.assert_heading("Entities").await;
    }
    ada.click_text("Clients").await;
    ada.assert_path(&clients).await;
    ada.screenshot("clients").await;

    // 1–2. Team → Add Team → Emails, role, clients + New clients → Send invites.
    let team = format!("/orgs/{org}/team");
    ada.click_text("Team").await;
    ada.assert_path(&team).await;
    ada.assert_heading("Team").await;
    ada.assert_row("ada@firm.test", &["Ada Accountant", "(you)", "Admin", "All clients", "Active"]).await;
    ada.click_text("Add Team").await;
    ada.assert_heading("Invite staff to Ada & Co").await;
    ada.fill("Emails", "bo@firm.test, Cy@Firm.test, not-an-address").await;
    ada.choose_role("Member").await;
    ada.check("Acme Bakery").await;
    ada.check("New clients").await;
    ada.screenshot("add-team-form").await;
    ada.click_text("Send invites").await;
    ada.assert_text("not-an-address: not a valid address").await;
    ada.screenshot("add-team-report").await;
    ada.click_text("Team").await;
    ada.assert_path(&team).await;
    for email in ["bo@firm.test", "cy@firm.test"] {
        ada.assert_row(email, &["Member", "Acme Bakery · New clients", "Invite pending"]).await;
    }
    ada.screenshot("team-with-invites").await;
    ada.click_text("Pending invites").await;
    ada.assert_path(&format!("/orgs/{org}/invites")).await;
    ada.assert_heading("Pending invites").await;
    ada.assert_row("cy@firm.test", &["Team", "Member", "Invite pending"]).await;
    ada.screenshot("pending-invites").await;

    // 3. Bo accepts as a new user and lands on Clients, with exactly the granted client.
    let link = app.invite_link("bo@firm.test", 1).await;
    bo.goto(&link).await;
    bo.assert_text("join the team of").await;
    bo.screenshot("team-invite-landing").await;
    bo.fill("Your name", "Bo Bookkeeper").await;
    bo.fill("Password", "bo's long password").await;
    bo.click_text("Accept invite").await;
    bo.assert_path(&clients).await;
    bo.assert_heading("Clients").await;
    let rows = bo.rows().await;
    assert!(rows.len() == 1 && rows[0].contains("Acme Bakery"), "Bo sees exactly the granted client: {rows:?}");
    bo.screenshot("staff-clients").await;

    // 5. A new client reaches staff with "New clients" on at once.
    ada.click_text("Clients").await;
    ada.click_text("Add client").await;
    ada.fill("Client name", "Dune Realty").await;
    ada.click_text("Add client").await;
    ada.assert_heading("Entities").await;
    bo.goto(&app.base).await;
    bo.assert_row("Dune Realty", &[]).await;

    // 4. ⋯ on a pending invite, then on a team member.
    let cy = app.invite_record("cy@firm.test").await.id;
    ada.click_text("Team").await;
    ada.assert_path(&team).await;
    ada.open_menu("cy@firm.test").await;
    ada.screenshot("team-invite-menu").await;
    ada.click_text("Resend invite").await;
    ada.assert_text("An invite was sent to cy@firm.test less than a minute ago. Try again in a minute.").await;
    assert_eq!(app.outbox_of(cy).await.len(), 1, "no second email to cy@firm.test");
    ada.open_menu("cy@firm.test").await;
    ada.click_text("Cancel invite").await;
    ada.assert_heading("Cancel the invite to cy@firm.test?").await;
    ada.click_text("Cancel invite").await;
    ada.assert_text("Invite to cy@firm.test to join Ada & Co cancelled: its link no longer works").await;
    ada.assert_path(&team).await;
    ada.assert_no_row("cy@firm.test").await;
    assert_eq!(app.invite_record("cy@firm.test").await.state, "cancelled");

    ada.open_menu("Bo Bookkeeper").await;
    ada.click_text("Configure permissions").await;
    ada.check("Birch Dental").await;
    ada.screenshot("team-configure").await;
    ada.click_text("Save permissions").await;
    ada.assert_text("Permissions of Bo Bookkeeper in Ada & Co updated").await;
    bo.goto(&app.base).await;
    bo.assert_text("Birch Dental").await;

    // Firm staff inside a client: Bo appears on the client's Members page as a firm Member
    // with a workspace role of his own (Accountant, all entities, until someone changes it);
    // Ada as the firm's Admin, managed on the Team page, with no ⋯ menu for anyone to lower her.
    ada.click_text("Clients").await;
    ada.click_text("Acme Bakery").await;
    ada.click_text("Settings").await;
    ada.assert_heading("Members").await;
    ada.assert_row("bo@firm.test", &["Bo Bookkeeper", "Accountant", "All entities", "Firm Member"]).await;
    ada.assert_row("ada@firm.test", &["Admin", "Firm Admin", "managed on the Team page"]).await;
    ada.screenshot("members-with-staff").await;
    let members = ada.path().await;
    bo.goto(&format!("{}{members}", app.base)).await;
    bo.assert_heading("Members").await;
    bo.assert_row("ada@firm.test", &["Firm Admin", "managed on the Team page"]).await;
    // No ⋯ menu on Ada's row: a firm Member has no way to lower the firm's Admin in a client.
    bo.wait_for_js(
        "Ada's row without a ⋯ menu",
        "return Array.from(document.querySelectorAll('tbody tr')).filter(function (r) { \
           return r.innerText.indexOf('ada@firm.test') >= 0 && r.querySelector('summary.menu-btn'); }).length;",
        serde_json::json!(0),
    )
    .await;

    ada.click_text("Team").await;
    ada.assert_path(&team).await;
    ada.open_menu("Bo Bookkeeper").await;
    ada.click_text("Remove from organization").await;
    ada.assert_heading("Remove Bo Bookkeeper from Ada & Co?").await;
    ada.screenshot("team-remove").await;
    ada.click_text("Remove from organization").await;
    ada.assert_text("Bo Bookkeeper removed from Ada & Co").await;
    ada.assert_path(&team).await;
    ada.assert_no_row("bo@firm.test").await;
    let bo_id = app.user_id("bo@firm.test").await;
    assert_eq!(app.org_role(org, bo_id).await, None, "Bo is off the team");
    // Off the team and in no workspace, his session has ended: back to "Log in".
    bo.goto(&app.base).await;
    bo.assert_heading("Log in").await;
    bo.fill("Email", "bo@firm.test").await;
    bo.fill("Password", "bo's long password").await;
    bo.click_text("Log in").await;
    bo.assert_text("You don't have access to any workspace yet").await;

    bo.close().await;
    ada.close().await;
}

/// Opens the ⋯ menu labelled `label` with the keyboard and walks its items.
async fn keyboard_menu(b: &Browser, label: &str, items: &[&str]) {
    let summary =
        b.client.find(Locator::Css(&format!("summary[aria-label=\"{label}\"]"))).await.expect("the menu button");
    b.client.execute("arguments[0].focus()", vec![serde_json::to_value(&summary).unwrap()]).await.expect("focus");
    let focused = "var a = document.activeElement; return a ? a.innerText.trim() : '';";
    summary.send_keys(&char::from(Key::Enter).to_string()).await.expect("Enter");
    b.wait_for_js("Enter opens the menu on its first item", focused, serde_json::json!(items[0])).await;
    for item in &items[1..] {
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&char::from(Key::Down).to_string())
            .await
            .expect("ArrowDown");
        b.wait_for_js("ArrowDown moves to the next item", focused, serde_json::json!(item)).await;
    }
    b.client.active_element().await.unwrap().send_keys(&char::from(Key::Down).to_string()).await.expect("ArrowDown");
    b.wait_for_js("the arrows wrap around", focused, serde_json::json!(items[0])).await;
    b.client.active_element().await.unwrap().send_keys(&char::from(Key::Escape).to_string()).await.expect("Escape");
    b.wait_for_js(
        "Escape closes the menu and focus returns to the ⋯ button",
        &format!(
            "var s = document.querySelector('summary[aria-label=\"{label}\"]'); \
             return [s.parentElement.open, document.activeElement === s];"
        ),
        serde_json::json!([false, true]),
    )
    .await;
}

/// Access over time in a browser: an Admin gives a client's person an end date in Configure
/// permissions, sees it on the Members page, and downloads the access report.
#[tokio::test(flavor = "multi_thread")]
async fn an_end_date_set_in_the_browser_and_the_access_report_downloaded() {
    if !installed_or_skip("access_over_time") {
        return;
    }
    let downloads = tempfile::tempdir().expect("a downloads folder");
    let f = crate::support::firm_with_a_client().await;
    let (_, bob) = f.client_user("bob@client.test", "Bob Booker", "member", &[f.llc]).await;
    let ends = (portico::clock::today() + chrono::Duration::days(45)).format("%Y-%m-%d").to_string();
    let ends_words = (portico::clock::today() + chrono::Duration::days(45)).format("%-d %b %Y").to_string();

    let ada = Browser::start_with_downloads("access_over_time", downloads.path()).await;
    ada.goto(&format!("{}/login", f.app.base)).await;
    ada.fill("Email", "ada@firm.test").await;
    ada.fill("Password", crate::support::PASSWORD).await;
    ada.click_text("Log in").await;
    ada.wait_for_path("signed in", |p| p != "/login").await;
    ada.goto(&format!("{}/w/{}/settings/members", f.app.base, f.ws)).await;
    ada.open_menu("Bob Booker").await;
    ada.click_text("Configure permissions").await;
    ada.assert_path(&format!("/w/{}/settings/members/{bob}/permissions", f.ws)).await;
    ada.set_value("Access ends (optional)", &ends).await;
    ada.screenshot("configure-end-date").await;
    ada.click_text("Save permissions").await;
    ada.assert_path(&format!("/w/{}/settings/members", f.ws)).await;
    ada.assert_row("bob@client.test", &[&format!("until {ends_words}")]).await;
    ada.screenshot("members-until").await;
    ada.open_menu("Bob Booker").await;
    ada.click_text("Extend access").await;
    ada.assert_heading("Extend Bob Booker's access").await;
    ada.screenshot("extend").await;
    ada.click_text("Extend").await;
    let later = (portico::clock::today() + chrono::Duration::days(75)).format("%-d %b %Y").to_string();
    ada.assert_row("bob@client.test", &[&format!("until {later}")]).await;

    // The client's Access report, then the firm's (the sidebar's) → Download CSV: the file
    // lands in the downloads folder.
    ada.goto(&format!("{}/w/{}/settings/access-report", f.app.base, f.ws)).await;
    ada.assert_row("bob@client.test", &["Acme LLC", "Member", &later]).await;
    ada.screenshot("access-report").await;
    ada.click_text("Access report").await;
    ada.assert_path(&format!("/orgs/{}/access-report", f.org)).await;
    ada.assert_row("bob@client.test", &["Acme Bakery", "Acme LLC", "Member", &later]).await;
    ada.click_text("Download CSV").await;
    let name = format!("access-report-ames-co-{}.csv", portico::clock::today());
    let file = downloads.path().join(&name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !file.exists() {
        let there: Vec<_> = std::fs::read_dir(downloads.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(std::time::Instant::now() < deadline, "{name} was not downloaded: {there:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let csv = std::fs::read_to_string(&file).expect("the downloaded report");
    let later_iso = (portico::clock::today() + chrono::Duration::days(75)).format("%Y-%m-%d").to_string();
    assert!(
        csv.lines().any(
            |l| l.starts_with("Acme Bakery,Acme LLC,Bob Booker,bob@client.test,Member,,") && l.contains(&later_iso)
        ),
        "{csv}"
    );

    ada.close().await;
}
