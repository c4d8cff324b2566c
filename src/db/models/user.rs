use diesel::prelude::*;

use crate::db::schema::{recovery_codes, users};
use crate::db::DbConnection;
use crate::domain::{EmailAddress, UserId};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// When two-factor authentication was turned on; None while it is off.
    pub totp_enabled_at: Option<chrono::NaiveDateTime>,
    /// None until the owner of the address proves it (a verification, invite or reset link).
    pub email_verified_at: Option<chrono::NaiveDateTime>,
}

impl User {
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }

    pub fn has_two_factor(&self) -> bool {
        self.totp_enabled_at.is_some()
    }

    pub fn is_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

pub fn find(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table.find(id.0).select(User::as_select()).first(conn).optional()
}

/// Whether the account's owner has proved its address.
pub fn is_verified(conn: &mut DbConnection, id: UserId) -> QueryResult<bool> {
    users::table.find(id.0).select(users::email_verified_at.is_not_null()).first(conn)
}

pub fn find_by_email(conn: &mut DbConnection, email: &EmailAddress) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email.as_str())).select(User::as_select()).first(conn).optional()
}

#[derive(Debug)]
pub enum CreateUserError {
    EmailTaken,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for CreateUserError {
    fn from(e: diesel::result::Error) -> Self {
        if super::is_unique_violation(&e) {
            CreateUserError::EmailTaken
        } else {
            CreateUserError::Db(e)
        }
    }
}

pub fn create(
    conn: &mut DbConnection,
    email: &EmailAddress,
    name: &str,
    password_hash: &str,
) -> Result<UserId, CreateUserError> {
    if find_by_email(conn, email)?.is_some() {
        return Err(CreateUserError::EmailTaken);
    }
    let id = diesel::insert_into(users::table)
        .values((
            users::email.eq(email.as_str()),
            users::name.eq(name),
            users::password_hash.eq(password_hash),
            users::created_at.eq(super::now()),
        ))
        .returning(users::id)
        .get_result::<i64>(conn)?;
    Ok(UserId(id))
}

/// Sets a new password hash if the stored one is still `old_hash`; false when it is not.
pub fn set_password_if(conn: &mut DbConnection, id: UserId, old_hash: &str, new_hash: &str) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(id.0).filter(users::password_hash.eq(old_hash)))
        .set(users::password_hash.eq(new_hash))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The owner of the address proved it (a verification, invite or password reset link).
pub fn mark_verified(conn: &mut DbConnection, id: UserId, now: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id.0).filter(users::email_verified_at.is_null()))
        .set(users::email_verified_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

pub fn set_password(conn: &mut DbConnection, id: UserId, password_hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id.0)).set(users::password_hash.eq(password_hash)).execute(conn)?;
    Ok(())
}

/// The owner of the address takes an unverified account over: their password (and name,
/// when given), verified now, and no second factor (whoever made the account may have set
/// one up). False (and nothing changed) when the account is verified meanwhile.
pub fn take_over(
    conn: &mut DbConnection,
    id: UserId,
    name: Option<&str>,
    password_hash: &str,
    now: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    let unverified = users::table.find(id.0).filter(users::email_verified_at.is_null());
    let changed = diesel::update(unverified)
        .set((
            users::password_hash.eq(password_hash),
            users::email_verified_at.eq(Some(now)),
            users::totp_secret.eq(None::<String>),
            users::totp_enabled_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    if changed != 1 {
        return Ok(false);
    }
    if let Some(name) = name {
        diesel::update(users::table.find(id.0)).set(users::name.eq(name)).execute(conn)?;
    }
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(id.0))).execute(conn)?;
    Ok(true)
}
