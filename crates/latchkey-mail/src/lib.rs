//! Mail for Latchkey. Templates use Liquid, like Auth0's, so tenants bring theirs unchanged.

mod liquid_engine;

pub use liquid_engine::LiquidEngine;
