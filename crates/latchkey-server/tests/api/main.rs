//! One integration-test binary: real server, real port, real store (SQLite or PostgreSQL).

mod cors;
mod dbconnections;
mod email_provider;
mod email_templates;
mod helpers;
mod management;
mod sdk;
mod secrets;
mod tokens;
