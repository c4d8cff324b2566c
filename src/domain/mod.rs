//! Domain types parsed at the edge: once a value is one of these, it is valid.

pub mod access;
mod csv;
mod email;
mod end_date;
mod ids;
pub mod limits;
pub mod listing;
mod money;
mod names;
mod roles;
pub mod token;
pub mod two_factor;

pub use csv::{csv_cell, csv_record};
pub use email::{EmailAddress, EmailList, EmailListEntry};
pub use end_date::EndDate;
pub use ids::{EntityId, InviteId, MembershipId, OrgId, SessionId, UserId, WorkspaceId};
pub use money::{format_amount, parse_amount, parse_date};
pub use names::{is_invisible, Name, Password};
pub use roles::{OrgRole, WorkspaceRole};
