//! Abuse limits: how many of something one subject (a user, a firm, a client address, an
//! email address) may do in a sliding window. The counting lives in the database
//! (`db::models::limits`), so a limit holds across instances.

use chrono::{Duration, NaiveDateTime};

/// One limit: at most `max` events per `window` for one subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// What is counted, e.g. "invites/user"; the subject says whose.
    pub scope: &'static str,
    pub max: u32,
    pub window: Duration,
    /// What the message calls one event, plural: "invites", "sign-ups".
    pub what: &'static str,
}

impl Limit {
    pub fn per_hour(scope: &'static str, what: &'static str, max: u32) -> Limit {
        Limit { scope, max, window: Duration::hours(1), what }
    }

    pub fn per_day(scope: &'static str, what: &'static str, max: u32) -> Limit {
        Limit { scope, max, window: Duration::days(1), what }
    }

    pub fn per_minutes(scope: &'static str, what: &'static str, max: u32, minutes: i64) -> Limit {
        Limit { scope, max, window: Duration::minutes(minutes), what }
    }

    fn window_words(&self) -> String {
        let minutes = self.window.num_minutes();
        match minutes {
            1440 => "per day".into(),
            60 => "per hour".into(),
            1 => "per minute".into(),
            m => format!("per {m} minutes"),
        }
    }
}

/// A limit was reached: which one, and when enough of the window frees up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    pub limit: Limit,
    pub free_at: NaiveDateTime,
    pub now: NaiveDateTime,
}

impl Reached {
    /// "This reached the limit of 100 invites per hour. You can send more in 23 minutes."
    pub fn message(&self) -> String {
        let wait = (self.free_at - self.now).num_seconds().max(1);
        let minutes = (wait + 59) / 60;
        let when = if minutes <= 1 {
            "in a minute".to_string()
        } else if minutes < 120 {
            format!("in {minutes} minutes")
        } else {
            format!("in {} hours", (minutes + 59) / 60)
        };
        format!(
            "The limit of {} {} {} is reached. Try again {when}.",
            self.limit.max,
            self.limit.what,
            self.limit.window_words()
        )
    }

    /// Seconds until it frees up, for a Retry-After header.
    pub fn retry_after_seconds(&self) -> i64 {
        (self.free_at - self.now).num_seconds().max(1)
    }
}

/// Whether `weight` more events fit, given the events already in the window (oldest
/// first, each with its time and weight). When they do not, when enough will have left
/// the window for them to fit.
pub fn check(limit: &Limit, events: &[(NaiveDateTime, i32)], weight: u32, now: NaiveDateTime) -> Result<(), Reached> {
    let max = i64::from(limit.max);
    let weight = i64::from(weight);
    let mut used: i64 = events.iter().map(|(_, w)| i64::from(*w)).sum();
    if used + weight <= max {
        return Ok(());
    }
    // Never fits (more at once than the limit allows): free when the whole window is.
    let mut free_at = events.last().map_or(now, |(at, _)| *at + limit.window);
    if weight <= max {
        for (at, w) in events {
            used -= i64::from(*w);
            if used + weight <= max {
                free_at = *at + limit.window;
                break;
            }
        }
    }
    Err(Reached { limit: *limit, free_at: free_at.max(now), now })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(12, minute, 0).unwrap()
    }

    #[test]
    fn fits_until_the_limit_and_frees_as_the_window_slides() {
        let limit = Limit::per_hour("invites/user", "invites", 3);
        assert!(check(&limit, &[], 3, t(0)).is_ok());
        assert!(check(&limit, &[(t(0), 1), (t(10), 1)], 1, t(20)).is_ok());
        let reached = check(&limit, &[(t(0), 1), (t(10), 1), (t(20), 1)], 1, t(30)).unwrap_err();
        // The oldest event leaves the window at 13:00, freeing one.
        assert_eq!(reached.free_at, t(0) + Duration::hours(1));
        assert_eq!(reached.message(), "The limit of 3 invites per hour is reached. Try again in 30 minutes.");
        // Two more need the two oldest gone.
        let reached = check(&limit, &[(t(0), 1), (t(10), 1)], 2, t(30)).unwrap_err();
        assert_eq!(reached.free_at, t(0) + Duration::hours(1));
        let reached = check(&limit, &[(t(0), 2), (t(10), 1)], 2, t(30)).unwrap_err();
        assert_eq!(reached.free_at, t(0) + Duration::hours(1));
        // A weighted event (a bulk resend) counts for its weight.
        assert!(check(&limit, &[(t(0), 3)], 1, t(59)).is_err());
    }

    #[test]
    fn more_than_the_limit_at_once_never_fits() {
        let limit = Limit::per_hour("invites/user", "invites", 3);
        let reached = check(&limit, &[], 4, t(0)).unwrap_err();
        assert_eq!(reached.free_at, t(0));
        assert_eq!(reached.retry_after_seconds(), 1);
    }
}
