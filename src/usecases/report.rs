//! The access report: who can see which entity, with which role, since when, until when,
//! invited by whom, with two-factor on or off, and when they last signed in. Per workspace
//! (its Admins, and Accountants for the entities they hold) and firm-wide (those who see
//! every client). A fixed number of queries, whatever the number of people and entities.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{ActionError, Outcome};
use crate::db::models::access::{self, Person, WorkspaceAccess};
use crate::db::models::entity::{self, Entity};
use crate::db::models::members::{self, PersonInfo};
use crate::db::models::organization::OrgMembership;
use crate::db::Db;
use crate::domain::access::{self as rules, Access, Kind, OrgAction, Refusal, WorkspaceAction};
use crate::domain::{csv_record, EntityId, OrgRole, UserId, WorkspaceId};

/// One person's access to one entity.
#[derive(Clone, Debug)]
pub struct ReportRow {
    pub client: String,
    pub entity: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    /// "Firm Admin", "Firm Manager", "Firm Member" for the firm's staff; "" for the client's.
    pub staff: &'static str,
    pub since: NaiveDateTime,
    pub until: Option<NaiveDateTime>,
    /// Who invited them ("" when nobody did: firm staff reach clients through the Team page).
    pub invited_by: String,
    pub two_factor: bool,
    pub last_sign_in: Option<NaiveDateTime>,
}

pub struct Report {
    pub rows: Vec<ReportRow>,
    /// Entities of the workspace the viewer cannot see, left out of the report.
    pub hidden_entities: usize,
}

/// The workspace's report, as `viewer` may see it: Admins every entity, Accountants the
/// entities they hold; Members none (refused, like the Members page).
pub async fn for_workspace(db: &Db, viewer: &WorkspaceAccess) -> Outcome<Report> {
    if !rules::may(&viewer.standing, WorkspaceAction::ViewMembers) {
        return Err(Refusal::Role.into());
    }
    let (ws, reach) = (viewer.workspace.clone(), viewer.standing.entities.clone());
    db.read_with(move |c| {
        let entities = entity::all_in(c, ws.id)?;
        let people = access::people_of(c, &ws)?;
        let info = infos(c, &people)?;
        let hidden = entities.iter().filter(|e| !reach.contains(e.id)).count();
        let visible: Vec<Entity> = entities.into_iter().filter(|e| reach.contains(e.id)).collect();
        let mut rows = rows_of(&ws.name, &visible, &people, &info);
        sort(&mut rows);
        Ok(Report { rows, hidden_entities: hidden })
    })
    .await
}

/// The firm-wide report: every entity of every client (firm Admins and Managers).
pub async fn for_firm(db: &Db, m: &OrgMembership) -> Outcome<Report> {
    if !rules::org_may(m.role, OrgAction::ViewAccessReport) {
        return Err(ActionError::Refused(Refusal::FirmRole));
    }
    let org = m.org_id;
    db.read_with(move |c| {
        let mut entities: HashMap<WorkspaceId, (String, Vec<Entity>)> = HashMap::new();
        for (ws, ws_name, e) in entity::all_in_firm(c, org)? {
            entities.entry(ws).or_insert_with(|| (ws_name, Vec::new())).1.push(e);
        }
        let people = access::people_of_firm(c, org)?;
        let everyone: Vec<Person> = people.values().flatten().cloned().collect();
        let info = infos(c, &everyone)?;
        let mut rows = Vec::new();
        for (ws, (name, list)) in &entities {
            if let Some(people) = people.get(ws) {
                rows.extend(rows_of(name, list, people, &info));
            }
        }
        sort(&mut rows);
        Ok(Report { rows, hidden_entities: 0 })
    })
    .await
}

/// Names, emails, two-factor and last sign-in of the people and of those who invited them.
fn infos(c: &mut crate::db::DbConnection, people: &[Person]) -> Outcome<HashMap<UserId, PersonInfo>> {
    let mut ids: Vec<UserId> = people.iter().flat_map(|p| [Some(p.user), p.invited_by]).flatten().collect();
    ids.sort_unstable_by_key(|u| u.0);
    ids.dedup();
    Ok(members::people_for_report(c, &ids)?)
}

/// A row for each person and each of `entities` they can read.
fn rows_of(client: &str, entities: &[Entity], people: &[Person], info: &HashMap<UserId, PersonInfo>) -> Vec<ReportRow> {
    let mut rows = Vec::new();
    for p in people {
        let who = info.get(&p.user).cloned().unwrap_or_default();
        let invited_by = p.invited_by.and_then(|u| info.get(&u)).map(|i| shown_name(i).to_string()).unwrap_or_default();
        for e in entities.iter().filter(|e| reads(&p.standing.entities, e.id)) {
            rows.push(ReportRow {
                client: client.to_string(),
                entity: e.name.clone(),
                name: who.name.clone(),
                email: who.email.clone(),
                role: p.standing.role.label(),
                staff: staff_words(p.standing.kind),
                since: p.since,
                until: p.until,
                invited_by: invited_by.clone(),
                two_factor: who.two_factor,
                last_sign_in: who.last_sign_in,
            });
        }
    }
    rows
}

fn reads(held: &Access<EntityId>, e: EntityId) -> bool {
    held.contains(e)
}

fn shown_name(i: &PersonInfo) -> &str {
    if i.name.trim().is_empty() {
        &i.email
    } else {
        &i.name
    }
}

fn staff_words(kind: Kind) -> &'static str {
    match kind {
        Kind::Client => "",
        Kind::FirmLead(OrgRole::Admin) => "Firm Admin",
        Kind::FirmLead(_) => "Firm Manager",
        Kind::FirmMember => "Firm Member",
    }
}

/// By client, entity, then person (name, then email): the same order every time.
fn sort(rows: &mut [ReportRow]) {
    rows.sort_by_cached_key(|r| {
        (r.client.to_lowercase(), r.entity.to_lowercase(), r.name.to_lowercase(), r.email.clone())
    });
}

/// The report as CSV (RFC 4180: CRLF line ends, quoted where needed), each cell safe to
/// open in a spreadsheet (`crate::domain::csv_cell`).
pub fn csv(report: &Report, with_client: bool) -> String {
    let client = with_client.then_some("Client");
    let header = [
        "Entity",
        "Name",
        "Email",
        "Role",
        "Firm staff",
        "Since",
        "Until",
        "Invited by",
        "Two-factor",
        "Last signed in",
    ];
    let mut out = csv_record(client.into_iter().chain(header));
    for r in &report.rows {
        let cells = [
            r.entity.clone(),
            r.name.clone(),
            r.email.clone(),
            r.role.to_string(),
            r.staff.to_string(),
            r.since.format("%Y-%m-%d").to_string(),
            r.until.map(|u| u.format("%Y-%m-%d").to_string()).unwrap_or_default(),
            r.invited_by.clone(),
            if r.two_factor { "On" } else { "Off" }.to_string(),
            r.last_sign_in.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "Never".into()),
        ];
        let client = with_client.then_some(r.client.as_str());
        out.push_str(&csv_record(client.into_iter().chain(cells.iter().map(String::as_str))));
    }
    out
}
