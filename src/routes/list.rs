//! What every long list shows around its rows: the search box, the role filter, the status
//! tabs with their counts, "Previous"/"Next", all as links and a GET form so that a page of
//! a list can be bookmarked and works without JavaScript.

use crate::db::models::invite_list::{InviteCounts, COUNT_CAP};
use crate::domain::listing::{Cursor, ListQuery, Page, Status};

/// 5000 → "5,000".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A status tab: "Pending (12)", "Expired (100+)"; "All" with no count when a part of it
/// was not counted to the end.
pub struct Tab {
    pub label: &'static str,
    pub count: String,
    pub href: String,
    pub current: bool,
}

/// A choice of the role filter.
pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// The controls around a list's rows.
pub struct ListNav {
    /// The list's own path, without a query.
    pub path: String,
    /// The search as typed.
    pub q: String,
    pub status: String,
    pub role: String,
    pub roles: Vec<RoleChoice>,
    pub tabs: Vec<Tab>,
    pub previous: Option<String>,
    pub next: Option<String>,
    /// What the search box searches ("Search by name or email").
    pub search_label: &'static str,
    /// Rows match a search or filter (the page offers "Clear").
    pub filtered: bool,
}

impl ListNav {
    pub fn new<T>(path: String, query: &ListQuery, page: &Page<T>, search_label: &'static str) -> ListNav {
        let mut nav = ListNav {
            q: query.search.as_ref().map(|s| s.as_str().to_string()).unwrap_or_default(),
            status: query.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            role: query.role.clone().unwrap_or_default(),
            roles: Vec::new(),
            tabs: Vec::new(),
            previous: None,
            next: None,
            search_label,
            filtered: query.search.is_some() || query.status.is_some() || query.role.is_some(),
            path,
        };
        nav.previous = page.previous.as_ref().map(|c| nav.href(&nav.status, Some(("before", c))));
        nav.next = page.next.as_ref().map(|c| nav.href(&nav.status, Some(("after", c))));
        nav
    }

    /// The role filter's choices (`value`, `label`); the query's role if it is one of them.
    pub fn with_roles(mut self, roles: &[(&'static str, &'static str)]) -> ListNav {
        if !roles.iter().any(|(v, _)| *v == self.role) {
            self.role.clear();
        }
        self.roles =
            roles.iter().map(|&(value, label)| RoleChoice { value, label, selected: value == self.role }).collect();
        self
    }

    /// Status tabs: "All" and each status with its count (for the current search and role).
    pub fn with_tabs(self, all: i64, counts: &[(Status, i64)]) -> ListNav {
        self.with_counted_tabs(all, counts, false)
    }

    /// The same, where `people_capped` says the count of people (Active) stopped at
    /// COUNT_CAP as the counts of invites do.
    fn with_counted_tabs(mut self, all: i64, counts: &[(Status, i64)], people_capped: bool) -> ListNav {
        // Counts past COUNT_CAP were not counted to the end: "100+".
        let is_capped = |s: Status, n: i64| (s != Status::Active || people_capped) && n > COUNT_CAP;
        let words =
            |s: Status, n: i64| if is_capped(s, n) { format!("{}+", thousands(COUNT_CAP)) } else { thousands(n) };
        let capped = counts.iter().any(|&(s, n)| is_capped(s, n));
        // All: its sum is not known when a part was not counted to the end.
        let all_words = if capped { String::new() } else { thousands(all) };
        let mut tabs =
            vec![Tab { label: "All", count: all_words, href: self.href("", None), current: self.status.is_empty() }];
        for &(s, n) in counts {
            tabs.push(Tab {
                label: s.label(),
                count: words(s, n),
                href: self.href(s.as_str(), None),
                current: self.status == s.as_str(),
            });
        }
        self.tabs = tabs;
        self
    }

    /// The tabs of a list of people and then invites (Team, a client's Members): All,
    /// Active (the people), Pending, Expired and Delivery failed (the invites). The people
    /// are counted exactly (a client's) or up to COUNT_CAP (the Team's, `people_capped`).
    pub fn with_people_and_invites(self, active: i64, invites: &InviteCounts, people_capped: bool) -> ListNav {
        let statuses = [Status::Pending, Status::Expired, Status::DeliveryFailed];
        let tabs: Vec<(Status, i64)> =
            std::iter::once((Status::Active, active)).chain(statuses.map(|s| (s, invites.of(s)))).collect();
        self.with_counted_tabs(active + invites.all(), &tabs, people_capped)
    }

    /// The list with this status (and the current search and role), from the top or from
    /// a cursor.
    fn href(&self, status: &str, at: Option<(&str, &Cursor)>) -> String {
        let at_value = at.map(|(_, c)| c.to_string()).unwrap_or_default();
        let pairs = [
            ("q", self.q.as_str()),
            ("role", self.role.as_str()),
            ("status", status),
            (at.map_or("after", |(k, _)| k), at_value.as_str()),
        ];
        let kept: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query)
        }
    }
}
