//! Latchkey's domain: types parsed at the boundary, the services that hold every rule, and the
//! storage traits the backends implement. Nothing in this crate knows about HTTP or SQL.

pub mod actions;
pub mod audit;
pub mod backchannel;
pub mod config;
pub mod domain;
pub mod error;
pub mod error_code;
mod group_commit;
mod keyed_lock;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod password;
pub mod random;
pub mod ratelimit;
pub mod sealed_export;
pub mod services;
pub mod store;
pub mod tenant_keys;
pub mod time;
pub mod totp;

pub use error::{ServiceError, ServiceResult};
pub use error_code::ErrorCode;
pub use services::Services;
