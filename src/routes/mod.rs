//! The route table and what every page shares (the layout, flash messages, helpers).

mod account;
mod auth;
mod clients;
mod dev_mailbox;
mod email_delivery;
mod entities;
mod form;
mod home;
mod invite_actions;
mod invites;
mod list;
mod members;
mod operator;
mod password;
mod report;
mod static_files;
mod team;
mod two_factor;
mod verify;

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::auth::session::{self, Flash, FlashKind};
use crate::auth::{OrgContext, WorkspaceContext};
use crate::db::models::access::WorkspaceAccess;
use crate::db::models::places::Places;
use crate::db::models::user::User;
use crate::domain::access::{self as rules, Kind, OrgAction, WorkspaceAction};
use crate::domain::two_factor::{Demand, Verdict};
use crate::domain::OrgRole;
use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/workspaces", web::get().to(home::chooser))
        .route("/healthz", web::get().to(operator::health))
        .route("/readyz", web::get().to(operator::ready))
        .route("/metrics", web::get().to(operator::metrics))
        .route("/static/{file}", web::get().to(static_files::serve))
        .route("/signup", web::get().to(auth::signup_form))
        .route("/signup", web::post().to(auth::signup))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/login/two-factor", web::get().to(two_factor::code_form))
        .route("/login/two-factor", web::post().to(two_factor::code))
        .route("/account/two-factor", web::get().to(two_factor::show))
        .route("/account/two-factor/setup", web::post().to(two_factor::begin))
        .route("/account/two-factor/setup", web::get().to(two_factor::setup))
        .route("/account/two-factor/confirm", web::post().to(two_factor::confirm))
        .route("/account/two-factor/disable", web::post().to(two_factor::disable))
        .route("/account/two-factor/recovery-codes", web::post().to(two_factor::new_codes))
        .route("/orgs/{org}/settings/security", web::get().to(two_factor::firm_form))
        .route("/orgs/{org}/settings/security", web::post().to(two_factor::firm_save))
        .route("/w/{ws}/settings/security", web::get().to(two_factor::workspace_form))
        .route("/w/{ws}/settings/security", web::post().to(two_factor::workspace_save))
        .route("/account/security", web::get().to(account::security))
        .route("/account/security/password", web::post().to(account::change_password))
        .route("/account/security/sessions/end-others", web::post().to(account::end_other_sessions))
        .route("/account/security/sessions/{session}/end", web::post().to(account::end_session))
        .route("/orgs/{org}/clients", web::get().to(clients::list))
        .route("/orgs/{org}/clients", web::post().to(clients::add))
        .route("/orgs/{org}/clients/new", web::get().to(clients::new_form))
        .route("/orgs/{org}/team", web::get().to(team::list))
        .route("/orgs/{org}/team/invite", web::get().to(team::invite_form))
        .route("/orgs/{org}/team/invite", web::post().to(team::invite))
        .route("/orgs/{org}/team/{user}/permissions", web::get().to(team::permissions_form))
        .route("/orgs/{org}/team/{user}/permissions", web::post().to(team::configure))
        .route("/orgs/{org}/team/{user}/remove", web::get().to(team::remove_form))
        .route("/orgs/{org}/team/{user}/remove", web::post().to(team::remove))
        .configure(|cfg| invite_actions::routes(cfg, "/orgs/{org}/team/invites/{invite}"))
        .route("/orgs/{org}/email", web::get().to(email_delivery::page))
        .route("/orgs/{org}/access-report", web::get().to(report::firm_page))
        .route("/orgs/{org}/access-report.csv", web::get().to(report::firm_csv))
        .route("/orgs/{org}/invites", web::get().to(team::pending))
        .route("/orgs/{org}/invites", web::post().to(team::bulk))
        .route("/w/{ws}", web::get().to(entities::workspace_home))
        .route("/w/{ws}/entities", web::get().to(entities::list))
        .route("/w/{ws}/entities", web::post().to(entities::add))
        .route("/w/{ws}/entities/new", web::get().to(entities::new_form))
        .route("/w/{ws}/entities/{entity}", web::get().to(entities::books))
        .route("/w/{ws}/entities/{entity}/transactions", web::post().to(entities::add_transaction))
        .route("/w/{ws}/settings", web::get().to(members::settings_home))
        .route("/w/{ws}/settings/members", web::get().to(members::list))
        .route("/w/{ws}/settings/members/invite", web::get().to(members::invite_form))
        .route("/w/{ws}/settings/members/invite", web::post().to(members::invite))
        .route("/w/{ws}/settings/members/{user}/permissions", web::get().to(members::permissions_form))
        .route("/w/{ws}/settings/members/{user}/permissions", web::post().to(members::configure))
        .route("/w/{ws}/settings/access-report", web::get().to(report::workspace_page))
        .route("/w/{ws}/settings/access-report.csv", web::get().to(report::workspace_csv))
        .route("/w/{ws}/settings/members/{user}/extend", web::get().to(members::extend_form))
        .route("/w/{ws}/settings/members/{user}/extend", web::post().to(members::extend))
        .route("/w/{ws}/settings/members/{user}/remove", web::get().to(members::remove_form))
        .route("/w/{ws}/settings/members/{user}/remove", web::post().to(members::remove))
        .configure(|cfg| invite_actions::routes(cfg, "/w/{ws}/settings/invites/{invite}"))
        .route("/w/{ws}/settings/activity", web::get().to(members::activity))
        .route("/invites/{token}", web::get().to(invites::landing))
        .route("/invites/{token}/accept", web::post().to(invites::accept))
        .route("/invites/{token}/register", web::post().to(invites::register))
        .route("/invites/{token}/new-link", web::post().to(invites::new_link))
        .route("/verify-email", web::post().to(verify::resend))
        .route("/verify-email/{token}", web::get().to(verify::page))
        .route("/verify-email/{token}", web::post().to(verify::confirm))
        .route("/password/forgot", web::get().to(password::forgot_form))
        .route("/password/forgot", web::post().to(password::forgot))
        .route("/password/reset/{token}", web::get().to(password::reset_form))
        .route("/password/reset/{token}", web::post().to(password::reset))
        .route("/dev/mailbox", web::get().to(dev_mailbox::list))
        .route("/dev/mailbox/{id}", web::get().to(dev_mailbox::show));
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// The frame around every page: who is signed in, the firm sidebar, the workspace top bar,
/// the workspace switcher and the breadcrumb.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub user: Option<UserChip>,
    pub sidebar: Option<Sidebar>,
    pub topbar: Option<Topbar>,
    /// Every firm and workspace the viewer can open (signed-in pages).
    pub switcher: Option<Switcher>,
    /// Firm › client › page, on every workspace page.
    pub crumbs: Vec<Crumb>,
    /// A firm or workspace requires two-factor authentication and the viewer has not turned
    /// it on yet (still within the grace period): the notice, with the date.
    pub two_factor_notice: Option<String>,
}

pub struct UserChip {
    pub name: String,
    pub email: String,
    pub initials: String,
    /// Not yet confirmed: every page says so, with "Send it again".
    pub unverified: bool,
}

pub struct Sidebar {
    pub org_id: i64,
    pub org_name: String,
    pub can_view_team: bool,
    /// The firm's Security settings (require two-factor authentication).
    pub can_manage_security: bool,
    /// The Email delivery page (firm Admins).
    pub can_view_email_delivery: bool,
    /// The firm's access report (firm Admins and Managers).
    pub can_view_access_report: bool,
    /// "clients", "team", "pending", "security", "email" or "report".
    pub current: &'static str,
}

pub struct Topbar {
    pub ws_id: i64,
    pub ws_name: String,
    pub can_view_members: bool,
    /// "entities" or "settings".
    pub current: &'static str,
}

/// The header's workspace switcher: every place, grouped by firm, the current one marked.
pub struct Switcher {
    /// What the button says: the current workspace or firm, else "Your workspaces".
    pub label: String,
    pub firms: Vec<SwitcherFirm>,
    /// Not every workspace is listed: "All workspaces" shows them.
    pub truncated: bool,
}

pub struct SwitcherFirm {
    pub name: String,
    /// The firm's Clients page, for its staff; None for a client of the firm.
    pub href: Option<String>,
    pub current: bool,
    pub workspaces: Vec<SwitcherItem>,
}

pub struct SwitcherItem {
    pub name: String,
    pub href: String,
    pub current: bool,
}

/// One step of the breadcrumb; the last one is the page itself (no link).
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

/// What the viewer is looking at, for marking it in the switcher.
enum Here {
    Nowhere,
    Firm(i64),
    Workspace(i64),
}

impl Switcher {
    /// None when the places were not read (a form's POST shown again).
    fn of(places: &Places, here: Here) -> Option<Switcher> {
        places.loaded.then(|| Switcher::new(places, here))
    }

    fn new(places: &Places, here: Here) -> Switcher {
        let mut label = None;
        let firms = places
            .firms
            .iter()
            .map(|f| {
                let current = matches!(here, Here::Firm(id) if id == f.org_id.0);
                if current {
                    label = Some(f.org_name.clone());
                }
                let workspaces = f
                    .workspaces
                    .iter()
                    .map(|w| {
                        let current = matches!(here, Here::Workspace(id) if id == w.id.0);
                        if current {
                            label = Some(w.name.clone());
                        }
                        SwitcherItem { name: w.name.clone(), href: format!("/w/{}", w.id.0), current }
                    })
                    .collect();
                let href = f.staff.then(|| format!("/orgs/{}/clients", f.org_id.0));
                SwitcherFirm { name: f.org_name.clone(), href, current, workspaces }
            })
            .collect();
        Switcher { label: label.unwrap_or_else(|| "Your workspaces".into()), firms, truncated: places.truncated }
    }
}

impl Layout {
    /// A page outside any firm or workspace (sign-up, log in, invite pages).
    pub fn public(session: &Session, title: impl Into<String>, user: Option<&User>) -> Layout {
        Layout {
            title: title.into(),
            csrf: session::csrf_token(session),
            flash: session::take_flash(session),
            user: user.map(chip),
            sidebar: None,
            topbar: None,
            switcher: None,
            crumbs: Vec::new(),
            two_factor_notice: None,
        }
    }

    /// A signed-in page of one's own (account, security, mailbox): with the switcher.
    pub fn personal(session: &Session, title: impl Into<String>, user: &User, places: &Places) -> Layout {
        Layout { switcher: Switcher::of(places, Here::Nowhere), ..Layout::public(session, title, Some(user)) }
    }

    /// A page of the firm (Clients, Team).
    pub fn org(session: &Session, title: impl Into<String>, ctx: &OrgContext, current: &'static str) -> Layout {
        let m = &ctx.membership;
        Layout {
            sidebar: Some(sidebar(m.org_id.0, &m.org_name, m.role, current)),
            switcher: Switcher::of(&ctx.places, Here::Firm(m.org_id.0)),
            two_factor_notice: two_factor_notice(&ctx.user, m.two_factor_demand().as_slice()),
            ..Layout::public(session, title, Some(&ctx.user))
        }
    }

    /// A page inside a client's workspace. Firm staff also see their firm's sidebar.
    pub fn workspace(
        session: &Session,
        title: impl Into<String>,
        ctx: &WorkspaceContext,
        current: &'static str,
    ) -> Layout {
        let (a, title) = (&ctx.access, title.into());
        let staff = a.staff.as_ref().filter(|_| a.standing.kind != Kind::Client);
        Layout {
            sidebar: staff.map(|s| sidebar(a.workspace.org_id.0, &a.workspace.org_name, s.role, "clients")),
            topbar: Some(Topbar {
                ws_id: a.workspace.id.0,
                ws_name: a.workspace.name.clone(),
                can_view_members: rules::may(&a.standing, WorkspaceAction::ViewMembers),
                current,
            }),
            switcher: Switcher::of(&ctx.places, Here::Workspace(a.workspace.id.0)),
            crumbs: crumbs(a, staff.is_some(), current, &title),
            two_factor_notice: two_factor_notice(&ctx.user, &a.two_factor),
            ..Layout::public(session, title, Some(&ctx.user))
        }
    }
}

/// Firm › client › section › page. The firm links to its Clients page for its staff only.
fn crumbs(a: &WorkspaceAccess, staff: bool, current: &'static str, title: &str) -> Vec<Crumb> {
    let ws = a.workspace.id.0;
    let section = match current {
        "entities" => ("Entities", format!("/w/{ws}/entities")),
        _ => ("Settings", format!("/w/{ws}/settings")),
    };
    let mut out = vec![
        Crumb {
            label: a.workspace.org_name.clone(),
            href: staff.then(|| format!("/orgs/{}/clients", a.workspace.org_id.0)),
        },
        Crumb { label: a.workspace.name.clone(), href: Some(format!("/w/{ws}")) },
        Crumb { label: section.0.into(), href: Some(section.1) },
    ];
    // Pages under Settings → Members (its forms and confirmations) sit below Members.
    if current == "settings" && !["Settings", "Members", "Activity", "Security"].contains(&title) {
        out.push(Crumb { label: "Members".into(), href: Some(format!("/w/{ws}/settings/members")) });
    }
    if title != section.0 {
        out.push(Crumb { label: title.to_string(), href: None });
    } else if let Some(last) = out.last_mut() {
        last.href = None;
    }
    out
}

fn two_factor_notice(user: &User, demands: &[Demand]) -> Option<String> {
    let now = crate::db::models::now();
    match Verdict::of(user.has_two_factor(), demands, now) {
        Verdict::Notice(d) => Some(d.notice_message(now)),
        Verdict::Clear | Verdict::Blocked(_) => None,
    }
}

fn sidebar(org_id: i64, org_name: &str, role: OrgRole, current: &'static str) -> Sidebar {
    Sidebar {
        org_id,
        org_name: org_name.to_string(),
        can_view_team: rules::org_may(role, OrgAction::ViewTeam),
        can_manage_security: rules::org_may(role, OrgAction::RequireTwoFactor),
        can_view_email_delivery: rules::org_may(role, OrgAction::ViewEmailDelivery),
        can_view_access_report: rules::org_may(role, OrgAction::ViewAccessReport),
        current,
    }
}

fn chip(u: &User) -> UserChip {
    UserChip { name: u.name.clone(), email: u.email.clone(), initials: initials(&u.name), unverified: !u.is_verified() }
}

pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let last = words.last().and_then(|w| w.chars().next());
    [first, last].into_iter().flatten().flat_map(char::to_uppercase).collect()
}

/// What a person is called on the page: their name, or their email when they gave none.
pub fn display_name<'a>(name: &'a str, email: &'a str) -> &'a str {
    if name.is_empty() {
        email
    } else {
        name
    }
}

/// How an invite's email is doing, as a badge: words and class. An email failing for
/// longer than a few retries says for how long.
pub fn delivery_words(d: &crate::db::models::outbox::Delivery) -> (String, &'static str) {
    use crate::db::models::outbox::Delivery;
    match d {
        Delivery::Sent(_) => ("Email sent".into(), "badge-info"),
        Delivery::NotSentYet => ("Email not sent yet".into(), "badge-warn"),
        Delivery::Retrying { since: Some(since) }
            if crate::db::models::now() - *since >= chrono::Duration::minutes(LONG_FAILING_MINUTES) =>
        {
            (format!("Email failing for {}", duration_words(*since, crate::db::models::now())), "badge-warn")
        }
        Delivery::Retrying { .. } => ("Email failed, retrying".into(), "badge-warn"),
        Delivery::Failed => ("Email failed".into(), "badge-warn"),
    }
}

/// After this long, a failing email's badge says how long it has been failing.
pub const LONG_FAILING_MINUTES: i64 = 15;

/// How long from `since` to `now`, in words: "2 hours", "less than a minute".
pub fn duration_words(since: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> String {
    let ago = relative(since, now);
    match ago.strip_suffix(" ago") {
        Some(d) => d.to_string(),
        None => "less than a minute".into(),
    }
}

/// Post/redirect/get: a 303 to `to`, with a flash message for the next page.
pub fn redirect_with(session: &Session, to: &str, kind: FlashKind, message: impl Into<String>) -> HttpResponse {
    session::flash(session, kind, message);
    redirect(to)
}

pub fn redirect(to: &str) -> HttpResponse {
    // Every target is the app's own or passed `safe_next`; should one still not make a
    // header, home is better than a 500.
    let to = header::HeaderValue::from_str(to).unwrap_or(header::HeaderValue::from_static("/"));
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// A page (form with errors) re-rendered with a status other than 200.
pub fn render_with_status<T: askama::Template>(
    status: actix_web::http::StatusCode,
    page: T,
) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

pub fn render<T: askama::Template>(page: T) -> Result<HttpResponse, AppError> {
    render_with_status(actix_web::http::StatusCode::OK, page)
}

/// Percent-encodes a value for a query string.
pub fn encode_query(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_string()).unwrap_or_default()
}

/// A `next` target must stay on this site: `/` followed by anything but `/` or `\`, with
/// no backslash, whitespace or control character anywhere (browsers drop tabs and line
/// breaks and read `\` as `/`, so `/\t/evil.example` would leave the site).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    let mut chars = n.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && n.len() <= 2000
        && !n.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace() || crate::domain::is_invisible(c));
    ok.then(|| n.to_string())
}

/// Invite, email verification and password reset tokens must never reach the logs.
pub fn redact_path(path: &str) -> String {
    for prefix in ["/invites/", "/verify-email/", "/password/reset/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return match rest.split_once('/') {
                Some((_, tail)) => format!("{prefix}[token]/{tail}"),
                None => format!("{prefix}[token]"),
            };
        }
    }
    path.to_string()
}

/// Times as pages show them: relative ("3 minutes ago", "in 7 days"), with the exact
/// time in a `title`.
pub trait TimeWords {
    fn ago(&self) -> String;
    fn exact(&self) -> String;
    /// An invite's expiry: "expires in 7 days", or "expired 2 days ago".
    fn expiry(&self) -> String;
}

impl TimeWords for chrono::NaiveDateTime {
    fn ago(&self) -> String {
        relative(*self, crate::db::models::now())
    }

    fn exact(&self) -> String {
        self.format("%Y-%m-%d %H:%M UTC").to_string()
    }

    fn expiry(&self) -> String {
        let now = crate::db::models::now();
        if *self > now {
            format!("expires {}", relative(*self, now))
        } else {
            format!("expired {}", relative(*self, now))
        }
    }
}

/// `t` seen from `now`, rounded to the nearest unit: a 7-day invite sent a second ago
/// expires "in 7 days" (not 6 days 23:59:59 floored to 6), 59.6 minutes is "1 hour".
fn relative(t: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = if secs >= 0 { (secs, false) } else { (-secs, true) };
    // Rounded half up, in whole units of `unit` seconds.
    let round = |unit: i64| (n + unit / 2) / unit;
    let text = if n < 60 {
        return if future { "in less than a minute".into() } else { "just now".into() };
    } else if round(60) < 60 {
        plural(round(60), "minute")
    } else if round(3600) < 24 {
        plural(round(3600), "hour")
    } else {
        plural(round(86_400), "day")
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(initials("Ada  Lovelace King"), "AK");
        assert_eq!(initials("cleo"), "C");
        assert_eq!(safe_next(Some("/w/1")), Some("/w/1".into()));
        assert_eq!(safe_next(Some("//evil.test")), None);
        assert_eq!(safe_next(Some("https://evil.test")), None);
        assert_eq!(safe_next(Some("/")), Some("/".into()));
        assert_eq!(safe_next(Some("/w/1?tab=a%2Fb")), Some("/w/1?tab=a%2Fb".into()));
        for bad in [
            "",
            "w/1",
            "/\\evil.test",
            "/\t/evil.example/x",
            "\t//evil.test",
            " /w/1",
            "/w/1\n",
            "/a\\b",
            "/\u{0}",
            "/\u{7f}",
            "/x\u{202e}y",
            "/\u{200b}/evil.test",
            "http:/evil.test",
            "/w 1",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?} must be refused");
        }
        assert_eq!(redact_path("/invites/abc/accept"), "/invites/[token]/accept");
        assert_eq!(redact_path("/invites/abc"), "/invites/[token]");
        assert_eq!(redact_path("/verify-email/abc"), "/verify-email/[token]");
        assert_eq!(redact_path("/password/reset/abc"), "/password/reset/[token]");
        assert_eq!(redact_path("/password/forgot"), "/password/forgot");
        assert_eq!(encode_query("/invites/a b?c"), "%2Finvites%2Fa+b%3Fc");
    }

    #[test]
    fn relative_times_round_to_the_nearest_unit() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).and_then(|d| d.and_hms_opt(12, 0, 0)).expect("a date");
        let s = chrono::Duration::seconds;
        let cases = [
            (s(1), "just now", "in less than a minute"),
            (s(59), "just now", "in less than a minute"),
            (s(60), "1 minute ago", "in 1 minute"),
            (s(89), "1 minute ago", "in 1 minute"),
            (s(90), "2 minutes ago", "in 2 minutes"),
            (s(59 * 60 + 29), "59 minutes ago", "in 59 minutes"),
            // 59.6 minutes
            (s(59 * 60 + 36), "1 hour ago", "in 1 hour"),
            (s(89 * 60), "1 hour ago", "in 1 hour"),
            (s(90 * 60), "2 hours ago", "in 2 hours"),
            (s(23 * 3600 + 29 * 60), "23 hours ago", "in 23 hours"),
            // 23.6 hours
            (s(23 * 3600 + 36 * 60), "1 day ago", "in 1 day"),
            (s(36 * 3600 - 1), "1 day ago", "in 1 day"),
            (s(36 * 3600), "2 days ago", "in 2 days"),
            // 6 days 11 hours: nearer 6 than 7
            (s(6 * 86_400 + 11 * 3600), "6 days ago", "in 6 days"),
            // 6 days 23 hours, and a 7-day invite a second after it was sent
            (s(6 * 86_400 + 23 * 3600), "7 days ago", "in 7 days"),
            (s(7 * 86_400 - 1), "7 days ago", "in 7 days"),
            (s(7 * 86_400), "7 days ago", "in 7 days"),
        ];
        for (d, past, future) in cases {
            assert_eq!(relative(now - d, now), past, "{d} ago");
            assert_eq!(relative(now + d, now), future, "in {d}");
        }
    }
}
