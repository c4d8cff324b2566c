//! One function per action a person takes, below the routes and above the data layer.
//!
//! Each takes parsed domain values, loads the facts it needs, asks the rules module
//! (`crate::domain::access`), and writes the change with its audit event and outbox row in
//! one transaction, re-checking under the workspace's or firm's lock. It answers with a
//! domain result or an `ActionError`; `crate::error` turns those into HTTP answers.

pub mod account;
pub mod firm;
pub mod identity;
pub mod invites;
pub mod members;
pub mod report;
pub mod team;
pub mod two_factor;

use chrono::Duration;

use crate::db::models::invite::AcceptError;
use crate::db::models::limits;
use crate::db::{DbConnection, DbError, DieselError};
use crate::domain::access::Refusal;
use crate::domain::limits::{Limit, Reached};
use crate::domain::token::InviteKey;
use crate::domain::{InviteId, OrgId, UserId};

/// Why an action did not happen.
#[derive(Debug)]
pub enum ActionError {
    /// Missing, or another firm's: the two look the same.
    NotFound,
    /// The rules said no.
    Refused(Refusal),
    /// Input no honest form sends (a forged role, another workspace's entity).
    Invalid(&'static str),
    /// The change clashes with how things are now.
    Conflict(Conflict),
    /// The invite link can no longer be accepted (or not by this account).
    InviteEnded(AcceptError),
    /// The account's email address is not confirmed, and this needs it confirmed (accepting
    /// an invite from a link that does not prove the address).
    Unconfirmed,
    /// An abuse limit is reached (invites per hour, …): nothing was done.
    Limited(Reached),
    Db(DbError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    AlreadyMember,
    /// On the firm's own team: client access is given on the Team page.
    FirmStaff,
    AlreadyInvited(InviteId),
    /// Creating an account on an invite page for an address that has one.
    AccountExists,
    /// Signing up with an address that has an account.
    EmailTaken,
    /// A client or entity of that name exists already.
    NameTaken,
}

impl Conflict {
    pub fn message(self) -> String {
        match self {
            Conflict::AlreadyMember => "They are already a member.".into(),
            Conflict::FirmStaff => "They are on your firm's team: give them this client on the Team page.".into(),
            Conflict::AlreadyInvited(_) => "They already have a pending invite: use Resend invite.".into(),
            Conflict::EmailTaken => {
                "An account with this email already exists. Log in instead, or use \"Forgot password?\" there if the address is yours.".into()
            }
            Conflict::NameTaken => "That name is taken already.".into(),
            Conflict::AccountExists => "An account with this email already exists. Log in to accept the invite.".into(),
        }
    }
}

impl From<DbError> for ActionError {
    fn from(e: DbError) -> Self {
        ActionError::Db(e)
    }
}

impl From<DieselError> for ActionError {
    fn from(e: DieselError) -> Self {
        ActionError::Db(DbError::Query(e))
    }
}

impl From<Refusal> for ActionError {
    fn from(r: Refusal) -> Self {
        ActionError::Refused(r)
    }
}

impl From<Reached> for ActionError {
    fn from(r: Reached) -> Self {
        ActionError::Limited(r)
    }
}

pub type Outcome<T> = Result<T, ActionError>;

/// What a Configure permissions save did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Configured {
    Saved,
    /// Nothing was saved: the person is changing their own access and would lose these
    /// (in words, from the rules). They are asked first; saving again with the change
    /// confirmed applies it.
    WouldLose(Vec<String>),
}

/// What invites are made with: how long they last, the key their links derive from, and
/// how many may be sent.
#[derive(Clone)]
pub struct InviteSettings {
    pub ttl: Duration,
    pub key: InviteKey,
    pub limits: InviteLimits,
}

/// Invites and resends, counted per sender per hour and per firm per day (a Team invite
/// to several addresses counts each one it sends, a bulk resend each invite it resends).
#[derive(Clone, Copy, Debug)]
pub struct InviteLimits {
    pub per_user: Limit,
    pub per_firm: Limit,
    /// For a sender whose own address is not confirmed yet: sign-up is open to anyone.
    pub per_unconfirmed_user: Limit,
}

impl InviteLimits {
    pub fn new(per_user_per_hour: u32, per_firm_per_day: u32, per_unconfirmed_user_per_hour: u32) -> InviteLimits {
        InviteLimits {
            per_user: Limit::per_hour("invites/user", "invites and resends per person", per_user_per_hour),
            per_firm: Limit::per_day("invites/firm", "invites and resends by your firm", per_firm_per_day),
            per_unconfirmed_user: Limit::per_hour(
                "invites/unconfirmed-user",
                "invites and resends (until you confirm your email address)",
                per_unconfirmed_user_per_hour,
            ),
        }
    }

    /// Counts `n` invites or resends by `actor` for `org`, inside the transaction that sends
    /// them (under the firm's lock): past either limit the whole change is refused.
    pub(crate) fn take(&self, c: &mut DbConnection, actor: UserId, org: OrgId, n: u32) -> Outcome<()> {
        if n == 0 {
            return Ok(());
        }
        let now = crate::db::models::now();
        if !crate::db::models::user::is_verified(c, actor)? {
            limits::take(c, &self.per_unconfirmed_user, &format!("user:{}", actor.0), n, now)??;
        }
        limits::take(c, &self.per_user, &format!("user:{}", actor.0), n, now)??;
        limits::take(c, &self.per_firm, &format!("org:{}", org.0), n, now)??;
        Ok(())
    }
}

/// Runs slow work (argon2) on a blocking thread, off the async executor.
pub(crate) async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Outcome<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ActionError::Db(DbError::Task(e.to_string())))
}

/// A password's argon2id hash, made off the executor.
pub(crate) async fn hash_password(password: crate::domain::Password) -> Outcome<String> {
    off_thread(move || crate::auth::password::hash(password.expose()))
        .await?
        .map_err(|e| ActionError::Db(DbError::Task(format!("hashing a password: {e:?}"))))
}

/// "Acme LLC, Acme Holdings", or `none` when the list is empty.
pub(crate) fn list_or(names: &[String], none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        names.join(", ")
    }
}
