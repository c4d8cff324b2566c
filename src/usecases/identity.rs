//! Who owns an email address: the verification link sent at sign-up, password reset, and
//! the owner of an address taking back an unverified account someone made with it.
//!
//! An account is unverified until its owner proves the address with a link Portico sent
//! there: the verification link, an invite link, or a password reset link. Whoever proves
//! an address that an unverified account uses takes that account over (new password, every
//! session ended): an address nobody proved never keeps its owner out.

use chrono::{Duration, NaiveDateTime};

use super::{ActionError, Conflict, Outcome};
use crate::config::Settings;
use crate::db::models::account_token::{self, AccountToken, Purpose};
use crate::db::models::user::{self, CreateUserError};
use crate::db::models::{limits, now, organization, outbox, sessions};
use crate::db::{Db, DbConnection};
use crate::domain::limits::Limit;
use crate::domain::token::{InviteKey, InviteToken};
use crate::domain::{EmailAddress, Name, OrgId, Password, UserId};

/// How long a verification link works.
pub fn verify_ttl() -> Duration {
    Duration::days(7)
}

/// How long a password reset link works.
pub fn reset_ttl() -> Duration {
    Duration::hours(1)
}

/// "Send it again" (the verification email), per account.
pub const VERIFICATION_RESENDS_PER_HOUR: u32 = 5;

/// The abuse limits of this module, from the settings.
#[derive(Clone, Copy)]
pub struct Limits {
    pub signups: Limit,
    pub resets_per_email: Limit,
    pub resets_per_address: Limit,
    pub resends: Limit,
}

impl Limits {
    pub fn from(s: &Settings) -> Limits {
        Limits {
            signups: Limit::per_hour("signups/address", "sign-ups from one address", s.signups_per_address_per_hour),
            // Higher than per client address: it only bounds how many one inbox can be sent
            // from many addresses, so that a stranger can hardly use up the owner's allowance.
            resets_per_email: Limit::per_hour(
                "resets/email",
                "password reset emails to one address",
                s.password_resets_per_hour.saturating_mul(3),
            ),
            resets_per_address: Limit::per_hour(
                "resets/address",
                "password reset requests from one address",
                s.password_resets_per_hour,
            ),
            resends: Limit::per_hour("verify/user", "confirmation emails", VERIFICATION_RESENDS_PER_HOUR),
        }
    }
}

/// What sign-up is given.
pub struct SignUp {
    pub email: EmailAddress,
    pub name: Name,
    pub password: Password,
    pub firm: Name,
}

/// A new account (unverified) and its firm with its first Admin, and the verification
/// email, together or not at all. The attempt is counted against the client address's
/// sign-up limit first, in a transaction of its own: before the slow password hash, and
/// whatever the outcome (so "this address has an account" answers are limited too).
pub async fn sign_up(db: &Db, s: SignUp, key: InviteKey, limit: Limit, client: String) -> Outcome<(UserId, OrgId)> {
    db.transaction(move |c| Ok::<_, ActionError>(limits::take(c, &limit, &client, 1, now())??)).await?;
    let hash = super::hash_password(s.password).await?;
    db.transaction(move |c| {
        let now = now();
        let (uid, org) =
            organization::sign_up(c, &s.email, s.name.as_str(), &hash, s.firm.as_str()).map_err(|e| match e {
                CreateUserError::EmailTaken => ActionError::Conflict(Conflict::EmailTaken),
                CreateUserError::Db(e) => e.into(),
            })?;
        send_link(c, uid, Purpose::VerifyEmail, s.email.as_str(), &key, now)?;
        Ok((uid, org))
    })
    .await
}

/// Issues a link (replacing older ones of its purpose) and queues its email.
fn send_link(
    c: &mut DbConnection,
    user: UserId,
    purpose: Purpose,
    email: &str,
    key: &InviteKey,
    now: NaiveDateTime,
) -> Outcome<()> {
    let (ttl, kind) = match purpose {
        Purpose::VerifyEmail => (verify_ttl(), outbox::KIND_VERIFY_EMAIL),
        Purpose::ResetPassword => (reset_ttl(), outbox::KIND_RESET_PASSWORD),
    };
    let id = account_token::issue(c, user, purpose, email, &key.account_links(), ttl, now)?;
    outbox::enqueue_account(c, kind, id, email)?;
    Ok(())
}

/// What "Send it again" did.
pub enum Resent {
    /// A new link is on its way to this address (the older one stops working).
    Sent(String),
    /// Nothing to do: the address is confirmed already.
    AlreadyVerified,
}

/// Sends the verification email again, within the per-account limit.
pub async fn resend_verification(db: &Db, uid: UserId, key: InviteKey, limit: Limit) -> Outcome<Resent> {
    db.transaction(move |c| {
        let u = user::find(c, uid)?.ok_or(ActionError::NotFound)?;
        if u.is_verified() {
            return Ok(Resent::AlreadyVerified);
        }
        let now = now();
        limits::take(c, &limit, &uid.0.to_string(), 1, now)??;
        send_link(c, uid, Purpose::VerifyEmail, &u.email, &key, now)?;
        Ok(Resent::Sent(u.email))
    })
    .await
}

/// The link `token` of `purpose` while it works: not used, not expired, not replaced.
pub async fn usable_link(db: &Db, token: InviteToken, purpose: Purpose) -> Outcome<Option<AccountToken>> {
    Ok(db.read(move |c| account_token::find_by_token(c, &token, purpose)).await?.filter(|t| t.is_usable(now())))
}

/// Uses the link up, if it still works (one of concurrent callers wins).
fn consume(
    c: &mut DbConnection,
    token: &InviteToken,
    purpose: Purpose,
    now: NaiveDateTime,
) -> Outcome<Option<AccountToken>> {
    let Some(t) = account_token::find_by_token(c, token, purpose)? else {
        return Ok(None);
    };
    Ok(account_token::consume(c, t.id, now)?.then_some(t))
}

/// What "Confirm email" did.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The address is confirmed (it is returned).
    Done(String),
    /// The link works, but only for the account it was sent for, signed in: whoever
    /// clicks it proves they read the mail, not that they chose the account's password
    /// (someone else may have signed up with the address). Nothing changed.
    SignInAs(String),
    /// The link no longer works.
    Ended,
}

/// "Confirm email": uses the verification link up and marks the address verified, when
/// the caller is signed in as the account the link was sent for.
pub async fn confirm_email(db: &Db, token: InviteToken, caller: Option<UserId>) -> Outcome<Confirmed> {
    db.transaction(move |c| {
        let now = now();
        let Some(t) = account_token::find_by_token(c, &token, Purpose::VerifyEmail)?.filter(|t| t.is_usable(now))
        else {
            return Ok(Confirmed::Ended);
        };
        if caller != Some(t.user()) {
            return Ok(Confirmed::SignInAs(t.email));
        }
        let Some(t) = consume(c, &token, Purpose::VerifyEmail, now)? else {
            return Ok(Confirmed::Ended);
        };
        // Addresses do not change, but a link only ever proves the address it went to.
        let u = user::find(c, t.user())?.ok_or(ActionError::NotFound)?;
        if u.email != t.email {
            return Ok(Confirmed::Ended);
        }
        user::mark_verified(c, t.user(), now)?;
        Ok(Confirmed::Done(t.email))
    })
    .await
}

/// "Forgot password?": within the limits (per email address and per client address,
/// counted whether or not an account uses the address), a reset link goes to the address
/// if an account uses it. The answer is the same either way.
pub async fn request_reset(db: &Db, email: EmailAddress, client: String, key: InviteKey, l: Limits) -> Outcome<()> {
    db.transaction(move |c| {
        let now = now();
        // Per client address first: a stranger asking for someone else's link spends their
        // own allowance; the owner's inbox is bounded by the (higher) per-email limit.
        limits::take(c, &l.resets_per_address, &client, 1, now)??;
        limits::take(c, &l.resets_per_email, email.as_str(), 1, now)??;
        if let Some(u) = user::find_by_email(c, &email)? {
            send_link(c, u.user_id(), Purpose::ResetPassword, &u.email, &key, now)?;
        }
        Ok(())
    })
    .await
}

/// Sets a new password with a reset link: uses the link up, marks the address verified
/// (the link proved it; an unverified account is taken over), ends every session of the
/// account. None when the link no longer works.
pub async fn reset_password(db: &Db, token: InviteToken, password_hash: String) -> Outcome<Option<UserId>> {
    db.transaction(move |c| {
        let now = now();
        let Some(t) = consume(c, &token, Purpose::ResetPassword, now)? else {
            return Ok(None);
        };
        let u = user::find(c, t.user())?.ok_or(ActionError::NotFound)?;
        if u.email != t.email {
            return Ok(None);
        }
        if u.is_verified() {
            user::set_password(c, u.user_id(), &password_hash)?;
        } else {
            user::take_over(c, u.user_id(), None, &password_hash, now)?;
        }
        settle_account(c, u.user_id(), now)?;
        Ok(Some(u.user_id()))
    })
    .await
}

/// After the owner proved the address and set a password: older links stop working and
/// every session (perhaps someone else's) ends.
fn settle_account(c: &mut DbConnection, uid: UserId, now: NaiveDateTime) -> Outcome<()> {
    account_token::supersede(c, uid, Purpose::ResetPassword, now)?;
    account_token::supersede(c, uid, Purpose::VerifyEmail, now)?;
    sessions::end_all(c, uid)?;
    Ok(())
}

/// Who holds an address, as the invite page needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressHolder {
    Nobody,
    /// An account nobody proved the address of: the invite page offers to replace it.
    Unverified,
    Verified,
}

pub async fn holder_of(db: &Db, email: EmailAddress) -> Outcome<AddressHolder> {
    let u = db.read(move |c| user::find_by_email(c, &email)).await?;
    Ok(match u {
        None => AddressHolder::Nobody,
        Some(u) if u.is_verified() => AddressHolder::Verified,
        Some(_) => AddressHolder::Unverified,
    })
}

/// A new account, unconfirmed, made on an invite page from a link that proves no address
/// (a copied one), and its confirmation email. An account of that address, confirmed or
/// not, is a conflict: it is never taken over this way.
pub fn create_unconfirmed(
    c: &mut DbConnection,
    email: &EmailAddress,
    name: &Name,
    password_hash: &str,
    key: &InviteKey,
) -> Outcome<UserId> {
    let uid = user::create(c, email, name.as_str(), password_hash).map_err(|e| match e {
        CreateUserError::EmailTaken => ActionError::Conflict(Conflict::AccountExists),
        CreateUserError::Db(e) => e.into(),
    })?;
    send_link(c, uid, Purpose::VerifyEmail, email.as_str(), key, now())?;
    Ok(uid)
}

/// The owner of `email` proved it (the emailed invite link) and chose a name and password: a new
/// verified account, or the unverified account of that address taken over (its sessions
/// ended). A verified account of that address is a conflict: its owner logs in.
pub fn claim_address(c: &mut DbConnection, email: &EmailAddress, name: &Name, password_hash: &str) -> Outcome<UserId> {
    let now = now();
    match user::find_by_email(c, email)? {
        None => {
            let uid = user::create(c, email, name.as_str(), password_hash).map_err(|e| match e {
                CreateUserError::EmailTaken => ActionError::Conflict(Conflict::AccountExists),
                CreateUserError::Db(e) => e.into(),
            })?;
            user::mark_verified(c, uid, now)?;
            Ok(uid)
        }
        Some(u) if !u.is_verified() => {
            if !user::take_over(c, u.user_id(), Some(name.as_str()), password_hash, now)? {
                return Err(ActionError::Conflict(Conflict::AccountExists));
            }
            settle_account(c, u.user_id(), now)?;
            Ok(u.user_id())
        }
        Some(_) => Err(ActionError::Conflict(Conflict::AccountExists)),
    }
}
