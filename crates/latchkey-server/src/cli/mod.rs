//! The `latchkey` commands that have their own module (the rest are in `main.rs`).

pub mod export;
