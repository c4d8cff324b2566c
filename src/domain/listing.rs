//! Long lists (Clients, Team, Members, Pending invites, Activity): what the URL asks for
//! (a search, a status, a role, a place in the list) parsed once, and keyset pagination
//! over a list made of sections read one after another (a workspace's people, then its
//! invites), so that a page reads a fixed number of rows whatever the size of the list.

use std::fmt;

use serde::Deserialize;

/// Rows on a page.
pub const PAGE_SIZE: usize = 50;

/// A list's query string, as typed. Unknown values are ignored rather than refused: a
/// bookmark from an older version still opens the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

/// Which rows a status tab shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// People with access now.
    Active,
    /// Invites waiting for an answer, their link still good.
    Pending,
    /// Invites whose link expired unanswered.
    Expired,
    /// Invites whose email could not be delivered.
    DeliveryFailed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Active, Status::Pending, Status::Expired, Status::DeliveryFailed];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Expired => "expired",
            Status::DeliveryFailed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Pending => "Pending",
            Status::Expired => "Expired",
            Status::DeliveryFailed => "Delivery failed",
        }
    }
}

/// A search as typed (trimmed, at most 100 characters), and its SQL LIKE pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search(String);

impl Search {
    pub fn parse(s: &str) -> Option<Search> {
        let s: String = s.trim().chars().filter(|c| !c.is_control()).take(100).collect();
        (!s.is_empty()).then_some(Search(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `%acme%`, lower-cased, with `%`, `_` and `\` escaped (the pattern uses `\` as its
    /// escape character): compared with the lower-cased column.
    pub fn pattern(&self) -> String {
        let mut p = String::from("%");
        for c in self.0.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }

    /// Whether `text` contains the search, ignoring case (lists filtered in memory).
    pub fn matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.0.to_lowercase())
    }
}

/// A place in a list: the section of the list, then the row's sort key and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub section: u8,
    pub key: String,
    pub id: i64,
}

impl Cursor {
    pub fn new(section: u8, key: impl Into<String>, id: i64) -> Cursor {
        Cursor { section, key: key.into(), id }
    }

    /// `1.42.Acme Bakery`: section, id, key (the key may hold dots).
    pub fn parse(s: &str) -> Option<Cursor> {
        let mut parts = s.splitn(3, '.');
        let section = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        // A key is a name, or a name and an email (at most 120 + 254 characters).
        let key = parts.next().unwrap_or("").chars().take(400).collect();
        Some(Cursor { section, key, id })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.section, self.id, self.key)
    }
}

/// Where a page starts: the top, after a row ("Next"), or before one ("Previous").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    First,
    After(Cursor),
    Before(Cursor),
}

/// How one section is read for a page.
#[derive(Clone, Copy, Debug)]
pub enum Bound<'a> {
    /// From its first row, in list order.
    Start,
    /// From just after this row, in list order.
    After(&'a Cursor),
    /// From just before this row, backwards.
    Before(&'a Cursor),
    /// From its last row, backwards.
    End,
}

impl Bound<'_> {
    pub fn backwards(&self) -> bool {
        matches!(self, Bound::Before(_) | Bound::End)
    }
}

/// A list's filters and place, parsed from its URL.
#[derive(Clone, Debug)]
pub struct ListQuery {
    pub search: Option<Search>,
    pub status: Option<Status>,
    /// A role of the list's kind (`admin`, `accountant`…), checked by the list.
    pub role: Option<String>,
    pub direction: Direction,
}

impl ListQuery {
    pub fn parse(p: &ListParams) -> ListQuery {
        let direction = match (Cursor::parse(&p.after), Cursor::parse(&p.before)) {
            (Some(c), _) => Direction::After(c),
            (None, Some(c)) => Direction::Before(c),
            (None, None) => Direction::First,
        };
        let role = p.role.trim();
        ListQuery {
            search: Search::parse(&p.q),
            status: Status::parse(p.status.trim()),
            role: (!role.is_empty() && role.len() <= 20).then(|| role.to_string()),
            direction,
        }
    }

    /// The role filter, if it is one of the list's (`value`, `label`) roles; else no filter.
    pub fn with_roles(mut self, roles: &[(&str, &str)]) -> ListQuery {
        self.role = self.role.filter(|r| roles.iter().any(|(v, _)| v == r));
        self
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// "Previous": the rows before the first one shown.
    pub previous: Option<Cursor>,
    /// "Next": the rows after the last one shown.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { rows: self.rows.into_iter().map(f).collect(), previous: self.previous, next: self.next }
    }
}

/// Reads one page of a list made of `sections` (in list order): `read(section, bound, n)`
/// gives at most `n` rows of one section with their cursors, in list order for a forward
/// bound and in reverse for a backward one. At most one read per section, whatever the
/// length of the list.
pub fn page_of<T, E>(
    sections: &[u8],
    direction: &Direction,
    mut read: impl FnMut(u8, Bound<'_>, usize) -> Result<Vec<(T, Cursor)>, E>,
) -> Result<Page<T>, E> {
    let want = PAGE_SIZE + 1;
    let mut got: Vec<(T, Cursor)> = Vec::new();
    match direction {
        Direction::First | Direction::After(_) => {
            let from = match direction {
                Direction::After(c) => Some(c),
                _ => None,
            };
            for &s in sections {
                let bound = match from {
                    Some(c) if s < c.section => continue,
                    Some(c) if s == c.section => Bound::After(c),
                    _ => Bound::Start,
                };
                got.extend(read(s, bound, want - got.len())?);
                if got.len() >= want {
                    break;
                }
            }
            let more = got.len() > PAGE_SIZE;
            got.truncate(PAGE_SIZE);
            let next = if more { got.last().map(|(_, c)| c.clone()) } else { None };
            let previous = if from.is_some() { got.first().map(|(_, c)| c.clone()) } else { None };
            Ok(Page { rows: got.into_iter().map(|(t, _)| t).collect(), previous, next })
        }
        Direction::Before(c) => {
            for &s in sections.iter().rev() {
                let bound = match s.cmp(&c.section) {
                    std::cmp::Ordering::Greater => continue,
                    std::cmp::Ordering::Equal => Bound::Before(c),
                    std::cmp::Ordering::Less => Bound::End,
                };
                got.extend(read(s, bound, want - got.len())?);
                if got.len() >= want {
                    break;
                }
            }
            let more = got.len() > PAGE_SIZE;
            got.truncate(PAGE_SIZE);
            got.reverse();
            let previous = if more { got.first().map(|(_, c)| c.clone()) } else { None };
            // Going back from a row: that row and what follows it are the next page.
            let next = got.last().map(|(_, c)| c.clone());
            Ok(Page { rows: got.into_iter().map(|(t, _)| t).collect(), previous, next })
        }
    }
}

/// Pages a section held in memory, sorted in list order by `cursor`: a binary search for
/// the bound, and only the rows of the page are cloned.
pub fn slice_of<T: Clone>(rows: &[T], cursor: impl Fn(&T) -> Cursor, bound: Bound<'_>, n: usize) -> Vec<(T, Cursor)> {
    let place = |r: &T| {
        let c = cursor(r);
        (c.key, c.id)
    };
    let at = |c: &Cursor| (c.key.clone(), c.id);
    let (from, to, backwards) = match bound {
        Bound::Start => (0, n.min(rows.len()), false),
        Bound::After(c) => {
            let from = rows.partition_point(|r| place(r) <= at(c));
            (from, (from + n).min(rows.len()), false)
        }
        Bound::Before(c) => {
            let to = rows.partition_point(|r| place(r) < at(c));
            (to.saturating_sub(n), to, true)
        }
        Bound::End => (rows.len().saturating_sub(n), rows.len(), true),
    };
    let mut picked: Vec<(T, Cursor)> = rows[from..to].iter().map(|r| (r.clone(), cursor(r))).collect();
    if backwards {
        picked.reverse();
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: i64) -> Vec<i64> {
        (1..=n).collect()
    }

    /// Two sections of ids, paged in memory.
    fn page(a: &[i64], b: &[i64], d: &Direction) -> Page<i64> {
        let cur = |s: u8| move |x: &i64| Cursor::new(s, "", *x);
        page_of::<i64, ()>(&[0, 1], d, |s, bound, n| {
            let rows = if s == 0 { a } else { b };
            Ok(slice_of(rows, cur(s), bound, n))
        })
        .unwrap()
    }

    #[test]
    fn pages_walk_forward_and_back_across_sections() {
        let (a, b) = (list(30), list(45));
        let p1 = page(&a, &b, &Direction::First);
        assert_eq!(p1.rows.len(), 50);
        assert_eq!(p1.rows[29], 30);
        assert_eq!(p1.rows[30], 1);
        assert!(p1.previous.is_none());
        let p2 = page(&a, &b, &Direction::After(p1.next.clone().unwrap()));
        assert_eq!(p2.rows, (21..=45).collect::<Vec<_>>());
        assert!(p2.next.is_none());
        let back = page(&a, &b, &Direction::Before(p2.previous.clone().unwrap()));
        assert_eq!(back.rows, p1.rows);
        assert!(back.previous.is_none(), "the first page has no Previous");
        assert_eq!(back.next, p1.next);
    }

    #[test]
    fn an_exact_page_has_no_next() {
        let p = page(&list(50), &[], &Direction::First);
        assert_eq!(p.rows.len(), 50);
        assert!(p.next.is_none());
        let p = page(&list(51), &[], &Direction::First);
        assert_eq!(p.next, Some(Cursor::new(0, "", 50)));
    }

    #[test]
    fn cursors_round_trip_with_dots_in_the_key() {
        let c = Cursor::new(1, "Acme Co. Ltd.", 42);
        assert_eq!(Cursor::parse(&c.to_string()), Some(c));
        assert_eq!(Cursor::parse("x.1.a"), None);
        assert_eq!(Cursor::parse(""), None);
    }

    #[test]
    fn search_patterns_escape_like_wildcards() {
        let s = Search::parse("  50%_Off\\ ").unwrap();
        assert_eq!(s.pattern(), "%50\\%\\_off\\\\%");
        assert!(Search::parse("   ").is_none());
        assert!(s.matches("Get 50%_OFF\\ now"));
    }
}
