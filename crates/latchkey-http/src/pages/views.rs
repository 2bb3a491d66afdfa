//! The hosted pages' view models: one struct per template in `templates/hosted/`, holding
//! plain values. Templates escape every value; nothing here is HTML.

use crate::web::views::RuleLine;
use crate::web::{ScriptHash, csp_hash};
use askama::Template;

/// The page shell when the tenant has no `page.liquid`.
#[derive(Template)]
#[template(path = "hosted/document.html")]
pub(super) struct Document<'a> {
    pub(super) lang: &'a str,
    pub(super) head: &'a crate::web::Html,
    pub(super) widget: &'a crate::web::Html,
}

/// `{%- auth0:head -%}`: title and stylesheets.
#[derive(Template)]
#[template(path = "hosted/head.html")]
pub(super) struct Head<'a> {
    pub(super) title: &'a str,
    pub(super) tenant: &'a str,
    pub(super) custom_css: bool,
}

/// `{%- auth0:widget -%}`: the tenant's logo and name above the page's body.
#[derive(Template)]
#[template(path = "hosted/widget.html")]
pub(super) struct Widget<'a> {
    pub(super) logo_url: Option<&'a str>,
    pub(super) tenant: &'a str,
    pub(super) body: &'a crate::web::Html,
}

/// The "email me a link" form.
pub(super) struct ForgotForm<'a> {
    pub(super) csrf: String,
    pub(super) connection: &'a str,
    pub(super) error: Option<&'a str>,
    pub(super) button: &'a str,
}

/// A page that says one thing (an error, a confirmation), optionally with a button or the
/// "email me a link" form.
#[derive(Template, Default)]
#[template(path = "hosted/message.html")]
pub(super) struct Message<'a> {
    pub(super) heading: &'a str,
    /// Sentences of the lead paragraph (each translated on its own).
    pub(super) lead: Vec<&'a str>,
    pub(super) error: Option<&'a str>,
    pub(super) ok: Option<&'a str>,
    pub(super) note: Option<&'a str>,
    pub(super) button: Option<(&'a str, &'a str)>,
    pub(super) forgot: Option<ForgotForm<'a>>,
}

impl<'a> Message<'a> {
    pub(super) fn new(heading: &'a str) -> Self {
        Self {
            heading,
            ..Self::default()
        }
    }
}

#[derive(Template)]
#[template(path = "hosted/login.html")]
pub(super) struct Login<'a> {
    pub(super) client: &'a str,
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
    pub(super) transaction: &'a str,
    pub(super) hint: &'a str,
    pub(super) connection_query: String,
    pub(super) signup_query: Option<String>,
}

#[derive(Template)]
#[template(path = "hosted/signup.html")]
pub(super) struct Signup<'a> {
    pub(super) client: &'a str,
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
    pub(super) transaction: &'a str,
    pub(super) email: &'a str,
    pub(super) rules: Vec<RuleLine>,
    pub(super) back_query: String,
}

/// `response_mode=form_post`: the callback's parameters in a form that submits itself (its
/// button stays for browsers without JavaScript).
#[derive(Template)]
#[template(path = "hosted/form_post.html")]
pub(super) struct FormPost<'a> {
    pub(super) action: &'a str,
    pub(super) fields: &'a [(String, String)],
    pub(super) script: &'static str,
}

pub(super) static FORM_POST_SCRIPT: ScriptHash =
    ScriptHash::new(include_str!("../../templates/hosted/form_post.js"), || {
        csp_hash(FORM_POST_SCRIPT.text)
    });

/// `response_mode=web_message`: the callback's parameters, posted to `origin` (the callback's
/// origin, one of the client's web origins) by the page's one script.
#[derive(Template)]
#[template(path = "hosted/web_message.html")]
pub(super) struct WebMessage<'a> {
    pub(super) origin: &'a str,
    pub(super) fields: &'a [(String, String)],
    pub(super) script: &'static str,
}

pub(super) static WEB_MESSAGE_SCRIPT: ScriptHash = ScriptHash::new(
    include_str!("../../templates/hosted/web_message.js"),
    || csp_hash(WEB_MESSAGE_SCRIPT.text),
);

/// The one-time-code form (login's second factor, enrolment, the reset's challenge).
pub(super) struct CodeForm<'a> {
    pub(super) action: &'a str,
    pub(super) csrf: String,
    pub(super) hidden_name: &'a str,
    pub(super) hidden_value: &'a str,
    pub(super) label: &'a str,
    pub(super) error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "hosted/second_factor.html")]
pub(super) struct SecondFactor<'a> {
    pub(super) code: CodeForm<'a>,
}

#[derive(Template)]
#[template(path = "hosted/enroll.html")]
pub(super) struct Enroll<'a> {
    pub(super) qr_base64: String,
    pub(super) key: String,
    pub(super) code: CodeForm<'a>,
}

/// How a recovery-code page lets the user go on.
pub(super) enum Onward<'a> {
    Link(&'a str),
    Post {
        action: &'a str,
        fields: &'a [(String, String)],
    },
    /// A popup answered by `web_message`: the button posts the answer to the opener.
    Message {
        origin: &'a str,
        fields: &'a [(String, String)],
        script: &'static str,
    },
}

#[derive(Template)]
#[template(path = "hosted/recovery.html")]
pub(super) struct Recovery<'a> {
    pub(super) heading: &'a str,
    pub(super) lead: &'a str,
    pub(super) code: String,
    pub(super) onward: Onward<'a>,
}

#[derive(Template)]
#[template(path = "hosted/reset_challenge.html")]
pub(super) struct ResetChallenge<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) code: CodeForm<'a>,
}

#[derive(Template)]
#[template(path = "hosted/reset_confirm.html")]
pub(super) struct ResetConfirm<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) error: Option<&'a str>,
    pub(super) csrf: &'a str,
    pub(super) ticket: &'a str,
}

#[derive(Template)]
#[template(path = "hosted/reset_form.html")]
pub(super) struct ResetForm<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) error: Option<&'a str>,
    pub(super) csrf: &'a str,
    pub(super) ticket: &'a str,
    pub(super) new_password_error: Option<&'a str>,
    pub(super) confirm_error: Option<&'a str>,
    pub(super) rules: Vec<RuleLine>,
}

#[derive(Template)]
#[template(path = "hosted/unblock.html")]
pub(super) struct Unblock<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) ip: &'a str,
    pub(super) csrf: String,
    pub(super) ticket: &'a str,
}

#[derive(Template)]
#[template(path = "hosted/unblocked.html")]
pub(super) struct Unblocked<'a> {
    pub(super) forgot: ForgotForm<'a>,
}

#[derive(Template)]
#[template(path = "hosted/logout_confirm.html")]
pub(super) struct LogoutConfirm<'a> {
    pub(super) csrf: String,
    /// The logout request's parameters, carried to the confirming post.
    pub(super) fields: Vec<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "hosted/email_verification.html")]
pub(super) struct EmailVerification<'a> {
    pub(super) heading: &'a str,
    pub(super) lead: &'a str,
    pub(super) note: &'a str,
    pub(super) verified: bool,
}
