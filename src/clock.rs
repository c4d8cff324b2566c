//! The app's clock: UTC now, plus an offset that only tests move.
//!
//! Access end dates, invite expiry and reminders are decided against this clock, so a test
//! can move it forward a week and see an access end on the very next request without
//! waiting. Nothing in the app moves it; the offset is process-wide, so a test binary that
//! moves it runs its tests one at a time (see tests/time.rs).

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Duration, NaiveDateTime};

static OFFSET_SECONDS: AtomicI64 = AtomicI64::new(0);

/// Now, in UTC, to the microsecond (both backends keep microseconds).
pub fn now() -> NaiveDateTime {
    let t = chrono::Utc::now().naive_utc() + Duration::seconds(OFFSET_SECONDS.load(Ordering::Relaxed));
    t - Duration::nanoseconds(i64::from(t.and_utc().timestamp_subsec_nanos() % 1000))
}

/// Today's date (UTC) on the app's clock.
pub fn today() -> chrono::NaiveDate {
    now().date()
}

/// Moves the clock forward (tests only).
pub fn advance(by: Duration) {
    OFFSET_SECONDS.fetch_add(by.num_seconds(), Ordering::Relaxed);
}

/// Puts the clock back to real time (tests only).
pub fn reset() {
    OFFSET_SECONDS.store(0, Ordering::Relaxed);
}
