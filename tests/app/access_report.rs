//! The access report: who can see which entity, with which role, since and until when,
//! invited by whom, two-factor, last sign-in; per workspace (Admins; Accountants for the
//! entities they hold) and firm-wide (Admins and Managers); on a page and as CSV.

use reqwest::StatusCode;

use crate::queries::queries_of;
use crate::support::{body_rows, firm_with_a_client, text_of, PASSWORD};

fn in_days(days: i64) -> (String, String) {
    let d = portico::clock::today() + chrono::Duration::days(days);
    (d.format("%Y-%m-%d").to_string(), d.format("%-d %b %Y").to_string())
}

/// The rows of a page's table that mention all of `needles`.
fn rows_with(page: &str, needles: &[&str]) -> Vec<String> {
    body_rows(page).into_iter().filter(|r| needles.iter().all(|n| r.contains(n))).collect()
}

#[tokio::test]
async fn an_admin_sees_who_can_see_each_entity_and_how() {
    let f = firm_with_a_client().await;
    let (_bob, bob_id) = f.client_user("bob@client.test", "Bob Booker", "member", &[f.llc]).await;
    let (until, until_words) = in_days(40);
    let r = f
        .ada
        .post(
            &format!("/w/{}/settings/members/{bob_id}/permissions", f.ws),
            &[("role", "member"), ("entity", &f.llc.to_string()), ("ends", &until)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    f.client_user("carol@client.test", "Carol Count", "accountant", &[f.llc, f.holdings]).await;

    let (status, page) = f.ada.page(&format!("/w/{}/settings/access-report", f.ws)).await;
    assert_eq!(status, StatusCode::OK);
    // Acme Holdings: Ada (the firm's Admin) and Carol; Acme LLC: Ada, Bob and Carol.
    assert_eq!(rows_with(&page, &["Acme Holdings"]).len(), 2, "{:?}", body_rows(&page));
    assert_eq!(rows_with(&page, &["Acme LLC"]).len(), 3);
    assert!(rows_with(&page, &["Acme Holdings", "bob@client.test"]).is_empty(), "Bob cannot see Holdings");
    let bob = &rows_with(&page, &["Acme LLC", "bob@client.test"])[0];
    for words in ["Member", &until_words, "Ada Ames", "Off", "just now"] {
        assert!(bob.contains(words), "Bob's row says {words:?}: {bob}");
    }
    let ada = &rows_with(&page, &["Acme LLC", "ada@firm.test"])[0];
    assert!(ada.contains("Admin") && ada.contains("Firm Admin") && ada.contains("no end date"), "{ada}");
    let carol = &rows_with(&page, &["Acme Holdings", "carol@client.test"])[0];
    assert!(carol.contains("Accountant"), "{carol}");
}

#[tokio::test]
async fn an_accountant_sees_only_their_entities_and_a_member_nothing() {
    let f = firm_with_a_client().await;
    let (carol, _) = f.client_user("carol@client.test", "Carol Count", "accountant", &[f.llc]).await;
    let (dan, _) = f.client_user("dan@client.test", "Dan Dee", "member", &[f.holdings]).await;
    let path = format!("/w/{}/settings/access-report", f.ws);

    let (status, page) = carol.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    let text = text_of(&page);
    assert!(!text.contains("Acme Holdings") && !text.contains("dan@client.test"), "{text}");
    assert!(text.contains("1 entity you cannot see is left out."), "{text}");
    assert_eq!(rows_with(&page, &["Acme LLC"]).len(), 2, "Ada and Carol");
    let (status, csv) = carol.page(&format!("{path}.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!csv.contains("Acme Holdings") && !csv.contains("dan@client.test"), "{csv}");
    let (_, members) = carol.page(&format!("/w/{}/settings/members", f.ws)).await;
    assert!(members.contains(&format!("href=\"{path}\"")), "the Members page links to it");

    assert_eq!(dan.page(&path).await.0, StatusCode::FORBIDDEN, "a Member has no report");
    assert_eq!(dan.page(&format!("{path}.csv")).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_firm_wide_report_is_for_those_who_see_every_client() {
    let f = firm_with_a_client().await;
    let beta = f.ada.add_client(f.org, "Beta Co").await;
    f.ada.add_entity(beta, "Beta LLC").await;
    f.client_user("bob@client.test", "Bob Booker", "member", &[f.llc]).await;
    let path = format!("/orgs/{}/access-report", f.org);
    let (status, page) = f.ada.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows_with(&page, &["Beta Co", "Beta LLC", "ada@firm.test"]).len(), 1);
    assert_eq!(rows_with(&page, &["Acme Bakery", "Acme LLC", "bob@client.test"]).len(), 1);
    assert!(page.contains(&format!("href=\"{path}\"")), "the sidebar links to it");

    // A Manager sees it too; a staff Member and another firm do not.
    for (email, role, status) in
        [("mia@firm.test", "manager", StatusCode::OK), ("sam@firm.test", "member", StatusCode::FORBIDDEN)]
    {
        let client = f.ws.to_string();
        let r = f
            .ada
            .post(&format!("/orgs/{}/team/invite", f.org), &[("emails", email), ("role", role), ("client", &client)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let link = f.app.invite_link(email, 1).await;
        let who = f.app.accept_as_new_user(&link, "Staff Person").await;
        assert_eq!(who.page(&path).await.0, status, "{role}");
        assert_eq!(who.page(&format!("{path}.csv")).await.0, status, "{role} CSV");
    }
    let (eve, _) = f.app.sign_up("Eve Else", "eve@other.test", "Other Books").await;
    for p in [
        path.clone(),
        format!("{path}.csv"),
        format!("/w/{}/settings/access-report", f.ws),
        format!("/w/{}/settings/access-report.csv", f.ws),
    ] {
        assert_eq!(eve.page(&p).await.0, StatusCode::NOT_FOUND, "another firm: {p}");
    }
}

#[tokio::test]
async fn the_csv_is_rfc_4180_and_safe_to_open_in_a_spreadsheet() {
    let f = firm_with_a_client().await;
    let names = [r#"Booker, "Bob""#, r#"=HYPERLINK("http://evil.test")"#, "+1 Plus", "@SUM(A1)", "-2 Minus"];
    for (i, name) in names.iter().enumerate() {
        f.client_user(&format!("p{i}@client.test"), name, "member", &[f.llc]).await;
    }
    let r = f.ada.get(&format!("/w/{}/settings/access-report.csv", f.ws)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"access-report-acme-bakery-{}.csv\"", portico::clock::today())
    );
    let body = r.text().await.unwrap();
    assert!(
        body.starts_with("Entity,Name,Email,Role,Firm staff,Since,Until,Invited by,Two-factor,Last signed in\r\n"),
        "{body}"
    );
    assert!(body.ends_with("\r\n") && !body.replace("\r\n", "").contains('\n'), "CRLF line ends only");
    for line in [
        r#"Acme LLC,"Booker, ""Bob""",p0@client.test,Member,,"#,
        r#"Acme LLC,"'=HYPERLINK(""http://evil.test"")",p1@client.test,Member,,"#,
        "Acme LLC,'+1 Plus,p2@client.test,Member,,",
        "Acme LLC,'@SUM(A1),p3@client.test,Member,,",
        "Acme LLC,'-2 Minus,p4@client.test,Member,,",
    ] {
        assert!(body.contains(line), "the CSV has {line:?}:\n{body}");
    }
    assert!(!body.contains(",=") && !body.contains(",+") && !body.contains(",@") && !body.contains(",-2"), "{body}");
}

#[tokio::test]
async fn last_signed_in_is_each_sign_in() {
    let f = firm_with_a_client().await;
    let (bob, _) = f.client_user("bob@client.test", "Bob Booker", "member", &[f.llc]).await;
    let csv_path = format!("/w/{}/settings/access-report.csv", f.ws);
    let last = |csv: &str| {
        let line = csv.lines().find(|l| l.contains("bob@client.test")).expect("Bob's line").to_string();
        line.rsplit(',').next().unwrap().to_string()
    };
    let (_, first) = f.ada.page(&csv_path).await;
    let first = last(&first);
    assert_ne!(first, "Never", "accepting signed him in");
    let stored = |app: &crate::support::TestApp| {
        use diesel::prelude::*;
        use portico::db::schema::users;
        let db = app.db.clone();
        async move {
            db.read(|c| {
                users::table.filter(users::email.eq("bob@client.test")).select(users::last_sign_in_at).first::<Option<
                    chrono::NaiveDateTime,
                >>(
                    c
                )
            })
            .await
            .unwrap()
            .expect("a last sign-in")
        }
    };
    let before = stored(&f.app).await;
    bob.log_out().await;
    let r = bob.log_in("bob@client.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = stored(&f.app).await;
    assert!(after > before, "{before} then {after}");
    let (_, csv) = f.ada.page(&csv_path).await;
    assert_eq!(last(&csv), after.format("%Y-%m-%d %H:%M UTC").to_string());
    // A wrong password is not a sign-in.
    let other = f.app.visitor();
    other.log_in("bob@client.test", "not the password at all").await;
    assert_eq!(stored(&f.app).await, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reports_query_counts_do_not_grow_with_people_or_clients() {
    let f = firm_with_a_client().await;
    f.client_user("m0@client.test", "M 0", "member", &[f.llc]).await;
    let ws_path = format!("/w/{}/settings/access-report", f.ws);
    let firm_path = format!("/orgs/{}/access-report", f.org);
    let (ws_few, _) = queries_of(&f.app, &f.ada, &ws_path).await;
    let (firm_few, _) = queries_of(&f.app, &f.ada, &firm_path).await;
    for i in 1..6 {
        f.client_user(&format!("m{i}@client.test"), &format!("M {i}"), "accountant", &[f.llc, f.holdings]).await;
        let c = f.ada.add_client(f.org, &format!("Client {i}")).await;
        f.ada.add_entity(c, &format!("Entity {i}")).await;
    }
    let (ws_many, page) = queries_of(&f.app, &f.ada, &ws_path).await;
    assert!(rows_with(&page, &["m5@client.test"]).len() == 2, "the new rows are there");
    let (firm_many, page) = queries_of(&f.app, &f.ada, &firm_path).await;
    assert!(rows_with(&page, &["Client 5", "Entity 5"]).len() == 1);
    assert_eq!(ws_few, ws_many, "workspace report: {ws_few} queries, then {ws_many}");
    assert_eq!(firm_few, firm_many, "firm report: {firm_few} queries, then {firm_many}");
}
