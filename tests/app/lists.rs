//! Lists for large firms: Clients, Team, Members, Pending invites and Activity read one page
//! of 50 at a time, with a search, a role and a status, in the URL; their query counts do
//! not grow from 50 rows to 5,000.

use crate::queries::queries_of;
use crate::support::browser::{installed_or_skip, Browser};
use crate::support::seed::{grow, user_id};
use crate::support::{body_rows, spawn_app, TestApp, TestUser, PASSWORD};

/// A firm (Ada's) with a client (Acme Bakery) and `rows` of each kind (see `seed::grow`).
async fn firm_of(rows: usize) -> (TestApp, TestUser, i64, i64) {
    let app = spawn_app().await;
    let (ada, org) = app.sign_up("Ada", "ada@firm.test", "Ada & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let me = user_id(&app, "ada@firm.test").await;
    grow(&app, org, ws, me, 0, rows).await;
    (app, ada, org, ws)
}

/// The page's "Next" (or "Previous") link, as a path.
fn link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let tag_start = html[..at].rfind("<a ")?;
    let tag = &html[tag_start..at];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread")]
async fn list_query_counts_stay_the_same_from_50_rows_to_5000() {
    let (app, ada, org, ws) = firm_of(50).await;
    let me = user_id(&app, "ada@firm.test").await;
    // One more of each on Acme's lists (its invites, its Activity): each list has a page
    // and a bit, so that it has a second page.
    let r = ada.invite_to_all_entities(ws, "extra@client.test", "member").await;
    assert!(r.status().is_redirection(), "an invite: {}", r.status());
    let lists = [
        format!("/orgs/{org}/clients"),
        format!("/orgs/{org}/team"),
        format!("/orgs/{org}/invites"),
        format!("/w/{ws}/settings/members"),
        format!("/w/{ws}/settings/activity"),
    ];
    // Each list: its first page, a search, each status and a role; and its second page.
    let variants =
        ["", "?q=0004", "?status=pending", "?status=expired", "?status=failed", "?role=member", "?status=active"];
    let measure = |path: String| {
        let (app, ada) = (&app, &ada);
        async move {
            let (count, page) = queries_of(app, ada, &path).await;
            (count, page)
        }
    };
    let mut small = Vec::new();
    let mut second_small = Vec::new();
    for list in &lists {
        for v in variants {
            small.push(measure(format!("{list}{v}")).await.0);
        }
        let (_, first) = measure(list.clone()).await;
        assert_eq!(body_rows(&first).len(), 50, "{list}: a page holds 50 rows");
        let next = link(&first, "next").unwrap_or_else(|| panic!("{list}: a Next link with 50+ rows"));
        second_small.push((next.clone(), measure(next).await.0));
    }

    grow(&app, org, ws, me, 50, 4950).await;
    let mut i = 0;
    for list in &lists {
        for v in variants {
            let (after, page) = measure(format!("{list}{v}")).await;
            // Never more at 5,000 than at 50 (fewer when, at 50, the page ran from one section
            // of the list into the next: people, then invites).
            assert!(after <= small[i], "{list}{v}: {} queries with 50 rows, {after} with 5,000", small[i]);
            assert!(body_rows(&page).len() <= 50, "{list}{v}: at most a page of rows");
            i += 1;
        }
        let (_, first) = measure(list.clone()).await;
        assert_eq!(body_rows(&first).len(), 50, "{list}: still 50 rows a page");
        let next = link(&first, "next").expect("a Next link");
        let (after, _) = measure(next).await;
        let (path, before) = &second_small[lists.iter().position(|l| l == list).unwrap()];
        // A second page that runs from one section into the next (people, then invites)
        // reads both: the count is bounded by the sections, never by the rows.
        assert!(after <= *before, "{path}: {before} queries with 50 rows, {after} with 5,000");
    }
}

/// Every row of a list, following "Next" from the first page; and back with "Previous".
async fn walk(user: &TestUser, first: &str, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut at = Some(first.to_string());
    while let Some(path) = at {
        let (status, html) = user.page(&path).await;
        assert!(status.is_success(), "{path}: {status}");
        let rows: Vec<String> = body_rows(&html).into_iter().filter(|r| r.contains(needle)).collect();
        assert!(rows.len() <= 50, "{path}: {} rows", rows.len());
        pages.push(rows.clone());
        seen.extend(rows);
        at = link(&html, "next");
        assert!(pages.len() < 100, "Next never ends");
    }
    // Back from the last page to the first, page by page: the same pages.
    let (_, mut html) = user.page(first).await;
    for _ in 1..pages.len() {
        let next = link(&html, "next").expect("Next");
        html = user.page(&next).await.1;
    }
    for expected in pages.iter().rev().skip(1) {
        let previous = link(&html, "prev")
            .unwrap_or_else(|| panic!("{first}: Previous on every page but the first: {:?}", body_rows(&html)));
        html = user.page(&previous).await.1;
        let rows: Vec<String> = body_rows(&html).into_iter().filter(|r| r.contains(needle)).collect();
        assert_eq!(&rows, expected, "Previous gives back the page before");
    }
    assert!(link(&html, "prev").is_none(), "the first page has no Previous");
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_through_every_row_once_and_filter_by_search_role_and_status() {
    let (app, ada, org, ws) = firm_of(120).await;

    // Clients: 121, by name, each once over three pages.
    let clients = walk(&ada, &format!("/orgs/{org}/clients"), "Client ").await;
    let mut expected: Vec<String> = (0..120).map(|i| format!("Client {i:05}")).collect();
    expected.sort();
    let names: Vec<String> =
        clients.iter().map(|r| r.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(names, expected, "every client once, in name order");
    // Search: any case, a part of the name; LIKE's wildcards are plain characters.
    let (_, html) = ada.page(&format!("/orgs/{org}/clients?q=cLiEnT+0004")).await;
    assert_eq!(body_rows(&html).len(), 10, "Client 00040 … 00049");
    assert!(html.contains("10 clients match"), "the count of matches");
    ada.add_client(org, "50% Off Shoes").await;
    let (_, html) = ada.page(&format!("/orgs/{org}/clients?q=%25")).await;
    let rows = body_rows(&html);
    assert_eq!(rows.len(), 1, "% matches only a name with a %: {rows:?}");
    let (_, html) = ada.page(&format!("/orgs/{org}/clients?q=_")).await;
    assert!(html.contains("No client matches your search"), "_ is not a wildcard");

    // Team: Ada and 120 staff, then 120 team invites; the tabs count them.
    let (_, team) = ada.page(&format!("/orgs/{org}/team")).await;
    // Active: 121 and Pending: 108, past the cap of 100 (counts stop there, so a tab costs
    // the same at any size); All then has no count.
    for tab in ["All Active (100+)", "Pending (100+)", "Expired (12)", "Delivery failed (4)"] {
        assert!(crate::support::text_of(&team).contains(tab), "Team tab {tab}");
    }
    let staff = walk(&ada, &format!("/orgs/{org}/team?status=active"), "@firm.test").await;
    assert_eq!(staff.len(), 121, "every team member once");
    let expired = walk(&ada, &format!("/orgs/{org}/team?status=expired"), "@firm.test").await;
    assert_eq!(expired.len(), 12);
    assert!(expired.iter().all(|r| r.contains("Expired")), "only expired invites: {expired:?}");
    let (_, admins) = ada.page(&format!("/orgs/{org}/team?role=admin")).await;
    let rows = body_rows(&admins);
    assert_eq!(rows.len(), 1, "the one Admin: {rows:?}");
    assert!(rows[0].contains("ada@firm.test"));
    let (_, two) = ada.page(&format!("/orgs/{org}/team?q=STAFF00042")).await;
    let rows = body_rows(&two);
    assert_eq!(rows.len(), 2, "staff00042 and the invite to newstaff00042: {rows:?}");

    // Pending invites: team and client invites, newest first; failed deliveries.
    let failed = walk(&ada, &format!("/orgs/{org}/invites?status=failed"), "@").await;
    assert_eq!(failed.len(), 8, "4 team and 4 client invites failed: {failed:?}");
    assert!(failed.iter().all(|r| r.contains("Email failed")), "{failed:?}");
    let all = walk(&ada, &format!("/orgs/{org}/invites"), "@").await;
    assert_eq!(all.len(), 240);

    // Members of Acme Bakery: Ada (firm Admin) and the 120 staff who reach no client are
    // not all there: only those with access; then 120 client invites.
    let members = walk(&ada, &format!("/w/{ws}/settings/members?status=pending"), "@client.test").await;
    assert_eq!(members.len(), 108);
    // A client with more people than a page: they page too (their place in the URL is a
    // name and an email), then the invites follow.
    crate::support::seed::people(&app, ws, 70).await;
    let people = walk(&ada, &format!("/w/{ws}/settings/members?status=active"), "@").await;
    let mut expected: Vec<String> = (0..70).map(|i| format!("person{i:05}@client.test")).collect();
    expected.insert(0, "ada@firm.test".into());
    let emails: Vec<String> =
        people.iter().map(|r| r.split_whitespace().find(|w| w.contains('@')).unwrap_or("").to_string()).collect();
    assert_eq!(emails, expected, "the firm's staff first, then the client's people by name, each once");
    let everyone = walk(&ada, &format!("/w/{ws}/settings/members"), "@").await;
    assert_eq!(everyone.len(), 71 + 120, "people, then every invite");
    let (_, one) = ada.page(&format!("/w/{ws}/settings/members?q=client00007%40")).await;
    let rows = body_rows(&one);
    assert_eq!(rows.len(), 1, "{rows:?}");

    // Activity: newest first, searchable by whom it was about.
    let events = walk(&ada, &format!("/w/{ws}/settings/activity"), "invited").await;
    assert!(events.len() >= 120, "{}", events.len());
    assert!(events[0].contains("client00119@client.test"), "newest first: {}", events[0]);
    let (_, one) = ada.page(&format!("/w/{ws}/settings/activity?q=client00003%40")).await;
    assert_eq!(body_rows(&one).len(), 1);

    // A forged or stale place in a list is the first page, never an error.
    for bad in
        ["?after=zzz", "?before=1.x", "?after=0.99999999999999999999.x", "?role=owner", "?status=bogus", "?q=%E2%80%AE"]
    {
        let (status, _) = ada.page(&format!("/orgs/{org}/clients{bad}")).await;
        assert!(status.is_success(), "{bad}: {status}");
        let (status, _) = ada.page(&format!("/orgs/{org}/team{bad}")).await;
        assert!(status.is_success(), "{bad}: {status}");
    }

    // Another firm's lists never show Ada's rows, whatever the search.
    let (bob, bob_org) = app.sign_up("Bob", "bob@other.test", "Bob & Co").await;
    let (_, html) = bob.page(&format!("/orgs/{bob_org}/invites?q=client")).await;
    assert!(!html.contains("@client.test"));
    let (_, html) = bob.page(&format!("/orgs/{bob_org}/team?q=staff")).await;
    assert!(!html.contains("staff000"));
    let (status, _) = bob.page(&format!("/orgs/{org}/clients?q=Client")).await;
    assert_eq!(status.as_u16(), 404, "another firm's list is not found");
}

/// The list controls in a browser: search, a status tab, Next and Previous.
#[tokio::test(flavor = "multi_thread")]
async fn list_controls_work_in_a_browser() {
    if !installed_or_skip("list_controls") {
        return;
    }
    let (app, _ada, org, _ws) = firm_of(60).await;
    let b = Browser::start("list_controls").await;
    b.goto(&format!("{}/login", app.base)).await;
    b.fill("Email", "ada@firm.test").await;
    b.fill("Password", PASSWORD).await;
    b.click_text("Log in").await;
    b.wait_for_path("signed in", |p| p != "/login").await;

    b.goto(&format!("{}/orgs/{org}/invites", app.base)).await;
    b.assert_text("Expired (12)").await;
    b.fill("Search by email", "newstaff0001").await;
    b.click_text("Search").await;
    b.assert_text("newstaff00019@firm.test").await;
    let rows = b.rows().await;
    assert_eq!(rows.len(), 10, "newstaff00010 … 00019: {rows:?}");
    b.click_text("Clear").await;
    b.click_text("Expired (12)").await;
    let rows = b.rows().await;
    assert_eq!(rows.len(), 12, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains("Expired")));
    b.screenshot("pending-expired").await;

    b.goto(&format!("{}/orgs/{org}/clients", app.base)).await;
    b.click_text("Next").await;
    b.assert_text("Client 00049").await;
    b.click_text("Previous").await;
    b.assert_text("Acme Bakery").await;
    b.screenshot("clients-page-one").await;
    b.close().await;
}
