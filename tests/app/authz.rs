//! roles.md, route by route: every Members and invite route, tried by every kind of person,
//! with the status each must get. Refused POSTs are checked to have changed nothing.
//!
//! Firm team members are put on the team with a row in `org_memberships` (and, for access to
//! one client, in `org_client_grants`), as accepting a team invite would: the Team page is
//! not what these tests are about.

use std::fmt;

use reqwest::StatusCode;

use crate::support::{firm_with_a_client, location, text_of, Firm, TestUser};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    /// A client-side user invited into the workspace as Admin.
    WorkspaceAdmin,
    /// A client-side Accountant holding Acme LLC.
    Accountant,
    /// A client-side Member holding Acme LLC.
    Member,
    /// The firm's Admin (firm staff see every client, as workspace Admins by default).
    FirmAdmin,
    /// A firm team Member who was given this client: an Accountant of all its entities there
    /// until a workspace Admin gives them another role.
    FirmMemberWithAccess,
    /// A firm team Member who was not given this client.
    FirmMemberWithoutAccess,
    /// Someone of another firm.
    OtherFirm,
    SignedOut,
}

const ACTORS: [Actor; 8] = [
    Actor::WorkspaceAdmin,
    Actor::Accountant,
    Actor::Member,
    Actor::FirmAdmin,
    Actor::FirmMemberWithAccess,
    Actor::FirmMemberWithoutAccess,
    Actor::OtherFirm,
    Actor::SignedOut,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Settings,
    Members,
    InviteForm,
    Invite,
    PermissionsForm,
    Configure,
    RemoveForm,
    Remove,
    Resend,
    Link,
    CancelForm,
    Cancel,
    Activity,
}

const ROUTES: [Route; 13] = [
    Route::Settings,
    Route::Members,
    Route::InviteForm,
    Route::Invite,
    Route::PermissionsForm,
    Route::Configure,
    Route::RemoveForm,
    Route::Remove,
    Route::Resend,
    Route::Link,
    Route::CancelForm,
    Route::Cancel,
    Route::Activity,
];

impl Route {
    fn is_post(self) -> bool {
        matches!(self, Route::Invite | Route::Configure | Route::Remove | Route::Resend | Route::Cancel)
    }

    /// What an allowed request gets: a page, or a redirect (POSTs, and Settings → Members).
    fn allowed(self) -> StatusCode {
        if self.is_post() || self == Route::Settings {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::OK
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    /// In the workspace, but the role does not allow it.
    Forbidden,
    /// No access to the workspace at all: it does not exist for them.
    NotFound,
    LogIn,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// roles.md's workspace table, for these routes.
fn expected(route: Route, actor: Actor) -> Expect {
    use Actor::*;
    match actor {
        SignedOut => Expect::LogIn,
        OtherFirm | FirmMemberWithoutAccess => Expect::NotFound,
        Member => Expect::Forbidden,
        // The Activity trail is for workspace Admins.
        Accountant | FirmMemberWithAccess if route == Route::Activity => Expect::Forbidden,
        WorkspaceAdmin | Accountant | FirmAdmin | FirmMemberWithAccess => Expect::Allowed,
    }
}

/// The workspace, one person of each kind, and the things the routes act on.
struct World {
    f: Firm,
    /// Everyone but the firm's Admin, who is `f.ada`.
    people: Vec<(Actor, TestUser)>,
    /// A client Member the member routes act on (refused cells; allowed removals use a
    /// fresh person each).
    target: i64,
    /// A pending Member invite the invite routes act on (allowed cancels use a fresh one).
    invite: i64,
}

impl World {
    async fn new() -> World {
        let f = firm_with_a_client().await;
        let (ws, llc) = (f.ws, f.llc);
        let (admin, _) = f.client_user("cleo@client.test", "Cleo Admin", "admin", &[]).await;
        let (accountant, _) = f.client_user("carl@client.test", "Carl Accountant", "accountant", &[llc]).await;
        let (member, _) = f.client_user("mia@client.test", "Mia Member", "member", &[llc]).await;
        let (_, target) = f.client_user("tess@client.test", "Tess Target", "member", &[llc]).await;

        // Two firm team Members, who sign up first (each gets a firm of their own).
        let (with_access, _) = f.app.sign_up("Fran Staff", "fran@firm.test", "Fran Solo").await;
        let fran = f.app.user_id("fran@firm.test").await;
        f.app.add_to_team(f.org, fran, "member").await;
        f.app.grant_client(f.org, fran, ws).await;
        let (without_access, _) = f.app.sign_up("Finn Staff", "finn@firm.test", "Finn Solo").await;
        let finn = f.app.user_id("finn@firm.test").await;
        f.app.add_to_team(f.org, finn, "member").await;

        let (other, _) = f.app.sign_up("Eve Else", "eve@else.test", "Else Inc").await;
        let signed_out = f.app.visitor();

        f.invite("pending@client.test", "member", &[llc]).await;
        let invite = f.app.invite_record("pending@client.test").await.id;
        let people = vec![
            (Actor::WorkspaceAdmin, admin),
            (Actor::Accountant, accountant),
            (Actor::Member, member),
            (Actor::FirmMemberWithAccess, with_access),
            (Actor::FirmMemberWithoutAccess, without_access),
            (Actor::OtherFirm, other),
            (Actor::SignedOut, signed_out),
        ];
        World { f, people, target, invite }
    }

    fn who(&self, actor: Actor) -> &TestUser {
        if actor == Actor::FirmAdmin {
            return &self.f.ada;
        }
        &self.people.iter().find(|(a, _)| *a == actor).expect("every actor exists").1
    }

    fn path(&self, route: Route, member: i64, invite: i64) -> String {
        let ws = self.f.ws;
        match route {
            Route::Settings => format!("/w/{ws}/settings"),
            Route::Members => format!("/w/{ws}/settings/members"),
            Route::InviteForm | Route::Invite => format!("/w/{ws}/settings/members/invite"),
            Route::PermissionsForm | Route::Configure => format!("/w/{ws}/settings/members/{member}/permissions"),
            Route::RemoveForm | Route::Remove => format!("/w/{ws}/settings/members/{member}/remove"),
            Route::Resend => format!("/w/{ws}/settings/invites/{invite}/resend"),
            Route::Link => format!("/w/{ws}/settings/invites/{invite}/link"),
            Route::CancelForm | Route::Cancel => format!("/w/{ws}/settings/invites/{invite}/cancel"),
            Route::Activity => format!("/w/{ws}/settings/activity"),
        }
    }

    /// A new client Member, for an allowed removal to remove.
    async fn fresh_member(&self, n: usize) -> i64 {
        self.f.client_user(&format!("fresh{n}@client.test"), &format!("Fresh {n}"), "member", &[self.f.llc]).await.1
    }

    /// A new pending invite, for an allowed cancel to cancel.
    async fn fresh_invite(&self, n: usize) -> i64 {
        let email = format!("cancel{n}@client.test");
        let r = self.f.ada.invite(self.f.ws, &email, "member", &[self.f.llc]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        self.f.app.invite_record(&email).await.id
    }

    async fn membership_exists(&self, user: i64) -> bool {
        self.f.app.membership_rows(self.f.ws, user).await == 1
    }

    async fn role_of(&self, user: i64) -> Option<String> {
        use diesel::prelude::*;
        use portico::db::schema::workspace_memberships as m;
        let ws = self.f.ws;
        self.f
            .app
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

    async fn invite_state(&self, invite: i64) -> (String, chrono::NaiveDateTime) {
        use diesel::prelude::*;
        use portico::db::schema::invites as i;
        self.f
            .app
            .db
            .read(move |c| {
                i::table.find(invite).select((i::state, i::last_sent_at)).first::<(String, chrono::NaiveDateTime)>(c)
            })
            .await
            .unwrap()
    }
}

/// Checks a response against what was expected; None when it matches.
async fn check(r: reqwest::Response, route: Route, actor: Actor, want: Expect) -> Option<String> {
    let status = r.status();
    let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = text_of(&r.text().await.unwrap_or_default());
    let ok = match want {
        Expect::Allowed => status == route.allowed(),
        Expect::Forbidden => status == StatusCode::FORBIDDEN && body.contains("You can't do that here"),
        Expect::NotFound => status == StatusCode::NOT_FOUND && body.contains("Page not found"),
        Expect::LogIn => status == StatusCode::SEE_OTHER && loc.starts_with("/login?next="),
    };
    (!ok).then(|| {
        format!(
            "{route:?} as {actor:?}: expected {want}, got {status} {loc} {}",
            body.chars().take(160).collect::<String>()
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_members_route_answers_each_kind_of_person_as_roles_md_says() {
    let w = World::new().await;
    let app = &w.f.app;
    let mut failures = Vec::new();
    let mut fresh = 0;

    for route in ROUTES {
        for actor in ACTORS {
            let want = expected(route, actor);
            let user = w.who(actor);
            fresh += 1;
            // Allowed POSTs change things: each gets something of its own to change.
            let member =
                if route == Route::Remove && want == Expect::Allowed { w.fresh_member(fresh).await } else { w.target };
            let invite =
                if route == Route::Cancel && want == Expect::Allowed { w.fresh_invite(fresh).await } else { w.invite };
            if route == Route::Resend {
                app.allow_resend(invite).await;
            }
            let invites_before = app.invite_count().await;
            let invite_before = w.invite_state(invite).await;
            let path = w.path(route, member, invite);
            let invitee = format!("new-{fresh}@client.test");
            let llc = w.f.llc.to_string();

            let r = match route {
                Route::Invite => {
                    user.post(&path, &[("email", invitee.as_str()), ("role", "member"), ("entity", llc.as_str())]).await
                }
                Route::Configure => user.post(&path, &[("role", "accountant"), ("entity", llc.as_str())]).await,
                Route::Remove | Route::Resend | Route::Cancel => user.post(&path, &[]).await,
                _ => user.get(&path).await,
            };
            if let Some(failure) = check(r, route, actor, want).await {
                failures.push(failure);
                continue;
            }

            // What the POST did, or did not do.
            let allowed = want == Expect::Allowed;
            let cell = format!("{route:?} as {actor:?}");
            match route {
                Route::Invite => {
                    let made = app.invite_count().await - invites_before;
                    if made != i64::from(allowed) {
                        failures.push(format!("{cell}: {made} invites made"));
                    }
                }
                Route::Configure => {
                    let role = w.role_of(member).await;
                    let wanted = if allowed { "accountant" } else { "member" };
                    if role.as_deref() != Some(wanted) {
                        failures.push(format!("{cell}: the target's role is {role:?}, not {wanted}"));
                    }
                    if allowed {
                        // Back to Member for the next cell.
                        assert_eq!(
                            w.f.ada.configure_member(w.f.ws, member, "member", &[w.f.llc]).await.status(),
                            StatusCode::SEE_OTHER
                        );
                    }
                }
                Route::Remove => {
                    let still_there = w.membership_exists(member).await;
                    if still_there == allowed {
                        failures
                            .push(format!("{cell}: membership {}", if allowed { "still there" } else { "removed" }));
                    }
                }
                Route::Resend => {
                    let (state, last_sent) = w.invite_state(invite).await;
                    if (last_sent != invite_before.1) != allowed || state != "pending" {
                        failures.push(format!("{cell}: resent {} (state {state})", last_sent != invite_before.1));
                    }
                }
                Route::Cancel => {
                    let (state, _) = w.invite_state(invite).await;
                    let wanted = if allowed { "cancelled" } else { "pending" };
                    if state != wanted {
                        failures.push(format!("{cell}: the invite is {state}, not {wanted}"));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} cell(s) of the matrix are wrong:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_members_page_offers_follows_the_role() {
    let w = World::new().await;
    let ws = w.f.ws;
    // Admins: Add team, Activity, a ⋯ menu next to everyone (the Admin's own row included).
    for actor in [Actor::WorkspaceAdmin, Actor::FirmAdmin] {
        let body = w.who(actor).members_page(ws).await;
        let text = text_of(&body);
        assert!(text.contains("Add team"), "{actor:?}: {text}");
        assert!(body.contains(&format!("href=\"/w/{ws}/settings/activity\"")), "{actor:?} sees the Activity link");
        for label in ["Cleo Admin", "Carl Accountant", "Mia Member", "pending@client.test"] {
            assert!(body.contains(&format!("aria-label=\"Actions for {label}\"")), "{actor:?}: a ⋯ menu for {label}");
        }
    }
    // Nobody inside the client gets a ⋯ next to the firm's Admin: her row says she is firm
    // staff, managed on the Team page.
    for actor in [Actor::WorkspaceAdmin, Actor::FirmAdmin, Actor::Accountant, Actor::FirmMemberWithAccess] {
        let body = w.who(actor).members_page(ws).await;
        assert!(!body.contains("aria-label=\"Actions for Ada Ames\""), "{actor:?}");
        let ada = crate::support::row(&body, "ada@firm.test");
        assert!(ada.contains("Firm Admin") && ada.contains("managed on the Team page"), "{actor:?}: {ada}");
    }
    // Accountants (a firm Member working in the client is one by default): Add team, but no
    // Activity and no ⋯ next to Admins.
    for actor in [Actor::Accountant, Actor::FirmMemberWithAccess] {
        let body = w.who(actor).members_page(ws).await;
        assert!(text_of(&body).contains("Add team"), "{actor:?}");
        assert!(!body.contains(&format!("href=\"/w/{ws}/settings/activity\"")), "{actor:?}");
        assert!(!body.contains("aria-label=\"Actions for Cleo Admin\""), "{actor:?}");
        assert!(
            body.contains("aria-label=\"Actions for Mia Member\"")
                && body.contains("aria-label=\"Actions for pending@client.test\""),
            "{actor:?}"
        );
    }
    // Members: no Settings in the workspace navigation.
    let (_, body, _) = w.who(Actor::Member).visit(&format!("/w/{ws}/entities")).await;
    assert!(!body.contains(&format!("href=\"/w/{ws}/settings/members\"")), "a Member is not shown the way to Members");
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_of_another_workspace_are_not_found_here() {
    let w = World::new().await;
    let (f, ws) = (&w.f, w.f.ws);
    // Another client of the same firm, with a member and a pending invite of its own.
    let blue = f.ada.add_client(f.org, "Blue Cafe").await;
    let blue_llc = f.ada.add_entity(blue, "Blue LLC").await;
    let r = f.ada.invite(blue, "bo@blue.test", "member", &[blue_llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = f.app.invite_link("bo@blue.test", 1).await;
    f.app.accept_as_new_user(&link, "Bo Blue").await;
    let bo = f.app.user_id("bo@blue.test").await;
    let r = f.ada.invite(blue, "bea@blue.test", "member", &[blue_llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let bea = f.app.invite_record("bea@blue.test").await.id;
    f.app.allow_resend(bea).await;
    let before = f.app.invite_record("bea@blue.test").await;

    let admin = w.who(Actor::WorkspaceAdmin);
    for user in [&f.ada, admin] {
        for path in [
            format!("/w/{ws}/settings/members/{bo}/permissions"),
            format!("/w/{ws}/settings/members/{bo}/remove"),
            format!("/w/{ws}/settings/invites/{bea}/link"),
            format!("/w/{ws}/settings/invites/{bea}/cancel"),
            format!("/w/{ws}/settings/members/999999/permissions"),
            format!("/w/{ws}/settings/invites/999999/link"),
            format!("/w/{ws}/settings/invites/abc/link"),
        ] {
            assert_eq!(user.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let llc = f.llc.to_string();
        for (path, fields) in [
            (format!("/w/{ws}/settings/members/{bo}/permissions"), vec![("role", "member"), ("entity", llc.as_str())]),
            (format!("/w/{ws}/settings/members/{bo}/remove"), vec![]),
            (format!("/w/{ws}/settings/invites/{bea}/resend"), vec![]),
            (format!("/w/{ws}/settings/invites/{bea}/cancel"), vec![]),
        ] {
            assert_eq!(user.post(&path, &fields).await.status(), StatusCode::NOT_FOUND, "POST {path}");
        }
    }
    // Cleo (a client of Acme) does not reach Blue at all.
    assert_eq!(admin.get(&format!("/w/{blue}/settings/members")).await.status(), StatusCode::NOT_FOUND);
    let after = f.app.invite_record("bea@blue.test").await;
    assert_eq!(
        (after.state.as_str(), after.last_sent_at),
        ("pending", before.last_sent_at),
        "Bea's invite is untouched"
    );
    assert_eq!(f.app.membership_rows(blue, bo).await, 1, "Bo is still in Blue");
    let (_, body) = f.ada.page(&format!("/w/{blue}/settings/members")).await;
    assert!(text_of(&body).contains("Bo Blue"));
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_out_the_log_in_page_brings_one_back_to_members() {
    let w = World::new().await;
    let ws = w.f.ws;
    let visitor = w.who(Actor::SignedOut);
    let r = visitor.get(&format!("/w/{ws}/settings/members")).await;
    assert_eq!(location(&r), format!("/login?next=%2Fw%2F{ws}%2Fsettings%2Fmembers"));
    let r = visitor
        .post(
            "/login",
            &[
                ("email", "carl@client.test"),
                ("password", crate::support::PASSWORD),
                ("next", &format!("/w/{ws}/settings/members")),
            ],
        )
        .await;
    assert_eq!(location(&r), format!("/w/{ws}/settings/members"));
    assert_eq!(visitor.get(&location(&r)).await.status(), StatusCode::OK);
}
