//! "Your account"'s view models: one struct per template in `templates/console/security/`.

use askama::Template;

/// The administrator's account: who is signed in, and the authenticator app (on or off).
#[derive(Template)]
#[template(path = "console/security/account.html")]
pub(super) struct Account<'a> {
    pub(super) email: &'a str,
    pub(super) has_totp: bool,
    pub(super) csrf: String,
}

/// Setting up an authenticator app: the QR code, the key for manual entry, the code form.
#[derive(Template)]
#[template(path = "console/security/setup.html")]
pub(super) struct Setup<'a> {
    pub(super) qr_base64: String,
    pub(super) key: String,
    pub(super) csrf: String,
    pub(super) pending: &'a str,
}

/// A refused step: the notice says why; the body leads back.
#[derive(Template)]
#[template(path = "console/security/back.html")]
pub(super) struct Back;
