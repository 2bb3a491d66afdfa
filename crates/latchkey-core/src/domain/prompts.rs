//! Auth0's `/api/v2/prompts` settings: which Universal Login experience and login flow the
//! tenant uses. Latchkey's hosted pages ask for the identifier and the password on one page.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginExperience {
    #[default]
    New,
    Classic,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSettings {
    /// Kept for round trips: Latchkey serves its own pages for either value.
    pub universal_login_experience: LoginExperience,
    pub identifier_first: bool,
    pub webauthn_platform_first_factor: bool,
}

impl PromptSettings {
    pub fn unsupported(&self) -> Option<&'static str> {
        if self.identifier_first {
            Some(
                "Identifier First login is not available in Latchkey: identifier_first must be false",
            )
        } else if self.webauthn_platform_first_factor {
            Some(
                "WebAuthn with device biometrics as a first factor is not available in Latchkey: webauthn_platform_first_factor must be false",
            )
        } else {
            None
        }
    }
}
