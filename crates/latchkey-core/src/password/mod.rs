//! Passwords: hashing on a bounded pool, the connection policy every path evaluates, and the
//! breached-password corpus.

pub mod breach;
mod hasher;
mod imported;
mod policy;

pub use hasher::{
    Argon2Settings, Overloaded, PasswordHasher, QueueLimits, Verification, raw_hash_for_benchmark,
};
pub use imported::ImportedHash;
pub use policy::{
    ADVICE_CODES, PasswordPolicy, PersonalInfo, PolicyErrorName, PolicyViolation, RuleReport,
};
