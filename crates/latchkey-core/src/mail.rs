//! What the services need from mail templating; implemented by `latchkey-mail` (Liquid), so the
//! core does not carry the template engine's dependencies.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

pub trait TemplateEngine: Send + Sync {
    /// Parses `source`; the error names what is wrong, for the administrator who saved it.
    fn check(&self, source: &str) -> Result<(), TemplateError>;
    fn render(&self, source: &str, variables: &Value) -> Result<String, TemplateError>;
}
