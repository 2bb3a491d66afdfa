//! The `latchkey` server as a library, so tests and benchmarks boot the real application.

pub mod app;
pub mod backchannel;
pub mod config;
pub mod listener;
pub mod private_files;
pub mod tls;

pub use app::Application;
pub use config::Settings;
