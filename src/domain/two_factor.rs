//! Two-factor authentication (TOTP, RFC 6238) and its requirement by a firm or a workspace.
//!
//! The secret (160 random bits; SHA-1, 6 digits, 30-second steps, one step either way) is
//! stored encrypted with ChaCha20-Poly1305 under a key derived from the session master key,
//! bound to its user: a database dump alone gives no one's codes. A code is accepted once:
//! the step it belongs to must be later than the last one accepted. Recovery codes carry 80
//! random bits each, are shown once, and only their SHA-256 is stored.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{Duration, NaiveDateTime};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::UserId;

pub const DIGITS: usize = 6;
pub const STEP_SECONDS: u64 = 30;
/// Codes of one step before and after now are accepted (clocks drift).
pub const SKEW: u8 = 1;
pub const RECOVERY_CODES: usize = 10;
/// The longest grace period an Admin may give.
pub const MAX_GRACE_DAYS: i32 = 30;
const ISSUER: &str = "Portico";

/// A TOTP secret: 20 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; 20]);

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        TotpSecret(bytes)
    }

    /// Base32 (RFC 4648, no padding), for typing into an authenticator app.
    pub fn base32(&self) -> String {
        match Secret::Raw(self.0.to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => String::new(),
        }
    }

    /// The base32 in groups of four, easier to read and type.
    pub fn base32_grouped(&self) -> String {
        let s = self.base32();
        s.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
    }

    fn totp(&self, account: &str) -> TOTP {
        // The label may not contain ':'; an email address never does once parsed, but be safe.
        let account = account.replace(':', " ");
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, SKEW, STEP_SECONDS, self.0.to_vec(), Some(ISSUER.into()), account)
    }

    /// The `otpauth://` URL an authenticator app reads from the QR code.
    pub fn otpauth_url(&self, account: &str) -> String {
        self.totp(account).get_url()
    }

    /// The code for a Unix time (for tests and for `check`).
    pub fn code_at(&self, unix: u64) -> String {
        self.totp("").generate(unix)
    }

    /// The step `code` belongs to, if it is right for now (one step either way) and later
    /// than `last_step`, the step of the last code accepted.
    pub fn check(&self, code: &str, unix: u64, last_step: i64) -> Option<i64> {
        let code = normalise_code(code)?;
        let now = i64::try_from(unix / STEP_SECONDS).ok()?;
        let totp = self.totp("");
        let skew = i64::from(SKEW);
        // Every candidate is computed and compared, so timing says nothing about which matched.
        let mut found = None;
        for step in (now - skew)..=(now + skew) {
            let Ok(at) = u64::try_from(step) else { continue };
            let expected = totp.generate(at * STEP_SECONDS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && step > last_step {
                found = Some(step);
            }
        }
        found
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// "123 456" or "123456" → "123456"; anything else is not a code.
pub fn normalise_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Encrypts TOTP secrets for the database. Derived from the session master key under its
/// own label, as invite links are.
#[derive(Clone)]
pub struct TwoFactorKey([u8; 32]);

impl TwoFactorKey {
    pub fn derive(master: &[u8]) -> TwoFactorKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
        mac.update(b"portico two-factor secrets v1");
        TwoFactorKey(mac.finalize().into_bytes().into())
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// base64(nonce ‖ ciphertext), bound to the user: a secret copied to another user's row
    /// does not open.
    pub fn seal(&self, user: UserId, secret: &TotpSecret) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let aad = associated_data(user);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &secret.0, aad: &aad })
            .expect("ChaCha20-Poly1305 encrypts any 20 bytes");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// The secret, if `stored` was sealed with this key for this user.
    pub fn open(&self, user: UserId, stored: &str) -> Option<TotpSecret> {
        let bytes = STANDARD.decode(stored).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let aad = associated_data(user);
        let plain = self.cipher().decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }).ok()?;
        Some(TotpSecret(plain.try_into().ok()?))
    }
}

fn associated_data(user: UserId) -> Vec<u8> {
    format!("portico totp user {}", user.0).into_bytes()
}

/// A recovery code: 16 characters of base32 (80 bits), shown as four groups of four.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

const RECOVERY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl RecoveryCode {
    pub fn generate() -> RecoveryCode {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        // 80 bits → 16 base32 characters, 5 bits each.
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | u128::from(b);
        }
        let code = (0..16).rev().map(|i| RECOVERY_ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
        RecoveryCode(code)
    }

    pub fn batch() -> Vec<RecoveryCode> {
        (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect()
    }

    /// What a person typed: dashes, spaces and case do not matter.
    pub fn parse(input: &str) -> Option<RecoveryCode> {
        let s: String =
            input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        (s.len() == 16 && s.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(RecoveryCode(s))
    }

    /// "ABCD-EFGH-IJKL-MNOP".
    pub fn display(&self) -> String {
        self.0.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(…)")
    }
}

// ---- "Require two-factor authentication" ----------------------------------------------

/// A firm's or workspace's requirement: since when, and how many days each person has, from
/// then or from joining (whichever is later), to turn two-factor on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub since: NaiveDateTime,
    pub grace_days: i32,
}

impl Requirement {
    /// From the stored columns: required when `since` is set.
    pub fn from_columns(since: Option<NaiveDateTime>, grace_days: i32) -> Option<Requirement> {
        since.map(|since| Requirement { since, grace_days: grace_days.clamp(0, MAX_GRACE_DAYS) })
    }

    /// The moment someone who joined at `joined` must have two-factor on.
    pub fn deadline_for(&self, joined: NaiveDateTime) -> NaiveDateTime {
        self.since.max(joined) + Duration::days(i64::from(self.grace_days))
    }

    /// A demand on one person, naming the place that makes it.
    pub fn demand(&self, place: &str, joined: NaiveDateTime) -> Demand {
        Demand { place: place.to_string(), deadline: self.deadline_for(joined) }
    }
}

/// The grace period as an Admin typed it: whole days, 0 to 30.
pub fn parse_grace_days(input: &str) -> Result<i32, &'static str> {
    match input.trim().parse::<i32>() {
        Ok(d) if (0..=MAX_GRACE_DAYS).contains(&d) => Ok(d),
        _ => Err("Enter a number of days from 0 to 30."),
    }
}

/// "Turn on two-factor authentication by …", from one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demand {
    /// The firm's or the workspace's name.
    pub place: String,
    pub deadline: NaiveDateTime,
}

/// What the requirements say about one person now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Clear,
    /// Still within the grace period: a notice with the date.
    Notice(Demand),
    /// The deadline has passed: set it up before going on.
    Blocked(Demand),
}

impl Verdict {
    /// The earliest deadline decides.
    pub fn of(two_factor_on: bool, demands: &[Demand], now: NaiveDateTime) -> Verdict {
        if two_factor_on {
            return Verdict::Clear;
        }
        match demands.iter().min_by_key(|d| d.deadline) {
            None => Verdict::Clear,
            Some(d) if d.deadline <= now => Verdict::Blocked(d.clone()),
            Some(d) => Verdict::Notice(d.clone()),
        }
    }
}

fn plural(n: i64, unit: &str) -> String {
    format!("in {n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl Demand {
    pub fn blocked_message(&self) -> String {
        format!("{} requires two-factor authentication. Turn it on to continue.", self.place)
    }

    /// The banner before the deadline: how long is left in words, then the exact time.
    pub fn notice_message(&self, now: NaiveDateTime) -> String {
        // Rounded to the nearest unit: "in 7 days" right after an Admin chose 7.
        let within = match (self.deadline - now).num_minutes() {
            m if m >= 24 * 60 => plural((m + 12 * 60) / (24 * 60), "day"),
            m if m >= 60 => plural((m + 30) / 60, "hour"),
            _ => "within the hour".to_string(),
        };
        format!(
            "{} requires two-factor authentication. Turn it on {within} (by {}).",
            self.place,
            self.deadline.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    #[test]
    fn codes_match_rfc_6238_and_work_once() {
        // RFC 6238's SHA-1 test secret and vector (8 digits there; the last 6 here).
        let secret = TotpSecret(*b"12345678901234567890");
        assert_eq!(secret.code_at(59), "287082");
        assert_eq!(secret.code_at(1_111_111_109), "081804");
        let now = 1_111_111_109;
        let step = (now / 30) as i64;
        assert_eq!(secret.check("081804", now, 0), Some(step));
        assert_eq!(secret.check("081 804", now, 0), Some(step), "spaces do not matter");
        // A code is accepted once: not again for its own step or an earlier one.
        assert_eq!(secret.check("081804", now, step), None);
        // One step either way.
        assert_eq!(secret.check(&secret.code_at(now - 30), now, 0), Some(step - 1));
        assert_eq!(secret.check(&secret.code_at(now + 30), now, 0), Some(step + 1));
        assert_eq!(secret.check(&secret.code_at(now - 60), now, 0), None, "two steps old");
        assert_eq!(secret.check("000000", now, 0), None);
        assert_eq!(secret.check("abcdef", now, 0), None);
        assert_eq!(secret.check("", now, 0), None);
    }

    #[test]
    fn secrets_are_random_and_sealed_per_user() {
        let key = TwoFactorKey::derive(b"a master key that is long enough for the tests");
        let secret = TotpSecret::generate();
        assert_ne!(secret, TotpSecret::generate());
        assert_eq!(secret.base32().len(), 32, "160 bits of base32");
        let sealed = key.seal(UserId(7), &secret);
        assert!(!sealed.contains(&secret.base32()));
        assert_ne!(sealed, key.seal(UserId(7), &secret), "a fresh nonce each time");
        assert_eq!(key.open(UserId(7), &sealed), Some(secret.clone()));
        assert_eq!(key.open(UserId(8), &sealed), None, "bound to its user");
        let other = TwoFactorKey::derive(b"another master key, long enough for the tests");
        assert_eq!(other.open(UserId(7), &sealed), None);
        assert_eq!(key.open(UserId(7), "not base64!"), None);
        assert_eq!(key.open(UserId(7), "AAAA"), None);
        let url = secret.otpauth_url("ada@firm.test");
        assert!(url.starts_with("otpauth://totp/Portico:ada%40firm.test?"), "{url}");
        assert!(url.contains(&format!("secret={}", secret.base32())), "{url}");
    }

    #[test]
    fn recovery_codes() {
        let codes = RecoveryCode::batch();
        assert_eq!(codes.len(), 10);
        let code = &codes[0];
        assert_eq!(code.0.len(), 16);
        assert_ne!(codes[0], codes[1]);
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(RecoveryCode::parse(&shown), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&shown.to_lowercase()), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&code.0).map(|c| c.hash()), Some(code.hash()));
        assert_ne!(code.hash(), code.0);
        assert_eq!(RecoveryCode::parse("123456"), None);
        assert_eq!(RecoveryCode::parse("ABCD-EFGH-IJKL-MN01"), None, "0 and 1 are not base32");
    }

    #[test]
    fn deadlines_and_verdicts() {
        let req = Requirement { since: t(10), grace_days: 7 };
        // Joined before the requirement: counted from the requirement.
        assert_eq!(req.deadline_for(t(1)), t(17));
        // Joined after: counted from joining.
        assert_eq!(req.deadline_for(t(12)), t(19));
        let firm = req.demand("Ada & Co", t(1));
        let strict = Requirement { since: t(10), grace_days: 0 }.demand("Acme Bakery", t(1));
        assert_eq!(Verdict::of(false, &[], t(20)), Verdict::Clear);
        assert_eq!(Verdict::of(true, std::slice::from_ref(&strict), t(20)), Verdict::Clear);
        assert_eq!(Verdict::of(false, std::slice::from_ref(&firm), t(16)), Verdict::Notice(firm.clone()));
        assert_eq!(Verdict::of(false, std::slice::from_ref(&firm), t(17)), Verdict::Blocked(firm.clone()));
        // The earliest deadline decides, and names its place.
        assert_eq!(Verdict::of(false, &[firm.clone(), strict.clone()], t(11)), Verdict::Blocked(strict.clone()));
        assert!(strict.blocked_message().starts_with("Acme Bakery requires"));
        assert_eq!(
            firm.notice_message(t(16)),
            "Ada & Co requires two-factor authentication. Turn it on in 1 day (by 2026-11-17 12:00 UTC)."
        );
        assert!(firm.notice_message(t(11)).contains("in 6 days"));
        assert!(firm.notice_message(t(17) - Duration::minutes(5)).contains("within the hour"));
        assert_eq!(Requirement::from_columns(None, 3), None);
        assert_eq!(Requirement::from_columns(Some(t(1)), 99).map(|r| r.grace_days), Some(30));
    }

    #[test]
    fn grace_days_are_0_to_30() {
        assert_eq!(parse_grace_days("0"), Ok(0));
        assert_eq!(parse_grace_days(" 30 "), Ok(30));
        assert!(parse_grace_days("31").is_err());
        assert!(parse_grace_days("-1").is_err());
        assert!(parse_grace_days("seven").is_err());
        assert!(parse_grace_days("").is_err());
    }
}
