//! A tenant's own page template (`server.pages_dir`). `page.liquid` wraps every hosted page in
//! Auth0's Universal Login page-template syntax, so a team brings the template it already has:
//! `{%- auth0:head -%}` becomes the page's head (title, viewport, stylesheets) and
//! `{%- auth0:widget -%}` the page's content (the form). `custom.css` is served at
//! `/lo/custom.css` and linked after the built-in stylesheet. Both are read once at start-up;
//! a template that does not parse, render or place both tags stops the start with the reason.

use latchkey_core::mail::TemplateEngine;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const HEAD_VAR: &str = "latchkey_head";
const WIDGET_VAR: &str = "latchkey_widget";

pub struct PageTheme {
    layout: Option<(String, Arc<dyn TemplateEngine>)>,
    custom_css: Option<String>,
}

/// What a page gives the layout: the rendered head and widget plus values a template may
/// show. Text values are HTML-escaped already (Liquid does not escape).
pub(crate) struct LayoutParts<'a> {
    pub(crate) head: &'a str,
    pub(crate) widget: &'a str,
    pub(crate) locale: &'a str,
    pub(crate) title: &'a str,
    pub(crate) tenant_name: &'a str,
    pub(crate) logo_url: Option<&'a str>,
    pub(crate) primary_color: &'a str,
}

impl LayoutParts<'_> {
    fn variables(&self) -> Value {
        let esc = latchkey_core::mail::escape_html;
        json!({
            HEAD_VAR: self.head,
            WIDGET_VAR: self.widget,
            "locale": self.locale,
            "prompt": { "screen": { "name": esc(self.title) } },
            "tenant": { "friendly_name": esc(self.tenant_name) },
            "branding": {
                "logo_url": self.logo_url.map(esc),
                "colors": { "primary": esc(self.primary_color) },
            },
        })
    }
}

impl PageTheme {
    /// Latchkey's own layout and stylesheet only.
    pub fn built_in() -> Self {
        Self {
            layout: None,
            custom_css: None,
        }
    }

    /// Reads `page.liquid` and `custom.css` from `dir` (either may be absent).
    pub fn load(dir: &Path, engine: Arc<dyn TemplateEngine>) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        let read = |name: &str| -> Result<Option<String>, String> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("reading {}: {e}", path.display())),
            }
        };
        let layout = match read("page.liquid")? {
            None => None,
            Some(source) => {
                let source = replace_auth0_tags(&source)?;
                engine
                    .check(&source)
                    .map_err(|e| format!("page.liquid: {}", e.0))?;
                let sample = LayoutParts {
                    head: "",
                    widget: "",
                    locale: "en",
                    title: "Log in",
                    tenant_name: "Latchkey",
                    logo_url: None,
                    primary_color: "#635bff",
                };
                engine
                    .render(&source, &sample.variables())
                    .map_err(|e| format!("page.liquid: {}", e.0))?;
                Some((source, engine))
            }
        };
        Ok(Self {
            layout,
            custom_css: read("custom.css")?,
        })
    }

    pub(crate) fn custom_css(&self) -> Option<&str> {
        self.custom_css.as_deref()
    }

    /// The whole page in the tenant's layout, or `None` to use the built-in one (no layout, or
    /// it failed to render: logged, and the page still works).
    pub(crate) fn render(&self, parts: &LayoutParts<'_>) -> Option<String> {
        let (source, engine) = self.layout.as_ref()?;
        match engine.render(source, &parts.variables()) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(error = %e.0, "rendering page.liquid; using the built-in layout");
                None
            }
        }
    }
}

/// Rewrites Auth0's `{%- auth0:head -%}` and `{%- auth0:widget -%}` tags (with or without the
/// whitespace dashes) into variables; both must be present.
fn replace_auth0_tags(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let (mut head, mut widget) = (false, false);
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        // The closing `%}` comes after the opening `{%` (in `{%}` they would overlap).
        let Some(len) = rest[start + 2..].find("%}") else {
            break;
        };
        let tag = &rest[start..start + 2 + len + 2];
        let name = tag[2..tag.len() - 2].trim_matches('-').trim();
        out.push_str(&rest[..start]);
        match name {
            "auth0:head" => {
                head = true;
                out.push_str(&format!("{{{{ {HEAD_VAR} }}}}"));
            }
            "auth0:widget" => {
                widget = true;
                out.push_str(&format!("{{{{ {WIDGET_VAR} }}}}"));
            }
            _ => out.push_str(tag),
        }
        rest = &rest[start + tag.len()..];
    }
    out.push_str(rest);
    match (head, widget) {
        (true, true) => Ok(out),
        _ => {
            Err("page.liquid must contain both {%- auth0:head -%} and {%- auth0:widget -%}".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_auth0_tags;

    #[test]
    fn auth0_tags_become_variables_and_other_tags_stay() {
        let out = replace_auth0_tags(
            "<head>{%- auth0:head -%}</head>{% if x %}y{% endif %}<body>{% auth0:widget %}</body>",
        )
        .unwrap_or_default();
        assert_eq!(
            out,
            "<head>{{ latchkey_head }}</head>{% if x %}y{% endif %}<body>{{ latchkey_widget }}</body>"
        );
        assert!(replace_auth0_tags("<body>{%- auth0:widget -%}</body>").is_err());
        // A stray `{%}` is an error to report, not a panic.
        assert!(replace_auth0_tags("{%}").is_err());
        assert!(replace_auth0_tags("x{%}{%- auth0:head -%}").is_err());
    }
}
