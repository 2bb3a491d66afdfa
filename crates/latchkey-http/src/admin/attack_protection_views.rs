//! The attack-protection page's view model (`templates/console/attack_protection/`).

use super::attack_protection::BreachedView;
use askama::Template;

#[derive(Template)]
#[template(path = "console/attack_protection/page.html")]
pub(super) struct AttackProtection {
    pub(super) csrf: String,
    pub(super) breached: BreachedView,
    pub(super) max_attempts: u32,
    /// Brute-force protection counts and blocks.
    pub(super) brute_force_on: bool,
}
