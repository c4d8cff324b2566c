//! Two-factor authentication: turning it on (with a code from the app), signing in with a
//! code or a recovery code, turning it off and new recovery codes (with the password), and
//! the firm's and workspace's "Require two-factor authentication".

use chrono::NaiveDateTime;

use super::{ActionError, Outcome};
use crate::db::models::audit::{self, AuditAction, NewEvent};
use crate::db::models::two_factor as store;
use crate::db::models::{access, limits, lock_row, now, organization, sessions, LockTable};
use crate::db::Db;
use crate::domain::access::{self as rules, OrgAction, Refusal, WorkspaceAction};
use crate::domain::limits::Limit;
use crate::domain::two_factor::{normalise_code, RecoveryCode, Requirement, TotpSecret, TwoFactorKey};
use crate::domain::{OrgId, SessionId, UserId, WorkspaceId};

/// Wrong codes at sign-in, per account.
pub const WRONG_CODES: Limit =
    Limit { scope: "two_factor/user", max: 5, window: chrono::Duration::minutes(5), what: "wrong two-factor codes" };
/// Wrong passwords on the two-factor page (turn off, new recovery codes), per account.
pub const WRONG_PASSWORDS: Limit =
    Limit { scope: "two_factor_password/user", max: 5, window: chrono::Duration::minutes(5), what: "wrong passwords" };

fn unix(t: NaiveDateTime) -> u64 {
    u64::try_from(t.and_utc().timestamp()).unwrap_or(0)
}

fn subject(user: UserId) -> String {
    user.0.to_string()
}

pub struct Status {
    pub on: bool,
    pub since: Option<NaiveDateTime>,
    pub recovery_codes_left: i64,
}

pub async fn status(db: &Db, user: UserId) -> Outcome<Status> {
    db.read_with(move |c| {
        let st = store::state_of(c, user)?.ok_or(ActionError::NotFound)?;
        let left = if st.enabled_at.is_some() { store::recovery_codes_left(c, user)? } else { 0 };
        Ok(Status { on: st.enabled_at.is_some(), since: st.enabled_at, recovery_codes_left: left })
    })
    .await
}

/// Whether the account asks for a code after its password.
pub async fn is_on(db: &Db, user: UserId) -> Outcome<bool> {
    Ok(db.read(move |c| store::state_of(c, user)).await?.is_some_and(|s| s.enabled_at.is_some()))
}

/// "Turn on": a fresh secret to set up. False when two-factor is on already.
pub async fn begin_setup(db: &Db, key: &TwoFactorKey, user: UserId) -> Outcome<bool> {
    let sealed = key.seal(user, &TotpSecret::generate());
    Ok(db.write(move |c| store::start_setup(c, user, &sealed)).await? == 1)
}

/// The secret being set up (two-factor not on yet), with the account's email for the app.
pub struct Setup {
    pub secret: TotpSecret,
    pub email: String,
}

pub async fn pending_setup(db: &Db, key: &TwoFactorKey, user: UserId) -> Outcome<Option<Setup>> {
    let st = db.read(move |c| store::state_of(c, user)).await?.ok_or(ActionError::NotFound)?;
    if st.enabled_at.is_some() {
        return Ok(None);
    }
    Ok(st.secret.and_then(|s| key.open(user, &s)).map(|secret| Setup { secret, email: st.email }))
}

pub enum Confirmed {
    /// On, with the recovery codes to show once; the account's other sessions ended.
    On(Vec<RecoveryCode>),
    /// The current password is not the account's: nothing checked or changed.
    WrongPassword,
    WrongCode,
    /// No secret being set up (or two-factor on already).
    NotStarted,
}

/// What turns two-factor on: the account's current password (so a stolen session alone
/// cannot lock the owner out), the code from the app, and the session to keep.
pub struct TurnOn {
    pub password: String,
    pub code: String,
    pub keep: SessionId,
}

/// Turns two-factor on when the password is the account's (counted against
/// `WRONG_PASSWORDS`) and `code` is right for the secret being set up: the code is used up,
/// ten recovery codes are made and every other session of the account ends, in one
/// transaction.
pub async fn confirm_setup(db: &Db, key: &TwoFactorKey, user: UserId, t: TurnOn) -> Outcome<Confirmed> {
    if !password_is_right(db, user, t.password).await? {
        return Ok(Confirmed::WrongPassword);
    }
    let (key, code) = (key.clone(), t.code);
    db.transaction(move |c| {
        let st = store::state_of(c, user)?.ok_or(ActionError::NotFound)?;
        let secret = match (st.enabled_at, st.secret.and_then(|s| key.open(user, &s))) {
            (None, Some(secret)) => secret,
            _ => return Ok(Confirmed::NotStarted),
        };
        let now = now();
        let Some(step) = secret.check(&code, unix(now), st.last_step) else {
            return Ok(Confirmed::WrongCode);
        };
        if store::enable(c, user, step, now)? != 1 {
            return Ok(Confirmed::NotStarted);
        }
        let codes = RecoveryCode::batch();
        store::replace_recovery_codes(c, user, &codes.iter().map(RecoveryCode::hash).collect::<Vec<_>>(), now)?;
        sessions::end_others(c, user, t.keep)?;
        Ok(Confirmed::On(codes))
    })
    .await
}

pub enum SignInCode {
    Accepted { recovery_code: bool },
    Wrong,
}

/// The second step of signing in: a code from the app (once) or a recovery code (once).
/// Wrong codes are counted per account; past the limit every code is refused for a while.
pub async fn check_sign_in(db: &Db, key: &TwoFactorKey, user: UserId, input: String) -> Outcome<SignInCode> {
    let key = key.clone();
    db.transaction(move |c| {
        let now = now();
        limits::would_take(c, &WRONG_CODES, &subject(user), 1, now)?.map_err(ActionError::Limited)?;
        let st = store::state_of(c, user)?.ok_or(ActionError::NotFound)?;
        let secret = st.enabled_at.and(st.secret).and_then(|s| key.open(user, &s)).ok_or(ActionError::NotFound)?;
        let accepted = if normalise_code(&input).is_some() {
            match secret.check(&input, unix(now), st.last_step) {
                Some(step) => store::use_step(c, user, step)? == 1,
                None => false,
            }
        } else if let Some(code) = RecoveryCode::parse(&input) {
            store::use_recovery_code(c, user, &code.hash(), now)? == 1
        } else {
            false
        };
        if accepted {
            limits::forget(c, &WRONG_CODES, &subject(user))?;
            Ok(SignInCode::Accepted { recovery_code: normalise_code(&input).is_none() })
        } else {
            limits::record(c, &WRONG_CODES, &subject(user), 1, now)?;
            Ok(SignInCode::Wrong)
        }
    })
    .await
}

/// Checks the account's password (argon2, off the executor), each attempt counted first
/// (see `account::check_password`).
async fn password_is_right(db: &Db, user: UserId, given: String) -> Outcome<bool> {
    Ok(super::account::check_password(db, user, given, WRONG_PASSWORDS).await?.is_some())
}

/// Turns two-factor off. False: the password was wrong, nothing changed.
pub async fn turn_off(db: &Db, user: UserId, password: String) -> Outcome<bool> {
    if !password_is_right(db, user, password).await? {
        return Ok(false);
    }
    db.write(move |c| store::disable(c, user)).await?;
    Ok(true)
}

/// Ten new recovery codes in place of the old ones. None: the password was wrong, or
/// two-factor is off.
pub async fn new_recovery_codes(db: &Db, user: UserId, password: String) -> Outcome<Option<Vec<RecoveryCode>>> {
    if !password_is_right(db, user, password).await? {
        return Ok(None);
    }
    db.transaction(move |c| {
        let st = store::state_of(c, user)?.ok_or(ActionError::NotFound)?;
        if st.enabled_at.is_none() {
            return Ok(None);
        }
        let codes = RecoveryCode::batch();
        store::replace_recovery_codes(c, user, &codes.iter().map(RecoveryCode::hash).collect::<Vec<_>>(), now())?;
        Ok(Some(codes))
    })
    .await
}

/// What the requirement becomes: kept `since` when it was on already (changing the grace
/// period does not restart anyone's clock), now when it is turned on.
fn next_requirement(was: Option<Requirement>, grace_days: Option<i32>, now: NaiveDateTime) -> Option<Requirement> {
    grace_days.map(|g| Requirement { since: was.map_or(now, |r| r.since), grace_days: g })
}

fn describe(r: Option<Requirement>) -> String {
    match r {
        None => "Require two-factor authentication: off".into(),
        Some(r) if r.grace_days == 1 => "Require two-factor authentication: on, 1 day to turn it on".into(),
        Some(r) => format!("Require two-factor authentication: on, {} days to turn it on", r.grace_days),
    }
}

/// The firm's requirement (firm Admins only). `grace_days`: None turns it off.
pub async fn set_firm_requirement(db: &Db, actor: UserId, org: OrgId, grace_days: Option<i32>) -> Outcome<()> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Organization, org.0)?;
        let m = organization::membership(c, actor, org)?.ok_or(ActionError::NotFound)?;
        if !rules::org_may(m.role, OrgAction::RequireTwoFactor) {
            return Err(Refusal::FirmRole.into());
        }
        let was = store::firm_requirement(c, org)?;
        let next = next_requirement(was, grace_days, now());
        if next == was {
            return Ok(());
        }
        store::set_firm_requirement(c, org, next)?;
        audit::record(
            c,
            NewEvent {
                org,
                workspace: None,
                actor: Some(actor),
                action: AuditAction::ChangedTwoFactorRequirement,
                target: &m.org_name,
                detail: describe(next),
            },
        )?;
        Ok(())
    })
    .await
}

/// The workspace's requirement (workspace Admins only). `grace_days`: None turns it off.
pub async fn set_workspace_requirement(
    db: &Db,
    actor: UserId,
    ws: WorkspaceId,
    grace_days: Option<i32>,
) -> Outcome<()> {
    db.transaction(move |c| {
        lock_row(c, LockTable::Workspace, ws.0)?;
        let me = access::load(c, actor, ws)?.ok_or(ActionError::NotFound)?;
        if !rules::may(&me.standing, WorkspaceAction::RequireTwoFactor) {
            return Err(Refusal::Role.into());
        }
        let was = store::workspace_requirement(c, ws)?;
        let next = next_requirement(was, grace_days, now());
        if next == was {
            return Ok(());
        }
        store::set_workspace_requirement(c, ws, next)?;
        audit::record(
            c,
            NewEvent {
                org: me.workspace.org_id,
                workspace: Some(ws),
                actor: Some(actor),
                action: AuditAction::ChangedTwoFactorRequirement,
                target: &me.workspace.name,
                detail: describe(next),
            },
        )?;
        Ok(())
    })
    .await
}
