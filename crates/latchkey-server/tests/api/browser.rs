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

/// The Chromium the browser tests drive (installed by scripts/test).
fn chromium() -> String {
    let chromium =
        std::env::var("LATCHKEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: run scripts/test (it installs the Debian chromium \
         package), or set LATCHKEY_CHROMIUM"
    );
    chromium
}

/// A finished browser journey: its server and mail sink, for the checks that follow.
pub(crate) struct Journey {
    pub(crate) server: Server,
    pub(crate) sink: SmtpSink,
    shots: std::path::PathBuf,
    _mirror: AbortOnDrop,
}

impl Journey {
    /// Runs `tests-sdk/browser/<script>` against the real binary (TLS, mail over SMTP to a
    /// loopback sink mirrored to a directory the script reads), with full-page screenshots in
    /// `target/latchkey-test/screenshots/<backend>/<shots>/` (only this run's). Fails the test
    /// when the script does.
    pub(crate) async fn run(script: &str, shots: &str, env: &[(&str, &str)]) -> Self {
        Self::run_in("browser", script, shots, env).await
    }

    /// `run` for a script in another `tests-sdk/<dir>` (its own npm packages; the helpers and
    /// playwright-core still come from `tests-sdk/browser`).
    pub(crate) async fn run_in(dir: &str, script: &str, shots: &str, env: &[(&str, &str)]) -> Self {
        let dir = repo_root().join("tests-sdk").join(dir);
        let browser_dir = repo_root().join("tests-sdk/browser");
        assert!(
            dir.join("node_modules").exists(),
            "{} has no node_modules: run scripts/test (it runs npm ci there)",
            dir.display()
        );
        assert!(
            ["openid-client", "playwright-core", "axe-core"]
                .iter()
                .all(|m| browser_dir.join("node_modules").join(m).exists()),
            "npm openid-client/playwright-core/axe-core are not installed: run scripts/test (it \
             runs npm ci in tests-sdk/browser)"
        );
        let chromium = chromium();
        let backend =
            std::env::var("LATCHKEY_TEST_BACKEND").unwrap_or_else(|_| "sqlite".to_owned());
        let shots = repo_root()
            .join("target/latchkey-test/screenshots")
            .join(&backend)
            .join(shots);
        let _ = std::fs::remove_dir_all(&shots);
        let (server, sink) = server_with_smtp_sink().await;
        let mail_dir = server.data_dir.join("received-mail");
        let mirror = AbortOnDrop(sink.mirror_to(&mail_dir));
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(dir.join(script))
            .env(
                "LATCHKEY_BASE_URL",
                format!("https://127.0.0.1:{}", server.port),
            )
            .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
            .env("LATCHKEY_MAIL_DIR", &mail_dir)
            .env("LATCHKEY_SCREENSHOTS", &shots)
            .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"))
            .env("CHROMIUM", &chromium)
            .envs(env.iter().copied())
            .kill_on_drop(true);
        run(cmd, script).await;
        Self {
            server,
            sink,
            shots,
            _mirror: mirror,
        }
    }

    /// `n` mails arrived, and no more a moment later.
    pub(crate) async fn mails(&self, n: usize) -> Vec<crate::smtp_sink::ReceivedMail> {
        self.sink.wait_for(n, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mails = self.sink.mails();
        assert_eq!(mails.len(), n, "{mails:#?}");
        mails
    }

    /// The journey took a screenshot (`NN-<name>.png`) of each of these pages.
    pub(crate) fn assert_screenshots(&self, names: &[&str]) {
        for name in names {
            let found = std::fs::read_dir(&self.shots)
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(&format!("-{name}.png"))
                });
            assert!(found, "no screenshot of {name} in {}", self.shots.display());
        }
    }
}

#[tokio::test]
async fn auth0_js_in_chromium_changes_the_password_cross_origin() {
    let dir = repo_root().join("tests-sdk/browser");
    assert!(
        dir.join("node_modules/auth0-js").exists(),
        "npm auth0-js is not installed: run scripts/test (it runs npm ci in tests-sdk/browser)"
    );
    let chromium = chromium();
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
    let journey = Journey::run("login_journey.mjs", "j1", &[]).await;
    // Exactly one reset mail and the "password changed" notice, and a picture of every page.
    let mails = journey.mails(2).await;
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
    journey.assert_screenshots(&[
        "login",
        "forgot-form",
        "forgot-sent",
        "reset-form",
        "reset-done",
        "login-error",
        "logged-out",
    ]);
}

/// Aborts a background task when the test ends.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
