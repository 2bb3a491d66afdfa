//! The MFA journey in real headless Chromium against the real `latchkey` binary, with npm
//! `openid-client` as the application: enrolment at login (QR code, a wrong code, the right
//! one, the recovery code), a password reset that demands the second factor (passed with the
//! recovery code, which is replaced), the challenge at the next login, and brute-force
//! protection (ten wrong passwords block the IP, the mailed link unblocks). Every page is
//! checked with axe-core like J1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::Journey;

const EMAIL: &str = "mfa-journey@example.com";

/// Full-page screenshots go to `target/latchkey-test/screenshots/<backend>/mfa/`.
#[tokio::test]
async fn mfa_enrolment_reset_with_mfa_and_brute_force_block_in_chromium() {
    let journey = Journey::run("mfa_journey.mjs", "mfa", &[]).await;
    // One reset mail, the "password changed" notice and one "blocked" mail, all to the user.
    let mails = journey.mails(3).await;
    assert!(mails.iter().all(|m| m.to == [EMAIL]), "{mails:#?}");
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    let with = |pattern: &str| subjects.iter().filter(|s| s.contains(pattern)).count();
    assert_eq!(with("Reset your"), 1, "{subjects:?}");
    assert_eq!(with("password was changed"), 1, "{subjects:?}");
    assert_eq!(with("account was blocked"), 1, "{subjects:?}");
    journey.assert_screenshots(&[
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
    ]);
}
