//! The `latchkey` server as a library, so tests and benchmarks boot the real application.

pub mod app;
pub mod backchannel;
pub mod breach_range;
pub mod config;
pub mod listener;
pub mod logging;
pub mod private_files;
pub mod tls;

pub use app::Application;
pub use config::Settings;

/// This build's version (`latchkey --version`, `/health`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit this binary was built from (`build.rs`), or `unknown` outside a checkout.
pub const GIT_COMMIT: &str = env!("LATCHKEY_GIT_COMMIT");
