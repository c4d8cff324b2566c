//! Portico under faults: each test starts the real binary (`target/…/portico`) as a child
//! process beside a real SMTP sink and a real database, breaks something (the mail server,
//! the process, the database, the disk), and checks on the database and at the SMTP sink
//! what survived. Each prints its figures.
//!
//! On SQLite by default; with TEST_DATABASE_URL (a PostgreSQL server) on a fresh PostgreSQL
//! database per test. Tests that need something absent say so and are skipped.

#[path = "app/support/mod.rs"]
mod support;

mod faults {
    pub mod common;
    pub mod instance;
    pub mod proxy;

    mod crash;
    mod database_away;
    mod disk_full;
    mod logs;
    mod mail_outage;
    mod shutdown;
    mod two_instances;
}
