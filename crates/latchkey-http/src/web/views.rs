//! View types shared by hosted pages and console templates.

use latchkey_core::password::{ADVICE_CODES, RuleReport};

/// One password rule as a list item: its text and, once a password was tried, whether it
/// was met (`state` "ok" or "bad", shown in colour and in words for screen readers).
pub(crate) struct RuleLine {
    pub(crate) text: String,
    pub(crate) state: &'static str,
    pub(crate) items: Vec<RuleLine>,
}

impl RuleLine {
    /// A policy's rules; `checked` when they report on a password that was tried.
    pub(crate) fn list(rules: &[RuleReport], checked: bool) -> Vec<Self> {
        rules.iter().map(|r| Self::one(r, checked)).collect()
    }

    fn one(r: &RuleReport, checked: bool) -> Self {
        Self {
            text: r.text(),
            state: match (checked, r.verified) {
                // A strength estimate's warning and suggestions: advice, neither met nor not.
                _ if ADVICE_CODES.contains(&r.code) => "hint",
                (false, _) => "",
                (true, true) => "ok",
                (true, false) => "bad",
            },
            items: r
                .items
                .iter()
                .flatten()
                .map(|i| Self::one(i, checked))
                .collect(),
        }
    }
}
