//! The admin console journey in real headless Chromium against the real `latchkey` binary:
//! sign-in (a wrong password first), a user found by search, Change Password (a weak password
//! refused with the rules marked, then a strong one; the user logs in with it), the reset
//! template's subject and URL lifetime edited, previewed and saved (the next reset mail has the
//! subject), sign-out, and "Don't remember your password?" end to end over SMTP. Every page is
//! checked with axe-core like J1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::Journey;

const USER_EMAIL: &str = "user-journey@example.com";
/// The Liquid subject the journey types into the reset template.
const RESET_SUBJECT: &str = "Admin journey: reset for {{ user.email }}";

/// Full-page screenshots go to `target/latchkey-test/screenshots/<backend>/admin/`.
#[tokio::test]
async fn admin_console_journey_in_chromium() {
    let journey = Journey::run(
        "admin_journey.mjs",
        "admin",
        &[("LATCHKEY_RESET_SUBJECT", RESET_SUBJECT)],
    )
    .await;
    let admin_email = journey.server.bootstrap()["admin"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    // One reset mail to the user with the edited subject, one console reset mail to the
    // administrator; Change Password told nobody.
    let mails = journey.mails(2).await;
    let edited = RESET_SUBJECT.replace("{{ user.email }}", USER_EMAIL);
    let to_user: Vec<_> = mails.iter().filter(|m| m.to == [USER_EMAIL]).collect();
    assert_eq!(to_user.len(), 1, "{mails:#?}");
    assert_eq!(
        to_user[0].header("Subject").as_deref(),
        Some(edited.as_str()),
        "{:#?}",
        to_user[0]
    );
    assert!(
        to_user[0]
            .part("text/html")
            .unwrap_or_default()
            .contains("/lo/reset?ticket="),
        "{:#?}",
        to_user[0]
    );
    let to_admin: Vec<_> = mails
        .iter()
        .filter(|m| m.to == [admin_email.as_str()])
        .collect();
    assert_eq!(to_admin.len(), 1, "{mails:#?}");
    assert!(
        to_admin[0]
            .header("Subject")
            .unwrap_or_default()
            .contains("console password"),
        "{:#?}",
        to_admin[0]
    );
    assert!(
        to_admin[0]
            .part("text/html")
            .unwrap_or_default()
            .contains("/admin/reset?ticket="),
        "{:#?}",
        to_admin[0]
    );

    journey.assert_screenshots(&[
        "admin-login",
        "admin-login-error",
        "users",
        "users-search",
        "user",
        "change-password-weak",
        "change-password-done",
        "emails",
        "template",
        "template-preview",
        "template-saved",
        "user-reset-link",
        "signed-out",
        "admin-forgot",
        "admin-forgot-sent",
        "admin-reset",
        "admin-reset-weak",
        "admin-reset-personal",
        "admin-reset-done",
    ]);
}
