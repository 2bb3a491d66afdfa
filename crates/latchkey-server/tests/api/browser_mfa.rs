//! The MFA journey in real headless Chromium against the real `latchkey` binary, with npm
//! `openid-client` as the application: enrolment at login (QR code, a wrong code, the right
//! one, the recovery code), a password reset that demands the second factor (passed with the
//! recovery code, which is replaced), the challenge at the next login, and brute-force
//! protection (ten wrong passwords block the IP, the mailed link unblocks). Every page is
//! checked with axe-core like J1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::{AbortOnDrop, server_with_smtp_sink};
use crate::sdk::{repo_root, run};
use std::time::Duration;

const EMAIL: &str = "mfa-journey@example.com";

/// Full-page screenshots go to `target/latchkey-test/screenshots/<backend>/mfa/`.
#[tokio::test]
async fn mfa_enrolment_reset_with_mfa_and_brute_force_block_in_chromium() {
    let dir = repo_root().join("tests-sdk/browser");
    assert!(
        dir.join("node_modules/openid-client").exists()
            && dir.join("node_modules/playwright-core").exists()
            && dir.join("node_modules/axe-core").exists(),
        "npm openid-client/playwright-core/axe-core are not installed: run scripts/test (it runs \
         npm ci in tests-sdk/browser)"
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
        .join("mfa");
    // Only this run's pictures.
    let _ = std::fs::remove_dir_all(&shots);
    let (server, sink) = server_with_smtp_sink().await;
    let mail_dir = server.data_dir.join("received-mail");
    let _mirror = AbortOnDrop(sink.mirror_to(&mail_dir));
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("mfa_journey.mjs"))
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
    run(cmd, "MFA journey in Chromium with openid-client").await;

    // One reset mail, the "password changed" notice and one "blocked" mail, all to the user.
    sink.wait_for(3, Duration::from_secs(10)).await;
    // Nothing else arrives late.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert!(mails.iter().all(|m| m.to == [EMAIL]), "{mails:#?}");
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    let with = |pattern: &str| subjects.iter().filter(|s| s.contains(pattern)).count();
    assert_eq!(with("Reset your"), 1, "{subjects:?}");
    assert_eq!(with("password was changed"), 1, "{subjects:?}");
    assert_eq!(with("account was blocked"), 1, "{subjects:?}");

    for name in [
        "login",
        "mfa-enrol",
        "mfa-enrol-error",
        "mfa-recovery",
        "forgot-form",
        "forgot-sent",
        "reset-mfa",
        "reset-new-recovery",
        "reset-form-after-mfa",
        "reset-done",
        "mfa-challenge",
        "login-error",
        "login-blocked",
        "unblock",
        "unblocked",
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
