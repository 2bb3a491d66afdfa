//! The `latchkey` subcommands that have grown past a few lines, one module each (the rest
//! are in `main.rs`).

pub mod export;
pub mod import;
