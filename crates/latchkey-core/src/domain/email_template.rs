use super::ParseError;
use serde::{Deserialize, Serialize};

/// The templates Auth0 knows (`EmailTemplateNameEnum`), plus `password_changed`: the notice a
/// user gets after a self-service password change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTemplateName {
    VerifyEmail,
    VerifyEmailByCode,
    AuthEmailByCode,
    ResetEmail,
    ResetEmailByCode,
    WelcomeEmail,
    BlockedAccount,
    StolenCredentials,
    EnrollmentEmail,
    MfaOobCode,
    UserInvitation,
    AsyncApproval,
    ChangePassword,
    PasswordReset,
    PasswordChanged,
}

impl EmailTemplateName {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| ParseError::new("template", format!("{s} is not a known template name")))
    }
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

fn default_lifetime() -> i64 {
    432_000
}
fn yes() -> bool {
    true
}

/// A mail template, in Auth0's representation (the camelCase names are the real wire names),
/// which is also how it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailTemplate {
    pub template: EmailTemplateName,
    pub body: String,
    pub from: String,
    pub subject: String,
    pub syntax: String,
    #[serde(rename = "resultUrl", default, skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    #[serde(rename = "urlLifetimeInSeconds", default = "default_lifetime")]
    pub url_lifetime_secs: i64,
    #[serde(rename = "includeEmailInRedirect", default = "yes")]
    pub include_email_in_redirect: bool,
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn template_names_are_auth0s() {
        assert_eq!(
            EmailTemplateName::parse("reset_email").unwrap(),
            EmailTemplateName::ResetEmail
        );
        assert_eq!(EmailTemplateName::ResetEmail.as_str(), "reset_email");
        assert!(EmailTemplateName::parse("welcome").is_err());
    }
}
