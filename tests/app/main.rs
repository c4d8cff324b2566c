//! Black-box tests: each starts the real app with a fresh database and talks HTTP to it.
//! On PostgreSQL when TEST_DATABASE_URL is set (CI does), else on a temp SQLite file.

mod support;

mod access_report;
mod authz;
mod browser_flow;
mod email_delivery;
mod foundation;
mod grants;
mod hardening;
mod hostile;
mod identity;
mod invite_editing;
mod invite_proof;
mod invites;
mod layout;
mod lists;
mod mailbox;
mod members;
mod navigation;
mod offboarding;
mod operator;
mod queries;
mod sessions;
mod team;
mod two_factor;
