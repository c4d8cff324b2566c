use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{org_memberships, organizations};
use crate::db::DbConnection;
use crate::domain::two_factor::{Demand, Requirement};
use crate::domain::{EmailAddress, MembershipId, OrgId, OrgRole, UserId};

use super::user::{self, CreateUserError};

/// Sign-up: the user, their firm and their Admin membership, together or not at all.
pub fn sign_up(
    conn: &mut DbConnection,
    email: &EmailAddress,
    name: &str,
    password_hash: &str,
    firm: &str,
) -> Result<(UserId, OrgId), CreateUserError> {
    let user = user::create(conn, email, name, password_hash)?;
    let now = super::now();
    let org = diesel::insert_into(organizations::table)
        .values((organizations::name.eq(firm), organizations::created_at.eq(now)))
        .returning(organizations::id)
        .get_result::<i64>(conn)?;
    diesel::insert_into(org_memberships::table)
        .values((
            org_memberships::organization_id.eq(org),
            org_memberships::user_id.eq(user.0),
            org_memberships::role.eq(OrgRole::Admin.as_str()),
            org_memberships::new_clients.eq(false),
            org_memberships::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok((user, OrgId(org)))
}

/// The caller's membership of one firm.
#[derive(Clone, Debug)]
pub struct OrgMembership {
    pub membership_id: MembershipId,
    pub org_id: OrgId,
    pub org_name: String,
    pub role: OrgRole,
    pub new_clients: bool,
    /// When they joined the team.
    pub joined_at: NaiveDateTime,
    /// The firm's "Require two-factor authentication", if on.
    pub require_2fa: Option<Requirement>,
}

impl OrgMembership {
    /// What the firm's requirement asks of this person (firm pages, and clients opened
    /// through the firm).
    pub fn two_factor_demand(&self) -> Option<Demand> {
        self.require_2fa.map(|r| r.demand(&self.org_name, self.joined_at))
    }
}

pub fn membership(conn: &mut DbConnection, user: UserId, org: OrgId) -> QueryResult<Option<OrgMembership>> {
    let row = org_memberships::table
        .inner_join(organizations::table)
        .filter(org_memberships::user_id.eq(user.0))
        .filter(org_memberships::organization_id.eq(org.0))
        .select((
            org_memberships::id,
            organizations::id,
            organizations::name,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::created_at,
            organizations::require_2fa_since,
            organizations::require_2fa_grace_days,
        ))
        .first::<MembershipRow>(conn)
        .optional()?;
    Ok(row.and_then(to_membership))
}

/// Every firm the user belongs to, oldest first.
pub fn memberships_of(conn: &mut DbConnection, user: UserId) -> QueryResult<Vec<OrgMembership>> {
    let rows = org_memberships::table
        .inner_join(organizations::table)
        .filter(org_memberships::user_id.eq(user.0))
        .order(org_memberships::id.asc())
        .select((
            org_memberships::id,
            organizations::id,
            organizations::name,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::created_at,
            organizations::require_2fa_since,
            organizations::require_2fa_grace_days,
        ))
        .load::<MembershipRow>(conn)?;
    Ok(rows.into_iter().filter_map(to_membership).collect())
}

type MembershipRow = (i64, i64, String, String, bool, NaiveDateTime, Option<NaiveDateTime>, i32);

fn to_membership((mid, oid, name, role, new_clients, joined_at, since, grace): MembershipRow) -> Option<OrgMembership> {
    Some(OrgMembership {
        membership_id: MembershipId(mid),
        org_id: OrgId(oid),
        org_name: name,
        role: OrgRole::parse(&role)?,
        new_clients,
        joined_at,
        require_2fa: Requirement::from_columns(since, grace),
    })
}
