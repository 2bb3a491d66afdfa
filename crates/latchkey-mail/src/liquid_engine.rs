use latchkey_core::mail::{TemplateEngine, TemplateError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Parsed templates kept for reuse; a tenant has a handful, so this bound is never reached in
/// practice and only stops a stream of distinct sources from growing memory.
const MAX_PARSED: usize = 64;

/// Liquid with its standard filters. Liquid does not escape: callers pass user-controlled
/// values already escaped for the part (HTML body or plain text) they render. Each distinct
/// source is parsed once (every mail renders the same few templates).
pub struct LiquidEngine {
    parser: liquid::Parser,
    parsed: Mutex<HashMap<String, Arc<liquid::Template>>>,
}

impl LiquidEngine {
    pub fn new() -> Result<Self, TemplateError> {
        let parser = liquid::ParserBuilder::with_stdlib()
            .build()
            .map_err(|e| TemplateError(e.to_string()))?;
        Ok(Self {
            parser,
            parsed: Mutex::new(HashMap::new()),
        })
    }

    fn parsed(&self, source: &str) -> Result<Arc<liquid::Template>, TemplateError> {
        if let Some(t) = self.parsed.lock().ok().and_then(|m| m.get(source).cloned()) {
            return Ok(t);
        }
        let template = Arc::new(
            self.parser
                .parse(source)
                .map_err(|e| TemplateError(e.to_string()))?,
        );
        if let Ok(mut m) = self.parsed.lock() {
            if m.len() >= MAX_PARSED {
                m.clear();
            }
            m.insert(source.to_owned(), template.clone());
        }
        Ok(template)
    }
}

impl TemplateEngine for LiquidEngine {
    fn check(&self, source: &str) -> Result<(), TemplateError> {
        self.parser
            .parse(source)
            .map(drop)
            .map_err(|e| TemplateError(e.to_string().trim().to_owned()))
    }

    fn render(&self, source: &str, variables: &Value) -> Result<String, TemplateError> {
        let template = self.parsed(source)?;
        let globals =
            liquid::model::to_object(variables).map_err(|e| TemplateError(e.to_string()))?;
        template
            .render(&globals)
            .map_err(|e| TemplateError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn auth0_style_templates_render_and_broken_ones_are_named() {
        let engine = LiquidEngine::new().unwrap();
        let src = "Hi {{ user.email }}, {% if application.name %}from {{ application.name }}{% endif %}: {{ url }}";
        let vars = json!({"user": {"email": "a@b.co"}, "application": {"name": "Shop"}, "url": "https://x/y"});
        assert_eq!(
            engine.render(src, &vars).unwrap(),
            "Hi a@b.co, from Shop: https://x/y"
        );
        assert!(engine.check("{% if x %}never closed").is_err());
        assert!(engine.check("{{ url | upcase }}").is_ok());
    }
}
