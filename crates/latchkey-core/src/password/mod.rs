//! Passwords: hashing on a bounded pool, and the connection policy every path evaluates.

mod hasher;
mod policy;

pub use hasher::{
    Argon2Settings, Overloaded, PasswordHasher, QueueLimits, Verification, raw_hash_for_benchmark,
};
pub use policy::{PasswordPolicy, PersonalInfo, PolicyErrorName, PolicyViolation, RuleReport};
