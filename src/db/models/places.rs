//! Where a person can go: every firm they work for and every workspace they can open,
//! grouped by firm. Read for the header's workspace switcher on every page and for the
//! chooser after sign-in, in two queries whatever the number of firms and clients.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_client_grants, org_memberships, organizations, workspace_memberships, workspaces};
use crate::db::DbConnection;
use crate::domain::access::sees_all_clients;
use crate::domain::{OrgId, OrgRole, UserId, WorkspaceId};

/// One workspace in the switcher.
pub struct PlaceLink {
    pub id: WorkspaceId,
    pub name: String,
}

/// A firm and the workspaces of it that the person can open.
pub struct FirmPlaces {
    pub org_id: OrgId,
    pub org_name: String,
    /// They are on the firm's team (its Clients page is theirs); else they are a client of it.
    pub staff: bool,
    pub workspaces: Vec<PlaceLink>,
}

/// Every place, firms in name order, each with its workspaces in name order.
#[derive(Default)]
pub struct Places {
    pub firms: Vec<FirmPlaces>,
    /// More workspaces exist than were read (`limit`): the lists end with a link to all.
    pub truncated: bool,
    /// Read from the database: for pages (GET); a form's POST renders no switcher.
    pub loaded: bool,
}

impl Places {
    pub fn workspace_count(&self) -> usize {
        self.firms.iter().map(|f| f.workspaces.len()).sum()
    }

    /// Where a person belongs after sign-in, when that is one place: the only firm they
    /// work for (its Clients page lists its clients), or their only workspace.
    pub fn only_place(&self) -> Option<String> {
        match self.firms.as_slice() {
            [f] if f.staff => Some(format!("/orgs/{}/clients", f.org_id.0)),
            [f] if !self.truncated => match f.workspaces.as_slice() {
                [w] => Some(format!("/w/{}", w.id.0)),
                _ => None,
            },
            _ => None,
        }
    }
}

type Row = (i64, String, i64, String);

/// Workspaces matching a filter, with their firm, by firm then name: at most `limit` + 1
/// (the one more says there are more).
macro_rules! workspace_rows {
    ($conn:expr, $which:expr, $limit:expr) => {
        workspaces::table
            .inner_join(organizations::table)
            .filter($which)
            .order((organizations::name.asc(), organizations::id.asc(), workspaces::name.asc(), workspaces::id.asc()))
            .select((organizations::id, organizations::name, workspaces::id, workspaces::name))
            .limit($limit + 1)
            .load::<Row>($conn)
    };
}
/// The places of `user`: the firms they work for, always all of them; the workspaces other
/// firms invited them into, and the clients of their own firms they can open, at most
/// `limit` of each (a firm's Clients page lists all of its clients). At most four queries:
/// the chosen clients' and the every-client firms' only when there are such firms.
pub fn places_of(conn: &mut DbConnection, user: UserId, limit: i64) -> QueryResult<Places> {
    let teams = org_memberships::table
        .inner_join(organizations::table)
        .filter(org_memberships::user_id.eq(user.0))
        .select((
            org_memberships::id,
            organizations::id,
            organizations::name,
            org_memberships::role,
            org_memberships::clients_until,
        ))
        .load::<(i64, i64, String, String, Option<NaiveDateTime>)>(conn)?;
    let (mut every_client, mut chosen) = (Vec::new(), Vec::new());
    let team_orgs: Vec<i64> = teams.iter().map(|t| t.1).collect();
    for (mid, org, _, role, until) in &teams {
        match OrgRole::parse(role) {
            Some(r) if sees_all_clients(r) => every_client.push(*org),
            // Client access past its end date reaches nothing.
            Some(_) if super::access::lapsed(*until) => {}
            Some(_) => chosen.push(*mid),
            None => {}
        }
    }
    let seated = workspace_memberships::table
        .filter(workspace_memberships::user_id.eq(user.0))
        .filter(super::access::seat_is_live(super::now()))
        .select(workspace_memberships::workspace_id);
    // Staff reach their own firm's clients only through their client access: a seat of
    // their own in one of them counts for nothing here.
    let mut guest =
        workspace_rows!(conn, workspaces::id.eq_any(seated).and(workspaces::organization_id.ne_all(team_orgs)), limit)?;
    // The clients chosen for them in firms where they are a Member (none: no query).
    let mut staff = if chosen.is_empty() {
        Vec::new()
    } else {
        let granted = org_client_grants::table
            .filter(org_client_grants::membership_id.eq_any(chosen))
            .select(org_client_grants::workspace_id);
        workspace_rows!(conn, workspaces::id.eq_any(granted), limit)?
    };
    // Every client of the firms whose Admins and Managers see them all: in the order of
    // the (organization_id, name) index, so that a firm of 5,000 clients reads 51 of them
    // rather than sorting them all on every page.
    if !every_client.is_empty() {
        let all = workspaces::table
            .inner_join(organizations::table)
            .filter(workspaces::organization_id.eq_any(every_client))
            .order((workspaces::organization_id.asc(), workspaces::name.asc()))
            .select((organizations::id, organizations::name, workspaces::id, workspaces::name))
            .limit(limit + 1)
            .load::<Row>(conn)?;
        staff.extend(all);
    }
    let truncated = guest.len() as i64 > limit || staff.len() as i64 > limit;
    let keep = usize::try_from(limit).unwrap_or(0);
    guest.truncate(keep);
    staff.truncate(keep);
    staff.append(&mut guest);
    Ok(group(teams.into_iter().map(|(_, org, name, _, _)| (org, name)).collect(), staff, truncated))
}

/// Firms (the team's and the workspaces'), once each, in name order.
fn group(teams: Vec<(i64, String)>, rows: Vec<Row>, truncated: bool) -> Places {
    let mut firms: Vec<FirmPlaces> = teams
        .into_iter()
        .map(|(org, name)| FirmPlaces { org_id: OrgId(org), org_name: name, staff: true, workspaces: Vec::new() })
        .collect();
    let mut index: std::collections::HashMap<i64, usize> =
        firms.iter().enumerate().map(|(i, f)| (f.org_id.0, i)).collect();
    for (org, org_name, id, name) in rows {
        let at = *index.entry(org).or_insert_with(|| {
            firms.push(FirmPlaces { org_id: OrgId(org), org_name, staff: false, workspaces: Vec::new() });
            firms.len() - 1
        });
        firms[at].workspaces.push(PlaceLink { id: WorkspaceId(id), name });
    }
    firms.sort_by(|a, b| a.org_name.cmp(&b.org_name).then(a.org_id.0.cmp(&b.org_id.0)));
    Places { firms, truncated, loaded: true }
}
