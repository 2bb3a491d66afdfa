//! Real headless Chromium against the real `latchkey` binary: the official `auth0-js` calls
//! `WebAuth.changePassword` from a cross-origin page (CORS), and journey J1 runs with npm
//! `openid-client` as the application, every page checked with axe-core (WCAG 2.1 A/AA, no
//! serious or critical violation).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use crate::sdk::{repo_root, run};
use crate::smtp_sink::SmtpSink;
use std::time::Duration;

/// The real binary delivering over SMTP to a loopback sink.
pub(crate) async fn server_with_smtp_sink() -> (Server, SmtpSink) {
    let sink = SmtpSink::start().await;
    let server = start_binary(true, &[("LATCHKEY_SMTP_URL", &sink.url())]).await;
    (server, sink)
}

#[tokio::test]
async fn auth0_js_in_chromium_changes_the_password_cross_origin() {
    let dir = repo_root().join("tests-sdk/browser");
    assert!(
        dir.join("node_modules/auth0-js").exists(),
        "npm auth0-js is not installed: run scripts/test (it runs npm ci in tests-sdk/browser)"
    );
    let chromium =
        std::env::var("LATCHKEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: run scripts/test (it installs the Debian chromium \
         package), or set LATCHKEY_CHROMIUM"
    );
    let (server, sink) = server_with_smtp_sink().await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("change_password.mjs"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("https://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"))
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    run(cmd, "auth0-js changePassword in Chromium").await;

    // The allowed page's request sent exactly one mail; the refused one none.
    sink.wait_for(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, vec!["browser@example.com".to_owned()]);
}

/// Journey J1 in headless Chromium, with npm `openid-client` as the application: authorization
/// URL → login page → "Forgot password?" → reset link from the outbox mail → new password →
/// the old password is refused, the new one logs in → code exchange and ID token checks →
/// userinfo → single sign-on → `prompt=login` → logout. Full-page screenshots of each page go
/// to `target/latchkey-test/screenshots/<backend>/`; afterwards each page is checked with
/// axe-core (replayed from its saved HTML, so the journey itself runs under the real CSP).
#[tokio::test]
async fn j1_forgot_password_then_log_in_in_chromium_with_openid_client() {
    let dir = repo_root().join("tests-sdk/browser");
    assert!(
        dir.join("node_modules/openid-client").exists()
            && dir.join("node_modules/playwright-core").exists()
            && dir.join("node_modules/axe-core").exists(),
        "npm openid-client/playwright-core are not installed: run scripts/test (it runs npm ci \
         in tests-sdk/browser)"
    );
    let chromium =
        std::env::var("LATCHKEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: run scripts/test (it installs the Debian chromium \
         package), or set LATCHKEY_CHROMIUM"
    );
    let backend = std::env::var("LATCHKEY_TEST_BACKEND").unwrap_or_else(|_| "sqlite".to_owned());
    let shots = repo_root()
        .join("target/latchkey-test/screenshots")
        .join(&backend)
        .join("j1");
    // Only this run's pictures.
    let _ = std::fs::remove_dir_all(&shots);
    let (server, sink) = server_with_smtp_sink().await;
    let mail_dir = server.data_dir.join("received-mail");
    let _mirror = AbortOnDrop(sink.mirror_to(&mail_dir));
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("login_journey.mjs"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("https://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("LATCHKEY_MAIL_DIR", &mail_dir)
        .env("LATCHKEY_SCREENSHOTS", &shots)
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"))
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    run(cmd, "J1 login journey in Chromium with openid-client").await;

    // Exactly one reset mail and the "password changed" notice, and a picture of every page.
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert!(mails.iter().all(|m| m.to == ["journey@example.com"]));
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Reset your"))
            .count(),
        1,
        "{subjects:?}"
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("was changed"))
            .count(),
        1,
        "{subjects:?}"
    );
    for name in [
        "login",
        "forgot-form",
        "forgot-sent",
        "reset-form",
        "reset-done",
        "login-error",
        "logged-out",
    ] {
        let found = std::fs::read_dir(&shots)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with(&format!("-{name}.png"))
            });
        assert!(found, "no screenshot of {name} in {}", shots.display());
    }
}

/// Aborts a background task when the test ends.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
