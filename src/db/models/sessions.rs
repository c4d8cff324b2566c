//! Server-side sessions.

use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::DbConnection;
use crate::domain::UserId;

/// Ends every session of `user` (password reset, an account taken over by the owner of its address).
pub fn end_all(conn: &mut DbConnection, user: UserId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0))).execute(conn)
}
