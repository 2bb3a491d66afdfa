//! Embedded login with Auth0's libraries unchanged, in headless Chromium against the real
//! binary (TLS, mail over SMTP), from an application origin other than the server's: Lock 14
//! loads `/client/{id}.js`, resets a password ("Don't remember your password?", the mail, the
//! hosted reset page), refuses the old password with its own message and logs in with the new
//! one through `/co/authenticate` and `/authorize?login_ticket=`; then auth0-js 9
//! `WebAuth.login` does the same. The script is `tests-sdk/lock/lock_journey.mjs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::Journey;

#[tokio::test]
async fn lock_forgot_password_and_login_then_auth0_js_login_in_chromium() {
    let journey = Journey::run_in("lock", "lock_journey.mjs", "lock", &[]).await;
    // The reset mail and the "password changed" notice, both to the Lock user.
    let mails = journey.mails(2).await;
    assert!(
        mails.iter().all(|m| m.to == ["lock-journey@example.com"]),
        "{mails:#?}"
    );
    journey.assert_screenshots(&[
        "lock-login",
        "lock-forgot",
        "lock-forgot-sent",
        "lock-wrong-password",
        "lock-callback",
        "auth0js-callback",
    ]);
}
