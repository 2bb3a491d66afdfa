//! The templates used until an administrator saves their own (`/api/v2/email-templates`).
//! Same variables as Auth0's; user-controlled values arrive HTML-escaped.

use crate::domain::{EmailTemplate, EmailTemplateName};

const LAYOUT_START: &str = r#"<!doctype html><html><body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328"><table role="presentation" width="100%" cellspacing="0" cellpadding="0"><tr><td align="center"><table role="presentation" width="100%" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px" cellspacing="0" cellpadding="0"><tr><td>
<h1 style="font-size:20px;margin:0 0 24px">{{ friendly_name }}</h1>
"#;
const LAYOUT_END: &str = r#"<p style="font-size:13px;color:#57606a;margin-top:32px">{% if support_email %}Questions? Write to <a href="mailto:{{ support_email }}">{{ support_email }}</a>.{% endif %}</p>
</td></tr></table></td></tr></table></body></html>"#;

fn body(inner: &str) -> String {
    format!("{LAYOUT_START}{inner}{LAYOUT_END}")
}

/// The built-in template for `name`, if Latchkey sends that mail.
pub fn default_template(name: EmailTemplateName) -> Option<EmailTemplate> {
    let (subject, inner) = match name {
        EmailTemplateName::ResetEmail | EmailTemplateName::PasswordReset => (
            "Reset your {{ friendly_name }} password",
            r#"<p>Hello {{ user.name }},</p>
<p>Someone asked to reset the password of your {{ application.name }} account ({{ user.email }}). To choose a new password, open this link:</p>
<p><a href="{{ url }}" style="display:inline-block;background:#635bff;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none">Reset password</a></p>
<p style="font-size:13px;color:#57606a">Or paste this address into your browser: {{ url }}</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>"#,
        ),
        EmailTemplateName::ChangePassword => (
            "Confirm your new {{ friendly_name }} password",
            r#"<p>Hello {{ user.name }},</p>
<p>Someone asked to change the password of your {{ application.name }} account ({{ user.email }}). To confirm the new password, open this link:</p>
<p><a href="{{ url }}" style="display:inline-block;background:#635bff;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none">Confirm password change</a></p>
<p style="font-size:13px;color:#57606a">Or paste this address into your browser: {{ url }}</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>"#,
        ),
        EmailTemplateName::PasswordChanged => (
            "Your {{ friendly_name }} password was changed",
            r#"<p>Hello {{ user.name }},</p>
<p>The password of your {{ application.name }} account ({{ user.email }}) was just changed, and every session was signed out.</p>
<p>If you did not do this, reset your password now and contact us.</p>"#,
        ),
        EmailTemplateName::BlockedAccount => (
            "Your {{ friendly_name }} account was blocked",
            r#"<p>Hello {{ user.name }},</p>
<p>We blocked sign-in to your account ({{ user.email }}) from {{ ip }} after too many failed attempts.</p>
<p>If this was you, you can unblock it:</p>
<p><a href="{{ url }}" style="display:inline-block;background:#635bff;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none">Unblock my account</a></p>
<p style="font-size:13px;color:#57606a">Or paste this address into your browser: {{ url }}</p>
<p>If it was not you, someone may be guessing your password: choose "Forgot password?" on the sign-in page to set a new one, which also lifts the block.</p>"#,
        ),
        EmailTemplateName::VerifyEmail => (
            "Verify your {{ friendly_name }} email address",
            r#"<p>Hello {{ user.name }},</p>
<p>Please confirm that {{ user.email }} is your address by opening this link:</p>
<p><a href="{{ url }}">Verify email</a></p>"#,
        ),
        _ => return None,
    };
    Some(EmailTemplate {
        template: name,
        body: body(inner),
        from: String::new(),
        subject: subject.to_owned(),
        syntax: "liquid".to_owned(),
        result_url: None,
        url_lifetime_secs: 432_000,
        include_email_in_redirect: true,
        enabled: true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_mails_latchkey_sends_have_defaults() {
        for name in [
            EmailTemplateName::ResetEmail,
            EmailTemplateName::ChangePassword,
            EmailTemplateName::PasswordChanged,
            EmailTemplateName::VerifyEmail,
        ] {
            let t = default_template(name).unwrap();
            assert!(t.enabled && t.body.contains("{{ friendly_name }}"));
        }
        assert!(default_template(EmailTemplateName::MfaOobCode).is_none());
    }
}
