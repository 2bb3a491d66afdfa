//! The connection's password policy, with password-sheriff's rule codes and messages so that
//! Auth0 widgets and SDKs (Lock, auth0-js, Auth0.Android) render our errors unchanged.

use crate::domain::{ConnectionOptions, PasswordPolicyLevel};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::OnceLock;

const LOWER: &str = "lower case letters (a-z)";
const UPPER: &str = "upper case letters (A-Z)";
const NUMBERS: &str = "numbers (i.e. 0-9)";
const SPECIAL: &str = "special characters (e.g. !@#$%^&*)";
/// OWASP's special characters, as password-sheriff counts them.
const SPECIALS: &str = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords-10k.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `lower` (lower-cased) is one of the ten thousand most common passwords.
pub(crate) fn is_common_password(lower: &str) -> bool {
    common_passwords().contains(lower)
}

/// Which of Auth0's four policy errors a violation is (`name` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorName {
    Strength,
    Dictionary,
    NoUserInfo,
    History,
}

impl PolicyErrorName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strength => "PasswordStrengthError",
            Self::Dictionary => "PasswordDictionaryError",
            Self::NoUserInfo => "PasswordNoUserInfoError",
            Self::History => "PasswordHistoryError",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Self::Strength => "Password is too weak",
            Self::Dictionary => "Password is too common",
            Self::NoUserInfo => "Password contains user information",
            Self::History => "Password has previously been used",
        }
    }
}

/// One rule of the strength policy, with whether the candidate passed it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Vec<Value>>,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<RuleReport>>,
    pub verified: bool,
}

#[derive(Debug, Clone)]
pub struct PolicyViolation {
    pub name: PolicyErrorName,
    /// The strength report (present for every violation, so pages can show the rules).
    pub rules: Vec<RuleReport>,
    /// Human text of the policy, one `* rule` per line, as Auth0 sends it in `policy`.
    pub policy_text: String,
}

impl PolicyViolation {
    /// The `description` object of the Authentication API error body.
    pub fn description(&self) -> Value {
        if self.name == PolicyErrorName::Strength {
            json!({"rules": self.rules, "verified": false})
        } else {
            Value::String(self.name.message().to_owned())
        }
    }
}

/// The user attributes a password must not contain when `password_no_personal_info` is on.
#[derive(Debug, Clone, Default)]
pub struct PersonalInfo {
    pub values: Vec<String>,
}

impl PersonalInfo {
    pub fn of_user(user: &crate::domain::User) -> Self {
        let mut values = Vec::new();
        if let Some(e) = &user.email {
            values.push(e.local_part().to_owned());
        }
        values.extend(user.username.clone());
        values.extend(user.profile.name.clone());
        values.extend(user.profile.nickname.clone());
        values.extend(user.profile.given_name.clone());
        values.extend(user.profile.family_name.clone());
        for key in ["name", "first", "last"] {
            if let Some(Value::String(s)) = user.user_metadata.get(key) {
                values.push(s.clone());
            }
        }
        Self { values }
    }
}

/// A connection's policy, built from its options. `evaluate` is the one function that decides
/// whether a new password is acceptable, for every path that sets one.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    level: PasswordPolicyLevel,
    min_length: usize,
    dictionary: Option<Vec<String>>,
    no_personal_info: bool,
    history_depth: usize,
    /// zxcvbn's score (0–4) a new password must reach (`password_strength_estimate`).
    min_score: Option<u8>,
}

enum Rule {
    Length(usize),
    ShouldContain,
    ContainsAtLeast(usize),
    IdenticalChars(usize),
    StrengthScore(u8),
}

/// Codes of the advice under a failed strength estimate: zxcvbn's warning and suggestions.
/// They say what would help; they are not rules a password meets.
pub const ADVICE_CODES: [&str; 2] = ["strengthWarning", "strengthSuggestion"];

/// zxcvbn's work grows with the length; past this many characters the rest adds nothing a
/// guesser would try, so the estimate looks at the beginning only.
const ESTIMATE_PREFIX: usize = 100;

impl PasswordPolicy {
    pub fn from_options(options: &ConnectionOptions) -> Self {
        let level = options.policy_level();
        let level_length = match level {
            PasswordPolicyLevel::None => 1,
            PasswordPolicyLevel::Low => 6,
            PasswordPolicyLevel::Fair | PasswordPolicyLevel::Good => 8,
            PasswordPolicyLevel::Excellent => 10,
        };
        // `password_complexity_options.min_length` supersedes the level's length.
        let min_length = options
            .password_complexity_options
            .as_ref()
            .and_then(|c| c.min_length)
            .map_or(level_length, |m| m as usize);
        let dictionary = options
            .password_dictionary
            .as_ref()
            .filter(|d| d.enable)
            .map(|d| d.dictionary.iter().map(|w| w.to_lowercase()).collect());
        Self {
            level,
            min_length,
            dictionary,
            no_personal_info: options
                .password_no_personal_info
                .as_ref()
                .is_some_and(|o| o.enable),
            history_depth: options.history_depth(),
            min_score: options.min_strength_score(),
        }
    }

    /// Console administrators' rules, fixed: 12 characters or more of three kinds, no common
    /// password, nothing of their address.
    pub fn for_administrators() -> Self {
        Self {
            level: PasswordPolicyLevel::Good,
            min_length: 12,
            dictionary: Some(Vec::new()),
            no_personal_info: true,
            history_depth: 0,
            min_score: None,
        }
    }

    pub fn history_depth(&self) -> usize {
        self.history_depth
    }

    fn rules(&self) -> Vec<Rule> {
        let mut rules = vec![Rule::Length(self.min_length)];
        match self.level {
            PasswordPolicyLevel::None | PasswordPolicyLevel::Low => {}
            PasswordPolicyLevel::Fair => rules.push(Rule::ShouldContain),
            PasswordPolicyLevel::Good => rules.push(Rule::ContainsAtLeast(3)),
            PasswordPolicyLevel::Excellent => {
                rules.push(Rule::ContainsAtLeast(3));
                rules.push(Rule::IdenticalChars(2));
            }
        }
        rules.extend(self.min_score.map(Rule::StrengthScore));
        rules
    }

    /// The rules with nothing verified yet: what a page shows before the user types.
    pub fn describe(&self) -> Vec<RuleReport> {
        let nobody = PersonalInfo::default();
        self.rules()
            .iter()
            .map(|r| report(r, None, &nobody))
            .collect()
    }

    /// `* rule` lines, as in Auth0's `policy` field.
    pub fn policy_text(&self) -> String {
        let mut lines = Vec::new();
        for r in self.describe() {
            lines.push(format!("* {}", render(&r)));
            for item in r.items.iter().flatten() {
                lines.push(format!(" * {}", item.message));
            }
        }
        lines.join("\n")
    }

    /// Strength, dictionary and personal-information checks. History needs the hasher and is
    /// checked by the service after these pass.
    pub fn evaluate(&self, password: &str, info: &PersonalInfo) -> Result<(), PolicyViolation> {
        let reports: Vec<RuleReport> = self
            .rules()
            .iter()
            .map(|r| report(r, Some(password), info))
            .collect();
        if reports.iter().any(|r| !r.verified) {
            return Err(self.violation(PolicyErrorName::Strength, reports));
        }
        if let Some(custom) = &self.dictionary {
            let lower = password.to_lowercase();
            if common_passwords().contains(lower.as_str()) || custom.contains(&lower) {
                return Err(self.violation(PolicyErrorName::Dictionary, reports));
            }
        }
        if self.no_personal_info {
            let lower = password.to_lowercase();
            let leaks = info
                .values
                .iter()
                .map(|v| v.trim().to_lowercase())
                .filter(|v| v.chars().count() >= 3)
                .any(|v| lower.contains(&v));
            if leaks {
                return Err(self.violation(PolicyErrorName::NoUserInfo, reports));
            }
        }
        Ok(())
    }

    pub fn history_violation(&self) -> PolicyViolation {
        self.violation(PolicyErrorName::History, self.describe())
    }

    fn violation(&self, name: PolicyErrorName, rules: Vec<RuleReport>) -> PolicyViolation {
        PolicyViolation {
            name,
            rules,
            policy_text: self.policy_text(),
        }
    }
}

impl RuleReport {
    /// The rule as a sentence, its `%d`/`%s` filled in.
    pub fn text(&self) -> String {
        render(self)
    }
}

fn render(r: &RuleReport) -> String {
    let mut out = r.message.clone();
    for v in r.format.iter().flatten() {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some(pos) = out.find("%d").or_else(|| out.find("%s")) {
            out.replace_range(pos..pos + 2, &s);
        }
    }
    out
}

fn class_items(
    password: Option<&str>,
    classes: &[(&'static str, &'static str)],
) -> Vec<RuleReport> {
    classes
        .iter()
        .map(|(code, message)| RuleReport {
            message: (*message).to_owned(),
            format: None,
            code,
            items: None,
            verified: password.is_some_and(|p| has_class(p, code)),
        })
        .collect()
}

fn has_class(p: &str, code: &str) -> bool {
    match code {
        "lowerCase" => p.chars().any(|c| c.is_ascii_lowercase()),
        "upperCase" => p.chars().any(|c| c.is_ascii_uppercase()),
        "numbers" => p.chars().any(|c| c.is_ascii_digit()),
        _ => p.chars().any(|c| SPECIALS.contains(c)),
    }
}

/// zxcvbn's score for `password`, the user's own details counting as known words; with its
/// warning and suggestions as advice items when the score is below `min`.
fn strength_report(min: u8, password: Option<&str>, info: &PersonalInfo) -> RuleReport {
    let estimate = password.map(|p| {
        let end = p
            .char_indices()
            .nth(ESTIMATE_PREFIX)
            .map_or(p.len(), |(i, _)| i);
        let inputs: Vec<&str> = info.values.iter().map(String::as_str).collect();
        zxcvbn::zxcvbn(&p[..end], &inputs)
    });
    let verified = estimate
        .as_ref()
        .is_some_and(|e| u8::from(e.score()) >= min);
    let advice = |message: String, code: &'static str| RuleReport {
        message,
        format: None,
        code,
        items: None,
        verified: false,
    };
    let items = estimate
        .as_ref()
        .filter(|_| !verified)
        .and_then(|e| e.feedback())
        .map(|f| {
            let warning = f.warning().map(|w| advice(w.to_string(), ADVICE_CODES[0]));
            warning
                .into_iter()
                .chain(
                    f.suggestions()
                        .iter()
                        .map(|s| advice(s.to_string(), ADVICE_CODES[1])),
                )
                .collect::<Vec<_>>()
        })
        .filter(|items| !items.is_empty());
    RuleReport {
        message: "Hard to guess: strength %d out of 4 or more".into(),
        format: Some(vec![json!(min)]),
        code: "strengthScoreAtLeast",
        items,
        verified,
    }
}

fn report(rule: &Rule, password: Option<&str>, info: &PersonalInfo) -> RuleReport {
    match rule {
        Rule::StrengthScore(min) => strength_report(*min, password, info),
        Rule::Length(1) => RuleReport {
            message: "Non-empty password required".into(),
            format: None,
            code: "nonEmpty",
            items: None,
            verified: password.is_some_and(|p| !p.is_empty()),
        },
        Rule::Length(n) => RuleReport {
            message: "At least %d characters in length".into(),
            format: Some(vec![json!(n)]),
            code: "lengthAtLeast",
            items: None,
            // JavaScript's String.length: UTF-16 code units, as Auth0 counts.
            verified: password.is_some_and(|p| p.encode_utf16().count() >= *n),
        },
        Rule::ShouldContain => {
            let items = class_items(
                password,
                &[
                    ("lowerCase", LOWER),
                    ("upperCase", UPPER),
                    ("numbers", NUMBERS),
                ],
            );
            let verified = password.is_some() && items.iter().all(|i| i.verified);
            RuleReport {
                message: "Should contain:".into(),
                format: None,
                code: "shouldContain",
                items: Some(items),
                verified,
            }
        }
        Rule::ContainsAtLeast(k) => {
            let items = class_items(
                password,
                &[
                    ("lowerCase", LOWER),
                    ("upperCase", UPPER),
                    ("numbers", NUMBERS),
                    ("specialCharacters", SPECIAL),
                ],
            );
            let verified = password.is_some() && items.iter().filter(|i| i.verified).count() >= *k;
            RuleReport {
                message: "Contain at least %d of the following %d types of characters:".into(),
                format: Some(vec![json!(k), json!(4)]),
                code: "containsAtLeast",
                items: Some(items),
                verified,
            }
        }
        Rule::IdenticalChars(max) => {
            let example = "a".repeat(max + 1);
            RuleReport {
                message: "No more than %d identical characters in a row (e.g., \"%s\" not allowed)"
                    .into(),
                format: Some(vec![json!(max), json!(example)]),
                code: "identicalChars",
                items: None,
                verified: password.is_some_and(|p| longest_run(p) <= *max),
            }
        }
    }
}

fn longest_run(p: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut prev = None;
    for c in p.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        prev = Some(c);
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::ConnectionOptions;
    use serde_json::json;

    fn policy(v: Value) -> PasswordPolicy {
        PasswordPolicy::from_options(&ConnectionOptions::from_json(v).unwrap())
    }

    #[test]
    fn levels_follow_password_sheriff() {
        let none = policy(json!({"passwordPolicy": "none"}));
        assert!(none.evaluate("a", &PersonalInfo::default()).is_ok());
        let low = policy(json!({"passwordPolicy": "low"}));
        assert!(low.evaluate("abcde", &PersonalInfo::default()).is_err());
        assert!(low.evaluate("abcdef", &PersonalInfo::default()).is_ok());
        let fair = policy(json!({"passwordPolicy": "fair"}));
        assert!(
            fair.evaluate("abcdefgh1", &PersonalInfo::default())
                .is_err()
        );
        assert!(fair.evaluate("abcdefgH1", &PersonalInfo::default()).is_ok());
        let good = policy(json!({"passwordPolicy": "good"}));
        assert!(
            good.evaluate("abcdefgh!", &PersonalInfo::default())
                .is_err()
        );
        assert!(good.evaluate("abcdefg!1", &PersonalInfo::default()).is_ok());
        let excellent = policy(json!({"passwordPolicy": "excellent"}));
        assert!(
            excellent
                .evaluate("aaab-Cd-1234", &PersonalInfo::default())
                .is_err()
        );
        assert!(
            excellent
                .evaluate("aab-Cd-1234", &PersonalInfo::default())
                .is_ok()
        );
        assert!(
            excellent
                .evaluate("ab-Cd-123", &PersonalInfo::default())
                .is_err()
        );
    }

    #[test]
    fn the_strength_error_matches_auth0s_body() {
        let good = policy(json!({"passwordPolicy": "good"}));
        let v = good.evaluate("abc!", &PersonalInfo::default()).unwrap_err();
        assert_eq!(v.name, PolicyErrorName::Strength);
        assert_eq!(
            v.description(),
            json!({"rules": [
                {"message": "At least %d characters in length", "format": [8], "code": "lengthAtLeast", "verified": false},
                {"message": "Contain at least %d of the following %d types of characters:", "code": "containsAtLeast", "format": [3, 4],
                 "items": [
                    {"message": "lower case letters (a-z)", "code": "lowerCase", "verified": true},
                    {"message": "upper case letters (A-Z)", "code": "upperCase", "verified": false},
                    {"message": "numbers (i.e. 0-9)", "code": "numbers", "verified": false},
                    {"message": "special characters (e.g. !@#$%^&*)", "code": "specialCharacters", "verified": true}],
                 "verified": false}],
              "verified": false})
        );
        assert_eq!(
            v.policy_text,
            "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)"
        );
    }

    #[test]
    fn min_length_supersedes_the_level_and_counts_utf16_units() {
        let p = policy(
            json!({"passwordPolicy": "low", "password_complexity_options": {"min_length": 3}}),
        );
        assert!(p.evaluate("abc", &PersonalInfo::default()).is_ok());
        // One astral character is two UTF-16 code units.
        assert!(p.evaluate("a😀", &PersonalInfo::default()).is_ok());
        assert!(p.evaluate("ab", &PersonalInfo::default()).is_err());
    }

    #[test]
    fn dictionary_and_personal_info_are_enforced_when_enabled() {
        let p = policy(json!({"passwordPolicy": "none",
            "password_dictionary": {"enable": true, "dictionary": ["Latchkey2026"]},
            "password_no_personal_info": {"enable": true}}));
        let none = PersonalInfo::default();
        assert_eq!(
            p.evaluate("Password", &none).unwrap_err().name,
            PolicyErrorName::Dictionary
        );
        assert_eq!(
            p.evaluate("latchkey2026", &none).unwrap_err().name,
            PolicyErrorName::Dictionary
        );
        let info = PersonalInfo {
            values: vec!["jdoe".into()],
        };
        assert_eq!(
            p.evaluate("x-JDoe-99", &info).unwrap_err().name,
            PolicyErrorName::NoUserInfo
        );
        assert!(p.evaluate("x-other-99", &info).is_ok());
        // Off by default.
        assert!(policy(json!({})).evaluate("password", &none).is_ok());
    }

    #[test]
    fn the_strength_estimate_refuses_guessable_passwords_with_advice() {
        let p = policy(json!({"passwordPolicy": "low",
            "password_strength_estimate": {"enable": true, "min_score": 3}}));
        let none = PersonalInfo::default();
        // Meets every character rule a level could ask, and is still a keyboard walk.
        let v = p.evaluate("Qwerty123!", &none).unwrap_err();
        assert_eq!(v.name, PolicyErrorName::Strength);
        let rule = v
            .rules
            .iter()
            .find(|r| r.code == "strengthScoreAtLeast")
            .unwrap();
        assert!(!rule.verified);
        let advice = rule.items.as_ref().unwrap();
        assert!(advice.iter().all(|i| ADVICE_CODES.contains(&i.code)));
        assert!(!advice.is_empty());
        assert!(
            v.policy_text
                .contains("Hard to guess: strength 3 out of 4 or more")
        );
        // A few uncommon words pass.
        assert!(p.evaluate("velvet orbit gravel tundra", &none).is_ok());
        // The user's own details count as known words.
        let info = PersonalInfo {
            values: vec!["mortimerwhistlecraft".into()],
        };
        assert!(p.evaluate("mortimerwhistlecraft", &none).is_ok());
        assert!(p.evaluate("mortimerwhistlecraft", &info).is_err());
        // Off unless enabled; the rule is listed when it is.
        let off = policy(json!({"passwordPolicy": "low",
            "password_strength_estimate": {"enable": false}}));
        assert!(off.evaluate("Qwerty123!", &none).is_ok());
        assert!(
            p.describe()
                .iter()
                .any(|r| r.code == "strengthScoreAtLeast" && r.items.is_none())
        );
    }
}
