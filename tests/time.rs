//! Access over time: tests that move the app's clock (`portico::clock`) a day, a week or a
//! month forward and look at what happened on the very next request. The clock is one per
//! process, so these run in their own test binary, one at a time (`time::common::clock`).
//!
//! On SQLite by default; with TEST_DATABASE_URL on a fresh PostgreSQL database per test.

#[path = "app/support/mod.rs"]
mod support;

mod time {
    pub mod common;

    mod end_dates;
    mod fresh_link;
    mod reminders;
}
