//! One integration-test binary: real server, real port, real store (SQLite or PostgreSQL).

mod actions;
mod admin;
mod admin_actions;
mod admin_emails;
mod admin_logs;
mod admin_settings;
mod backchannel_logout;
mod browser;
mod browser_actions;
mod browser_admin;
mod browser_mfa;
mod brute_force;
mod cors;
mod custom_db;
mod dbconnections;
mod email_provider;
mod email_templates;
mod helpers;
mod login;
mod mail_delivery;
mod management;
mod reset;
mod sdk;
mod secrets;
mod smtp_sink;
mod tokens;
