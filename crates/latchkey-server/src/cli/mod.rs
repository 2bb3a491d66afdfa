//! The `latchkey` subcommands that have grown past a few lines, one module each.

pub mod import;
