//! Every main page on a desktop (1280 px) and on phones (390 and 360 px), in headless
//! Chromium: no sideways scrolling (neither the page nor a box inside it), every row's ⋯
//! button (and every row's checkbox) inside the screen and not covered, opening its menu
//! inside the screen; axe-core finds no serious or critical violation; and a screenshot of
//! each page at each width in `target/screenshots/<page>-<width>.png`.
//! Then, with JavaScript off: one ⋯ menu open at a time, and the skip link.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::axe::Axe;
use crate::support::browser::{installed_or_skip, Browser};
use crate::support::{firm_with_a_client, spawn_app_with, text_of, Firm, Options, TestApp, PASSWORD};

/// A desktop, then two phones: (width, height) of the viewport in CSS pixels.
const SIZES: [(u32, u32); 3] = [(1280, 900), (390, 844), (360, 780)];

/// One page to check: its name in messages and screenshot files, where it is, and how many
/// ⋯ menus and row checkboxes it must show (so that a page whose rows went missing fails).
struct Page {
    name: &'static str,
    path: String,
    menus: usize,
    checkboxes: usize,
    /// 200, or the error page's code.
    status: u16,
}

fn page(name: &'static str, path: String) -> Page {
    Page { name, path, menus: 0, checkboxes: 0, status: 200 }
}

/// The firm's pages, seen by its Admin: Members and Team with members AND pending invites,
/// Pending invites, Clients, Entities, an entity's books, Add team, Activity, Account → Security.
#[tokio::test(flavor = "multi_thread")]
async fn firm_pages_fit_a_desktop_and_a_phone() {
    const TEST: &str = "layout_firm_pages";
    if !installed_or_skip(TEST) {
        return;
    }
    let Some(axe) = Axe::installed_or_skip(TEST) else { return };
    let f = a_busy_firm().await;
    let (org, ws, llc) = (f.org, f.ws, f.llc);
    let pages = [
        Page { menus: 5, ..page("members", f.members()) },
        Page { menus: 4, ..page("team", format!("/orgs/{org}/team")) },
        Page { checkboxes: 4, menus: 4, ..page("pending-invites", format!("/orgs/{org}/invites")) },
        page("clients", format!("/orgs/{org}/clients")),
        page("entities", format!("/w/{ws}/entities")),
        page("books", format!("/w/{ws}/entities/{llc}")),
        page("add-team", format!("/w/{ws}/settings/members/invite")),
        page("add-team-staff", format!("/orgs/{org}/team/invite")),
        page("activity", format!("/w/{ws}/settings/activity")),
        page("account-security", "/account/security".to_string()),
    ];
    let b = Browser::start(TEST).await;
    log_in(&b, &f.app, "ada@firm.test").await;
    for (width, height) in SIZES {
        b.set_viewport(width, height).await;
        for p in &pages {
            check_page(&b, &axe, &f.app, p, width).await;
        }
    }
    b.close().await;
}

/// The firm's other pages: forms, confirmations, settings, an error page, at the desktop
/// width and the narrowest phone.
#[tokio::test(flavor = "multi_thread")]
async fn firm_forms_and_confirmations_fit_a_desktop_and_a_phone() {
    const TEST: &str = "layout_firm_forms";
    if !installed_or_skip(TEST) {
        return;
    }
    let Some(axe) = Axe::installed_or_skip(TEST) else { return };
    let f = a_busy_firm().await;
    let (org, ws) = (f.org, f.ws);
    let cleo = f.app.user_id("cleo@client.test").await;
    let bo = f.app.user_id("bo@firm.test").await;
    let erin = f.app.invite_record("erin@client.test").await.id;
    let di = f.app.invite_record("di@firm.test").await.id;
    // One email the mail server refuses, for a row on Email delivery.
    f.app.smtp.set_refusing(true);
    let r = f.ada.invite(ws, "refused.by.the.mail.server@acme-bakery-and-holdings.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let before = f.app.smtp.refused();
    while f.app.smtp.refused() == before {
        assert!(tokio::time::Instant::now() < deadline, "the outbox never tried the email");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pages = [
        page("email-delivery", format!("/orgs/{org}/email")),
        page("access-report", format!("/w/{ws}/settings/access-report")),
        page("firm-access-report", format!("/orgs/{org}/access-report")),
        page("extend-access", format!("/w/{ws}/settings/members/{cleo}/extend")),
        page("configure-permissions", format!("/w/{ws}/settings/members/{cleo}/permissions")),
        page("remove-member", format!("/w/{ws}/settings/members/{cleo}/remove")),
        page("invite-link", format!("/w/{ws}/settings/invites/{erin}/link")),
        page("cancel-invite", format!("/w/{ws}/settings/invites/{erin}/cancel")),
        page("team-permissions", format!("/orgs/{org}/team/{bo}/permissions")),
        page("team-remove", format!("/orgs/{org}/team/{bo}/remove")),
        page("team-invite-link", format!("/orgs/{org}/team/invites/{di}/link")),
        page("add-client", format!("/orgs/{org}/clients/new")),
        page("add-entity", format!("/w/{ws}/entities/new")),
        page("workspace-security", format!("/w/{ws}/settings/security")),
        page("firm-security", format!("/orgs/{org}/settings/security")),
        page("two-factor", "/account/two-factor".to_string()),
        Page { status: 404, ..page("not-found", format!("/w/{}/entities", ws + 1000)) },
    ];
    let b = Browser::start(TEST).await;
    log_in(&b, &f.app, "ada@firm.test").await;
    for (width, height) in [SIZES[0], SIZES[2]] {
        b.set_viewport(width, height).await;
        for p in &pages {
            check_page(&b, &axe, &f.app, p, width).await;
        }
    }
    b.close().await;
}

/// The pages of people outside the firm: log in, sign up, forgot password, the invite
/// landing page; a client's own workspace (no firm sidebar), her Account → Security; and the
/// local mailbox (an app without SMTP).
#[tokio::test(flavor = "multi_thread")]
async fn sign_in_invite_and_client_pages_fit_a_desktop_and_a_phone() {
    const TEST: &str = "layout_visitor_pages";
    if !installed_or_skip(TEST) {
        return;
    }
    let Some(axe) = Axe::installed_or_skip(TEST) else { return };
    let f = firm_with_a_client().await;
    let link = f.invite("dan.dalrymple-whitfield@northern-holdings.test", "accountant", &[f.llc, f.holdings]).await;
    let (_, _) = f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    let invite = link.trim_start_matches(&f.app.base).to_string();
    let signed_out = [
        page("login", "/login".to_string()),
        page("signup", "/signup".to_string()),
        page("forgot-password", "/password/forgot".to_string()),
        page("invite-landing", invite),
    ];
    let client = [
        page("client-entities", format!("/w/{}/entities", f.ws)),
        page("client-books", format!("/w/{}/entities/{}", f.ws, f.llc)),
    ];

    let mailbox_app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    let _ = mailbox_app.sign_up("Mo Mailbox", "mo@firm.test", "Mo & Partners").await;

    let b = Browser::start(TEST).await;
    axe_sees_what_it_must(&b, &axe, &f.app).await;
    for (width, height) in SIZES {
        b.set_viewport(width, height).await;
        for p in &signed_out {
            check_page(&b, &axe, &f.app, p, width).await;
        }
    }
    log_in(&b, &f.app, "cleo@client.test").await;
    for (width, height) in SIZES {
        b.set_viewport(width, height).await;
        for p in &client {
            check_page(&b, &axe, &f.app, p, width).await;
        }
    }
    log_in(&b, &mailbox_app, "mo@firm.test").await;
    for (width, height) in SIZES {
        b.set_viewport(width, height).await;
        check_page(&b, &axe, &mailbox_app, &page("mailbox", "/dev/mailbox".to_string()), width).await;
    }
    b.close().await;
}

/// Without JavaScript two ⋯ menus are never open together (the `name` attribute makes the
/// `<details>` exclusive), and the skip link is the first Tab stop and moves focus to main.
#[tokio::test(flavor = "multi_thread")]
async fn without_javascript_one_menu_is_open_at_a_time_and_the_skip_link_leads_to_main() {
    const TEST: &str = "layout_no_js";
    if !installed_or_skip(TEST) {
        return;
    }
    let f = firm_with_a_client().await;
    f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    f.invite("dan@client.test", "member", &[f.holdings]).await;
    let b = Browser::start_without_js(TEST).await;
    log_in(&b, &f.app, "ada@firm.test").await;
    b.goto(&format!("{}{}", f.app.base, f.members())).await;
    b.assert_heading("Members").await;
    // app.js marks each menu it takes over: none here, so what follows is the browser's own doing.
    let ready = js(&b, "return document.querySelectorAll('details.menu[data-menu-ready]').length;").await;
    assert_eq!(ready, json!(0), "JavaScript is off in this browser");

    let open = "return Array.from(document.querySelectorAll('details.menu'))\
                .filter(function (d) { return d.open; })\
                .map(function (d) { return d.querySelector('summary').getAttribute('aria-label'); });";
    // Dan's row is under Cleo's (an open menu covers the rows below it): Dan's first.
    b.open_menu("dan@client.test").await;
    b.wait_for_js("Dan's menu open", open, json!(["Actions for dan@client.test"])).await;
    b.open_menu("Cleo Client").await;
    b.wait_for_js("opening Cleo's menu closes Dan's", open, json!(["Actions for Cleo Client"])).await;
    b.screenshot_page("no-js-one-menu-open").await;
    // From the keyboard: focus on Dan's ⋯, Enter.
    js(&b, "document.querySelector('summary[aria-label=\"Actions for dan@client.test\"]').focus();").await;
    press(&b, Key::Enter).await;
    b.wait_for_js("Enter on Dan's ⋯ closes Cleo's menu", open, json!(["Actions for dan@client.test"])).await;

    for (what, path) in [("Members", f.members()), ("Log in", "/login".to_string())] {
        if what == "Log in" {
            b.client.delete_all_cookies().await.expect("sign out");
        }
        b.goto(&format!("{}{path}", f.app.base)).await;
        b.assert_heading(what).await;
        let link = js(&b, "var a = document.querySelector('.skip-link'); var r = a.getBoundingClientRect(); return r.bottom <= 0 || r.right <= 0;").await;
        assert_eq!(link, json!(true), "on {what} the skip link is out of sight until focused");
        press(&b, Key::Tab).await;
        let focused = "var a = document.activeElement; var r = a.getBoundingClientRect();\
                       return [a.tagName, a.textContent.trim(), a.getAttribute('href'),\
                               r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.width > 20];";
        b.wait_for_js(
            &format!("on {what} the first Tab stop is the visible skip link"),
            focused,
            json!(["A", "Skip to content", "#main", true]),
        )
        .await;
        b.screenshot_page(&format!("skip-link-{}", if what == "Log in" { "login" } else { "members" })).await;
        press(&b, Key::Enter).await;
        b.wait_for_js(
            &format!("on {what} Enter on the skip link moves focus to main"),
            "var a = document.activeElement; return [a.tagName, a.id, location.hash];",
            json!(["MAIN", "main", "#main"]),
        )
        .await;
    }
    b.close().await;
}

/// The check itself works on these pages, under their CSP: a button without a name and
/// grey-on-grey text, added to the log-in page, are what axe reports (and only they).
async fn axe_sees_what_it_must(b: &Browser, axe: &Axe, app: &TestApp) {
    b.goto(&format!("{}/login", app.base)).await;
    b.assert_heading("Log in").await;
    js(
        b,
        "var main = document.getElementById('main');\
         var button = document.createElement('button'); button.id = 'nameless'; main.appendChild(button);\
         var p = document.createElement('p'); p.id = 'faint'; p.textContent = 'Hard to read';\
         p.style.color = '#c8c8c8'; p.style.background = '#ffffff'; main.appendChild(p);",
    )
    .await;
    let found = axe.violations(b, "the log-in page with two planted faults").await;
    let mut ids: Vec<&str> = found.iter().filter_map(|v| v["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["button-name", "color-contrast"], "{}", crate::support::axe::report(&found));
    let targets = crate::support::axe::report(&found);
    assert!(targets.contains("#nameless") && targets.contains("#faint"), "{targets}");
}

/// A firm whose pages have many rows of every kind, with long names and addresses:
/// Members has client users, firm staff and pending invites; Team has staff and invites.
async fn a_busy_firm() -> Firm {
    let f = firm_with_a_client().await;
    let (org, ws, llc, holdings) = (f.org, f.ws, f.llc, f.holdings);
    f.client_user("cleo@client.test", "Cleopatra Montgomery-Featherstonehaugh", "member", &[llc]).await;
    f.client_user("owen.the.owner@acme-bakery-and-holdings.test", "Owen Owner", "admin", &[]).await;
    f.invite("dan.dalrymple-whitfield@northern-holdings.test", "accountant", &[llc, holdings]).await;
    f.invite("erin@client.test", "member", &[holdings]).await;
    for (email, name) in
        [("bo@firm.test", Some("Bo Bookkeeper")), ("cy.a.long.name@firm.test", None), ("di@firm.test", None)]
    {
        let before = f.app.mails_to(email).len();
        let r = f
            .ada
            .post(
                &format!("/orgs/{org}/team/invite"),
                &[("emails", email), ("role", "member"), ("client", &ws.to_string())],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "inviting {email}: {}",
            text_of(&r.text().await.unwrap_or_default())
        );
        if let Some(name) = name {
            let link = f.app.invite_link(email, before + 1).await;
            f.app.accept_as_new_user(&link, name).await;
        }
    }
    for name in ["Birch Dental Group of Greater Springfield", "Cedar Farms"] {
        f.ada.add_client(org, name).await;
    }
    for (date, what, amount) in [
        ("2026-11-02", "Flour delivery from the Northern Mills cooperative", "-1,200.50"),
        ("2026-11-03", "Catering: the Montgomery-Featherstonehaugh wedding", "4,850.00"),
        ("2026-11-04", "Rent", "-2,000.00"),
    ] {
        let r = f
            .ada
            .post(
                &format!("/w/{ws}/entities/{llc}/transactions"),
                &[("date", date), ("description", what), ("amount", amount)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "adding a transaction");
    }
    f
}

async fn log_in(b: &Browser, app: &TestApp, email: &str) {
    let _ = b.client.delete_all_cookies().await;
    b.goto(&format!("{}/login", app.base)).await;
    b.assert_heading("Log in").await;
    b.fill("Email", email).await;
    b.fill("Password", PASSWORD).await;
    b.click_text("Log in").await;
    b.wait_for_path("a page past Log in", |p| !p.starts_with("/login")).await;
}

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn press(b: &Browser, key: Key) {
    let k = char::from(key);
    let keys = KeyActions::new("keyboard".into()).then(KeyAction::Down { value: k }).then(KeyAction::Up { value: k });
    b.client.perform_actions(keys).await.unwrap_or_else(|e| panic!("cannot press a key: {e}"));
}

/// Opens `p` at the current width and checks it whole; then its screenshot.
async fn check_page(b: &Browser, axe: &Axe, app: &TestApp, p: &Page, width: u32) {
    let what = format!("{} at {width} px ({})", p.name, p.path);
    b.goto(&format!("{}{}", app.base, p.path)).await;
    b.wait_for_js(&format!("{what} loaded"), "return document.readyState;", json!("complete")).await;
    let code = js(b, "var c = document.querySelector('.error-code'); return c ? Number(c.textContent) : 200;").await;
    assert_eq!(code, json!(p.status), "{what}: the page's status (an error page shows its code)");
    assert_fits(b, &what).await;

    let controls = b
        .client
        .find_all(Locator::Css("summary.menu-btn, tbody input[type=checkbox]"))
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot list the rows' controls: {e}"));
    let mut menus = vec![];
    for control in &controls {
        assert_reachable(b, control, &what).await;
        if control.tag_name().await.unwrap_or_default().eq_ignore_ascii_case("summary") {
            menus.push(assert_opens_its_menu(b, control, &what).await);
        }
    }
    assert_eq!(menus.len(), p.menus, "{what}: the number of ⋯ menus: {menus:?}");
    let menus = menus.len();
    assert_eq!(controls.len() - menus, p.checkboxes, "{what}: the number of row checkboxes");
    if width < 1000 {
        assert_stacked(b, &what).await;
    }
    assert_fits(b, &what).await;
    axe.check(b, &what).await;
    b.screenshot_page(&format!("{}-{width}", p.name)).await;
}

/// No sideways scrolling: neither the page nor any box inside it (navigation tab strips,
/// which scroll by design, aside).
async fn assert_fits(b: &Browser, what: &str) {
    let report = js(
        b,
        "function name(el) { var s = el.tagName.toLowerCase(); if (el.id) s += '#' + el.id;\
           if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\\s+/).join('.');\
           var t = (el.innerText || el.value || '').replace(/\\s+/g, ' ').trim().slice(0, 40); return t ? s + ' \"' + t + '\"' : s; }\
         var vw = window.innerWidth, de = document.documentElement, out = [];\
         if (de.scrollWidth > vw) {\
           out.push('the page is ' + de.scrollWidth + ' px wide in a ' + vw + ' px window; sticking out:');\
           Array.from(document.body.querySelectorAll('*')).forEach(function (el) {\
             var r = el.getBoundingClientRect();\
             if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5) && out.length < 12) out.push('  ' + name(el) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));\
           });\
         }\
         Array.from(document.body.querySelectorAll('*')).forEach(function (el) {\
           var x = getComputedStyle(el).overflowX;\
           if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1 && !el.closest('nav'))\
             out.push('scrolls sideways: ' + name(el) + ' (' + el.scrollWidth + ' px in ' + el.clientWidth + ')');\
         });\
         return out;",
    )
    .await;
    let problems: Vec<&str> = report.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(problems.is_empty(), "{what} does not fit its width:\n{}", problems.join("\n"));
}

/// The control, scrolled into view, is wholly inside the viewport and is what a tap at its
/// centre reaches.
async fn assert_reachable(b: &Browser, control: &Element, what: &str) {
    let arg = serde_json::to_value(control).expect("an element as a script argument");
    let seen = b
        .client
        .execute(
            "var el = arguments[0]; el.scrollIntoView({ block: 'center', inline: 'nearest' });\
             var r = el.getBoundingClientRect(); var x = r.left + r.width / 2, y = r.top + r.height / 2;\
             var hit = document.elementFromPoint(x, y);\
             var label = el.getAttribute('aria-label') || el.id;\
             var inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0\
               && r.right <= document.documentElement.clientWidth && r.bottom <= window.innerHeight;\
             return [label, inside && window.scrollX === 0, hit === el || el.contains(hit),\
               Math.round(r.left) + ',' + Math.round(r.top) + ' ' + Math.round(r.width) + '×' + Math.round(r.height)\
               + ' in ' + window.innerWidth + '×' + window.innerHeight + ', scrollX ' + window.scrollX,\
               hit ? hit.outerHTML.slice(0, 160) : 'nothing'];",
            vec![arg],
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot measure a row control: {e}"));
    let label = seen[0].as_str().unwrap_or_default();
    assert_eq!(seen[1], json!(true), "{what}: {label:?} is not wholly on screen: {}", seen[3]);
    assert_eq!(seen[2], json!(true), "{what}: a tap on {label:?} reaches something else: {}", seen[4]);
}

/// A click on the ⋯ button opens its menu, wholly on screen, its first item reachable; a
/// second click closes it. Returns the button's label.
async fn assert_opens_its_menu(b: &Browser, summary: &Element, what: &str) -> String {
    let arg = || vec![serde_json::to_value(summary).expect("an element as a script argument")];
    let label = summary.attr("aria-label").await.ok().flatten().unwrap_or_default();
    summary.click().await.unwrap_or_else(|e| panic!("{what}: cannot click {label:?}: {e}"));
    let state = "var d = arguments[0].parentElement, p = d.querySelector('.menu-items');\
                 if (!d.open) return 'closed';\
                 var r = p.getBoundingClientRect(), first = p.querySelector('.menu-item');\
                 var f = first.getBoundingClientRect();\
                 var hit = document.elementFromPoint(f.left + f.width / 2, f.top + f.height / 2);\
                 if (r.left < 0 || r.top < 0 || r.right > document.documentElement.clientWidth || r.bottom > innerHeight)\
                   return 'off screen: ' + Math.round(r.left) + ',' + Math.round(r.top) + '..' + Math.round(r.right) + ',' + Math.round(r.bottom);\
                 return first.contains(hit) ? 'open' : 'covered by ' + (hit ? hit.outerHTML.slice(0, 120) : 'nothing');";
    let mut last = Value::Null;
    for _ in 0..50 {
        last = b.client.execute(state, arg()).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        if last == json!("open") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last, json!("open"), "{what}: the menu of {label:?}");
    summary.click().await.unwrap_or_else(|e| panic!("{what}: cannot click {label:?} again: {e}"));
    b.wait_for_js(
        &format!("{what}: a second click closes the menu of {label:?}"),
        &format!("return document.querySelector('summary[aria-label=\"{label}\"]').parentElement.open;"),
        json!(false),
    )
    .await;
    label
}

/// On a phone each row of a `.stack-on-phone` table is a card: its cells do not overlap,
/// each cell with a `data-label` shows its label, and a row with a ⋯ menu has it at the
/// card's top right and its role, access, status and invited on labelled lines.
async fn assert_stacked(b: &Browser, what: &str) {
    let report = js(
        b,
        "var out = [];\
         Array.from(document.querySelectorAll('.stack-on-phone tbody tr')).forEach(function (tr, i) {\
           var s = tr.querySelector('summary.menu-btn');\
           var who = s ? s.getAttribute('aria-label') : 'row ' + (i + 1);\
           var cells = Array.from(tr.children).map(function (td) { return [td, td.getBoundingClientRect()]; })\
             .filter(function (c) { return c[1].width > 0 && c[1].height > 0; });\
           cells.forEach(function (a, j) { cells.slice(j + 1).forEach(function (c) {\
             var r = a[1], q = c[1];\
             if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1)\
               out.push(who + ': cells overlap: ' + a[0].innerText.trim().slice(0, 30) + ' / ' + c[0].innerText.trim().slice(0, 30));\
           }); });\
           Array.from(tr.querySelectorAll('td[data-label]')).forEach(function (td) {\
             var label = getComputedStyle(td, '::before').content;\
             if (label.indexOf(td.getAttribute('data-label')) < 0) out.push(who + ': no label ' + td.getAttribute('data-label'));\
           });\
           if (!s) return;\
           var r = tr.getBoundingClientRect(), m = s.getBoundingClientRect();\
           if (m.top - r.top > 24 || r.right - m.right > 24) out.push(who + ': ⋯ not at the top right');\
           if (tr.querySelectorAll('td[data-label]').length < 4) out.push(who + ': fewer than 4 labelled lines');\
         });\
         return out;",
    )
    .await;
    let problems: Vec<&str> = report.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(problems.is_empty(), "{what}: rows are not tidy cards:\n{}", problems.join("\n"));
}

/// The workspace switcher and the chooser, at every width: Cleo, a client in two
/// workspaces, opens the switcher from inside one (the panel on screen, every link
/// reachable, nothing sticking out, no axe finding), goes to the other with it, and finds
/// both on the chooser after sign-in.
#[tokio::test(flavor = "multi_thread")]
async fn the_switcher_and_the_chooser_fit_a_desktop_and_a_phone() {
    const TEST: &str = "layout_switcher";
    if !installed_or_skip(TEST) {
        return;
    }
    let Some(axe) = Axe::installed_or_skip(TEST) else { return };
    let f = firm_with_a_client().await;
    let zeta = f.ada.add_client(f.org, "Zeta Farms of the Northern Hills").await;
    let zeta_llc = f.ada.add_entity(zeta, "Zeta LLC").await;
    f.client_user("cleo@client.test", "Cleo Client", "member", &[f.llc]).await;
    assert_eq!(f.ada.invite(zeta, "cleo@client.test", "member", &[zeta_llc]).await.status(), StatusCode::SEE_OTHER);
    let link = f.app.invite_link("cleo@client.test", 2).await;

    let b = Browser::start(TEST).await;
    log_in(&b, &f.app, "cleo@client.test").await;
    b.goto(&link).await;
    b.click_text("Accept invite").await;
    b.wait_for_path("Zeta's books after accepting", |p| p.starts_with(&format!("/w/{zeta}"))).await;
    log_in(&b, &f.app, "cleo@client.test").await;
    b.assert_path("/workspaces").await;
    b.assert_heading("Your workspaces").await;
    for (width, height) in SIZES {
        b.set_viewport(width, height).await;
        let what = format!("the chooser at {width} px");
        b.goto(&format!("{}/workspaces", f.app.base)).await;
        b.assert_text("Acme Bakery").await;
        b.assert_text("Zeta Farms of the Northern Hills").await;
        assert_fits(&b, &what).await;
        axe.check(&b, &what).await;
        b.screenshot_page(&format!("chooser-{width}")).await;

        let what = format!("the switcher at {width} px");
        b.goto(&format!("{}/w/{}/entities", f.app.base, f.ws)).await;
        let summary = b
            .client
            .find(Locator::Css("details.switcher > summary"))
            .await
            .unwrap_or_else(|e| panic!("{what}: no switcher: {e}"));
        assert_reachable(&b, &summary, &what).await;
        summary.click().await.unwrap_or_else(|e| panic!("{what}: cannot open it: {e}"));
        let links = b
            .client
            .find_all(Locator::Css("details.switcher[open] .switcher-panel a"))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(links.len(), 3, "{what}: All workspaces, Acme Bakery, Zeta Farms");
        for l in &links {
            assert_reachable(&b, l, &what).await;
        }
        assert_fits(&b, &what).await;
        axe.check(&b, &what).await;
        b.screenshot_page(&format!("switcher-{width}")).await;
        b.click_text("Zeta Farms of the Northern Hills").await;
        b.wait_for_path(&format!("{what}: Zeta's entities"), |p| p == format!("/w/{zeta}/entities")).await;
        b.assert_text("Zeta LLC").await;
    }
    b.close().await;
}
