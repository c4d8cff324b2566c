//! Passwords, sessions, CSRF, and the extractors that load who may do what.

pub mod client_ip;
pub mod csrf;
pub mod edge;
pub mod extract;
pub mod login_limit;
pub mod password;
pub mod session;
pub mod session_store;

pub use extract::{CurrentUser, OrgContext, WorkspaceContext};
