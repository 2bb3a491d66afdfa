//! The seed's "option 4" in real headless Chromium against the real `latchkey` binary, with npm
//! `openid-client` as the application: Auth0's sample post-login action, deployed verbatim,
//! makes a password-change ticket through a machine-to-machine application when the login asks
//! for `update:password` with `max_age`; the browser lands on the hosted reset page with no
//! session, sets a new password, and the next ordinary login refuses the old one and accepts
//! the new. Every page is checked with axe-core like J1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::Journey;

const EMAIL: &str = "option4@example.com";

/// Full-page screenshots go to `target/latchkey-test/screenshots/<backend>/option4/`.
#[tokio::test]
async fn option_4_sample_action_changes_the_password_after_re_authentication_in_chromium() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sample_post_login_action.js"
    );
    let journey = Journey::run(
        "option4_journey.mjs",
        "option4",
        &[("LATCHKEY_SAMPLE_ACTION", sample)],
    )
    .await;
    // No reset mail (the ticket went straight to the browser): only the "password changed"
    // notice, to the user.
    let mails = journey.mails(1).await;
    assert_eq!(mails[0].to, [EMAIL], "{mails:#?}");
    let subject = mails[0].header("Subject").unwrap_or_default();
    assert!(subject.contains("password was changed"), "{subject:?}");
    journey.assert_screenshots(&["login", "reset-form", "reset-done", "login-old-refused"]);
}
