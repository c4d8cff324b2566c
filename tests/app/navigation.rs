//! Getting around: where sign-in lands, the workspace switcher on every page, the chooser,
//! and the breadcrumb of workspace pages.

use reqwest::StatusCode;

use crate::support::{firm_with_a_client, location, spawn_app, text_of, TestUser};

/// The links of the header's switcher on `html`, as (text, href), in page order.
fn switcher_links(html: &str) -> Vec<(String, String)> {
    let start = html.find("<details class=\"switcher\"").expect("the page has a workspace switcher");
    let end = start + html[start..].find("</details>").expect("the switcher ends");
    let mut out = Vec::new();
    let mut rest = &html[start..end];
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i..];
        let href_at = rest.find("href=\"").expect("a link has an href") + 6;
        let href = rest[href_at..href_at + rest[href_at..].find('"').unwrap()].to_string();
        let close = rest.find("</a>").expect("the link ends");
        out.push((text_of(&rest[..close]).trim().to_string(), href));
        rest = &rest[close..];
    }
    out
}

/// The breadcrumb's steps, joined with " › " as the page shows them.
fn breadcrumb(html: &str) -> String {
    let start = html.find("aria-label=\"Breadcrumb\"").expect("the page has a breadcrumb");
    let end = start + html[start..].find("</nav>").unwrap();
    let steps: Vec<String> = html[start..end].split("<li>").skip(1).map(|li| text_of(li).trim().to_string()).collect();
    steps.join(" › ")
}

async fn landing(user: &TestUser) -> String {
    let r = user.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

/// Item 1 of the issue: Bea has her own firm and is invited into another firm's client.
/// Sign-in no longer strands her on her own "No clients yet": she gets the chooser, and the
/// switcher on every page reaches both places.
#[tokio::test(flavor = "multi_thread")]
async fn an_accountant_invited_into_another_firms_client_can_reach_it_from_everywhere() {
    let f = firm_with_a_client().await;
    let (bea, bea_org) = f.app.sign_up("Bea Brown", "bea@brown.test", "Brown Books").await;
    let link = f.invite("bea@brown.test", "member", &[f.llc]).await;
    let r = bea.accept_invite(&link).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());

    bea.log_out().await;
    bea.log_in("bea@brown.test", crate::support::PASSWORD).await;
    assert_eq!(landing(&bea).await, "/workspaces");
    let (status, chooser) = bea.page("/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&chooser);
    for words in ["Your workspaces", "Brown Books", "Your firm", "Ames & Co", "Acme Bakery"] {
        assert!(text.contains(words), "the chooser says {words:?}: {text}");
    }
    assert!(chooser.contains(&format!("href=\"/w/{}\"", f.ws)), "the chooser links Acme Bakery");
    assert!(chooser.contains(&format!("href=\"/orgs/{bea_org}/clients\"")), "the chooser links her firm");

    // From her own firm's (empty) Clients page, the switcher reaches the other firm's client.
    let (_, clients) = bea.page(&format!("/orgs/{bea_org}/clients")).await;
    let links = switcher_links(&clients);
    assert!(links.contains(&("Acme Bakery".into(), format!("/w/{}", f.ws))), "{links:?}");
    assert!(links.contains(&("Brown Books (current)".into(), format!("/orgs/{bea_org}/clients"))), "{links:?}");
    assert!(links.iter().any(|(_, h)| h == "/workspaces"), "a link to all workspaces: {links:?}");
    // Ames & Co is not her firm: its name is a heading, not a link to its Clients page.
    assert!(!links.iter().any(|(_, h)| h == &format!("/orgs/{}/clients", f.org)), "{links:?}");

    // Inside Acme Bakery: the switcher marks it and leads back to her firm; the breadcrumb
    // names the firm (not a link for a client) and the workspace.
    let (_, books) = bea.page(&format!("/w/{}/entities", f.ws)).await;
    let links = switcher_links(&books);
    assert!(links.contains(&("Acme Bakery (current)".into(), format!("/w/{}", f.ws))), "{links:?}");
    assert!(links.contains(&("Brown Books".into(), format!("/orgs/{bea_org}/clients"))), "{links:?}");
    assert_eq!(breadcrumb(&books), "Ames & Co › Acme Bakery › Entities");
    assert!(!books.contains(&format!("href=\"/orgs/{}/clients\"", f.org)), "a client gets no link into the firm");
}

/// A client in two workspaces goes from one to the other, and home; a client in one
/// workspace lands in it; a firm's Admin with only her firm lands on its Clients page.
#[tokio::test(flavor = "multi_thread")]
async fn sign_in_lands_where_people_work_and_the_switcher_moves_between_workspaces() {
    let f = firm_with_a_client().await;
    let second = f.ada.add_client(f.org, "Zeta Farms").await;
    let zeta_books = f.ada.add_entity(second, "Zeta LLC").await;
    let (cleo, _) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    assert_eq!(landing(&cleo).await, format!("/w/{}", f.ws), "one workspace: its books");
    assert_eq!(landing(&f.ada).await, format!("/orgs/{}/clients", f.org), "one firm: its clients");

    let r = f.ada.invite(second, "cleo@client.test", "member", &[zeta_books]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = f.app.invite_link("cleo@client.test", 2).await;
    assert_eq!(cleo.accept_invite(&link).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(landing(&cleo).await, "/workspaces", "two workspaces: the chooser");

    let (_, page) = cleo.page(&format!("/w/{}/entities", f.ws)).await;
    let links = switcher_links(&page);
    assert_eq!(
        links,
        vec![
            ("All workspaces".to_string(), "/workspaces".to_string()),
            ("Acme Bakery (current)".to_string(), format!("/w/{}", f.ws)),
            ("Zeta Farms".to_string(), format!("/w/{second}")),
        ],
        "a client sees her two workspaces under the firm's name, and the way home"
    );
    assert!(text_of(&page).contains("Ames & Co"), "grouped by firm");
    let (status, zeta) = cleo.page(&format!("/w/{second}/entities")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&zeta).contains("Zeta LLC"));
}

/// The switcher lists exactly what the rules let someone open: a firm Member sees the
/// clients chosen for them, not the firm's others; nobody sees another firm's clients.
#[tokio::test(flavor = "multi_thread")]
async fn the_switcher_lists_only_what_the_viewer_can_open() {
    let f = firm_with_a_client().await;
    let other = f.ada.add_client(f.org, "Hidden Holdings").await;
    let (bob, bob_org) = f.app.sign_up("Bob", "bob@other.test", "Other Firm").await;
    bob.add_client(bob_org, "Bob's Client").await;
    let (nell, _) = f.app.sign_up("Nell", "nell@firm.test", "Nell's Own").await;
    let nell_id = f.app.user_id("nell@firm.test").await;
    f.app.add_to_team(f.org, nell_id, "member").await;
    f.app.grant_client(f.org, nell_id, f.ws).await;

    let (_, page) = nell.page(&format!("/w/{}/entities", f.ws)).await;
    let hrefs: Vec<String> = switcher_links(&page).into_iter().map(|(_, h)| h).collect();
    assert!(hrefs.contains(&format!("/w/{}", f.ws)), "{hrefs:?}");
    assert!(hrefs.contains(&format!("/orgs/{}/clients", f.org)), "her firm's Clients page: {hrefs:?}");
    assert!(!hrefs.contains(&format!("/w/{other}")), "a client not chosen for her is not listed: {hrefs:?}");
    assert!(!text_of(&page).contains("Bob's Client") && !text_of(&page).contains("Other Firm"));
    assert_eq!(breadcrumb(&page), "Ames & Co › Acme Bakery › Entities");
    let crumbs_html = &page[page.find("aria-label=\"Breadcrumb\"").unwrap()..];
    let crumbs_html = &crumbs_html[..crumbs_html.find("</nav>").unwrap()];
    assert!(crumbs_html.contains(&format!("href=\"/orgs/{}/clients\"", f.org)), "staff: the firm is a link");

    // Ada (Admin) sees every client of her firm; deeper pages carry the page's own name.
    let (_, members) = f.ada.page(&f.members()).await;
    let hrefs: Vec<String> = switcher_links(&members).into_iter().map(|(_, h)| h).collect();
    assert!(hrefs.contains(&format!("/w/{other}")) && hrefs.contains(&format!("/w/{}", f.ws)), "{hrefs:?}");
    assert_eq!(breadcrumb(&members), "Ames & Co › Acme Bakery › Settings › Members");
    let (_, account) = f.ada.page("/account/security").await;
    assert!(switcher_links(&account).iter().any(|(_, h)| h == &format!("/w/{other}")), "account pages too");
}

/// Someone with no place yet gets the chooser's empty state, not an error; signed out, "/"
/// asks to log in.
#[tokio::test(flavor = "multi_thread")]
async fn no_place_yet_and_signed_out() {
    let app = spawn_app().await;
    assert_eq!(landing(&app.visitor()).await, "/login");
    let r = app.visitor().get("/workspaces").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the chooser needs a sign-in");
    let f = firm_with_a_client().await;
    let (cleo, cleo_id) = f.client_user("cleo@client.test", "Cleo", "member", &[f.llc]).await;
    assert_eq!(f.ada.remove_member(f.ws, cleo_id).await.status(), StatusCode::SEE_OTHER);
    // Removal from her last workspace signed her out; she signs in again.
    cleo.log_in("cleo@client.test", crate::support::PASSWORD).await;
    assert_eq!(landing(&cleo).await, "/workspaces");
    let (status, page) = cleo.page("/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&page).contains("You don't have access to any workspace yet."));
}

/// The switcher costs the same few queries however many workspaces someone has.
#[tokio::test(flavor = "multi_thread")]
async fn the_switcher_does_not_add_queries_per_workspace() {
    let f = firm_with_a_client().await;
    let path = format!("/w/{}/entities", f.ws);
    let (few, _) = crate::queries::queries_of(&f.app, &f.ada, &path).await;
    for i in 0..12 {
        f.ada.add_client(f.org, &format!("More {i:02}")).await;
    }
    let (many, page) = crate::queries::queries_of(&f.app, &f.ada, &path).await;
    assert!(text_of(&page).contains("More 11"), "the new clients are in the switcher");
    assert_eq!(few, many, "queries for {path} with 1 and 13 clients");
}

/// A firm Member's seat of her own in a client of her firm that was not chosen for her
/// (say, from before she joined the team) opens nothing, so the switcher does not list it.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_seat_in_ones_own_firms_client_is_not_listed() {
    use diesel::prelude::*;
    use portico::db::schema::workspace_memberships as m;
    let f = firm_with_a_client().await;
    let other = f.ada.add_client(f.org, "Hidden Holdings").await;
    let (nell, _) = f.app.sign_up("Nell", "nell@firm.test", "Nell's Own").await;
    let nell_id = f.app.user_id("nell@firm.test").await;
    f.app.add_to_team(f.org, nell_id, "member").await;
    f.app.grant_client(f.org, nell_id, f.ws).await;
    f.app
        .db
        .write(move |c| {
            diesel::insert_into(m::table)
                .values((
                    m::workspace_id.eq(other),
                    m::user_id.eq(nell_id),
                    m::role.eq("admin"),
                    m::created_at.eq(crate::support::now()),
                    m::all_entities.eq(true),
                ))
                .execute(c)
        })
        .await
        .expect("a stale seat");
    assert_eq!(nell.get(&format!("/w/{other}/entities")).await.status(), StatusCode::NOT_FOUND, "it opens nothing");
    let (_, page) = nell.page(&format!("/w/{}/entities", f.ws)).await;
    let hrefs: Vec<String> = switcher_links(&page).into_iter().map(|(_, h)| h).collect();
    assert!(hrefs.contains(&format!("/w/{}", f.ws)), "{hrefs:?}");
    assert!(!hrefs.contains(&format!("/w/{other}")), "the stale seat is not listed: {hrefs:?}");
}

/// However many clients her own firm has, the workspaces another firm invited her into
/// stay listed (a firm's Clients page lists all of its own); the list says it is cut.
#[tokio::test(flavor = "multi_thread")]
async fn a_big_own_firm_never_pushes_other_firms_workspaces_out() {
    use portico::db::models::places::places_of;
    let f = firm_with_a_client().await;
    // "Aardvark" sorts before "Ames & Co": her own firm's clients come first by name.
    let (bea, bea_org) = f.app.sign_up("Bea", "bea@brown.test", "Aardvark Accounting").await;
    for i in 0..4 {
        bea.add_client(bea_org, &format!("Client {i}")).await;
    }
    let link = f.invite("bea@brown.test", "member", &[f.llc]).await;
    assert_eq!(bea.accept_invite(&link).await.status(), StatusCode::SEE_OTHER);
    let uid = portico::domain::UserId(f.app.user_id("bea@brown.test").await);
    let places = f.app.db.read(move |c| places_of(c, uid, 2)).await.expect("places");
    let summary: Vec<(String, bool, Vec<String>)> = places
        .firms
        .iter()
        .map(|p| (p.org_name.clone(), p.staff, p.workspaces.iter().map(|w| w.name.clone()).collect()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Aardvark Accounting".to_string(), true, vec!["Client 0".to_string(), "Client 1".to_string()]),
            ("Ames & Co".to_string(), false, vec!["Acme Bakery".to_string()]),
        ]
    );
    assert!(places.truncated, "two of her four clients: the list says it is cut");
    assert_eq!(places.only_place(), None, "two firms: the chooser");
    assert_eq!(landing(&bea).await, "/workspaces");
}
