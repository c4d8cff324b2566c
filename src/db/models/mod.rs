//! Every query lives here, grouped by table. Functions take a connection and return
//! plain data; transactions are opened by the caller through `Db::write`.

pub mod access;
pub mod account_token;
pub mod audit;
pub mod ending;
pub mod entity;
pub mod invite;
pub mod invite_list;
pub mod limits;
pub mod members;
pub mod organization;
pub mod outbox;
pub mod places;
pub mod sessions;
pub mod team;
pub mod two_factor;
pub mod user;
pub mod workspace;

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error};

diesel::define_sql_function! {
    /// SQL's LOWER: searches compare lower-cased text (LIKE is case-sensitive on PostgreSQL).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// The same, of a column that may be NULL (an outer join's).
    #[sql_name = "lower"]
    fn lower_opt(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Now, on the app's clock (`crate::clock`).
pub fn now() -> NaiveDateTime {
    crate::clock::now()
}

pub fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

/// Serialises changes to one firm's access on PostgreSQL, so that two Admins demoting each
/// other cannot both succeed, and a Team change cannot interleave with a change inside one
/// of the firm's clients. Every lock takes the firm's row first (then the workspace's), so
/// that locks are always taken in the same order. On SQLite writers are already serial.
pub fn lock_row(conn: &mut super::DbConnection, table: LockTable, id: i64) -> Result<(), Error> {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    if let super::DbConnection::Pg(pg) = conn {
        let statements: &[&str] = match table {
            LockTable::Workspace => &[
                "SELECT id FROM organizations WHERE id = (SELECT organization_id FROM workspaces WHERE id = $1) FOR UPDATE",
                "SELECT id FROM workspaces WHERE id = $1 FOR UPDATE",
            ],
            LockTable::Organization => &["SELECT id FROM organizations WHERE id = $1 FOR UPDATE"],
        };
        for sql in statements {
            diesel::sql_query(*sql).bind::<BigInt, _>(id).execute(pg)?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub enum LockTable {
    Workspace,
    Organization,
}
