//! Mail for Latchkey. Templates use Liquid, like Auth0's, so tenants bring theirs unchanged;
//! delivery goes over SMTP (lettre) or, in development, into a directory of `.eml` files.

mod liquid_engine;
pub mod outbox_reader;
mod plain_text;
mod transport;

pub use liquid_engine::LiquidEngine;
pub use plain_text::html_to_text;
pub use transport::LettreTransport;
