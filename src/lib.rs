//! Portico: accounting firms invite their clients and staff into the books.

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod usecases;
