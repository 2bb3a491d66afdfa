//! Auth0's Attack Protection settings (`/api/v2/attack-protection/*`) in Auth0's shapes, and
//! which of their values Latchkey acts on. A value Latchkey cannot honour is refused by
//! `unsupported` (naming the feature), never stored as if it worked.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachedShield {
    Block,
    UserNotification,
    AdminNotification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageShield {
    Block,
    AdminNotification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationFrequency {
    Immediately,
    Daily,
    Weekly,
    Monthly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachMethod {
    #[default]
    Standard,
    Enhanced,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageShields {
    #[serde(default)]
    pub shields: Vec<StageShield>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachedStages {
    #[serde(rename = "pre-user-registration", default)]
    pub pre_user_registration: StageShields,
    #[serde(rename = "pre-change-password", default)]
    pub pre_change_password: StageShields,
}

/// `/attack-protection/breached-password-detection`: Auth0's settings, checked against the
/// offline corpus (`password::breach`). `shields` act at login, the stages' at sign-up and at
/// every password change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachedPasswordDetection {
    pub enabled: bool,
    pub shields: Vec<BreachedShield>,
    pub admin_notification_frequency: Vec<NotificationFrequency>,
    pub method: BreachMethod,
    pub stage: BreachedStages,
}

/// Where a password meets the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachStage {
    Login,
    /// `pre-user-registration`: sign-up and every new user.
    Registration,
    /// `pre-change-password`: every way a password changes.
    ChangePassword,
}

impl BreachStage {
    /// Auth0's log type code for a breached password met here.
    pub fn log_code(self) -> &'static str {
        match self {
            Self::Login => "pwd_leak",
            Self::Registration => "signup_pwd_leak",
            Self::ChangePassword => "reset_pwd_leak",
        }
    }
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "signup",
            Self::ChangePassword => "change_password",
        }
    }
}

/// What the settings ask for when a breached password is met at one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreachResponse {
    pub block: bool,
    pub notify_user: bool,
    pub notify_admins: bool,
}

impl BreachedPasswordDetection {
    pub fn unsupported(&self) -> Option<&'static str> {
        (self.method == BreachMethod::Enhanced).then_some(
            "Credential Guard (method \"enhanced\") is a paid Auth0 data feed Latchkey does not have: method must be \"standard\"",
        )
    }

    /// The shields of `stage`, or nothing when detection is off.
    pub fn response_at(&self, stage: BreachStage) -> BreachResponse {
        if !self.enabled {
            return BreachResponse::default();
        }
        match stage {
            BreachStage::Login => BreachResponse {
                block: self.shields.contains(&BreachedShield::Block),
                notify_user: self.shields.contains(&BreachedShield::UserNotification),
                notify_admins: self.shields.contains(&BreachedShield::AdminNotification),
            },
            BreachStage::Registration | BreachStage::ChangePassword => {
                let shields = if stage == BreachStage::Registration {
                    &self.stage.pre_user_registration.shields
                } else {
                    &self.stage.pre_change_password.shields
                };
                BreachResponse {
                    block: shields.contains(&StageShield::Block),
                    notify_user: false,
                    notify_admins: shields.contains(&StageShield::AdminNotification),
                }
            }
        }
    }

    /// The shortest period between two mails to administrators (`None`: each time).
    pub fn admin_notification_period_secs(&self) -> Option<u64> {
        let periods = self.admin_notification_frequency.iter().map(|f| match f {
            NotificationFrequency::Immediately => 0,
            NotificationFrequency::Daily => 86_400,
            NotificationFrequency::Weekly => 7 * 86_400,
            NotificationFrequency::Monthly => 30 * 86_400,
        });
        match periods.min() {
            None | Some(0) => None,
            Some(p) => Some(p),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BruteForceShield {
    Block,
    UserNotification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BruteForceMode {
    CountPerIdentifierAndIp,
    CountPerIdentifier,
}

/// Auth0's default: failed logins after which a user is blocked from an address.
pub const BRUTE_FORCE_MAX_ATTEMPTS: u32 = 10;

/// `/attack-protection/brute-force-protection`, as the login flow honours it: with `enabled`,
/// failed logins for a user from an address not in `allowlist` are counted; at `max_attempts`
/// consecutive ones the pair is refused (`block`) and the user mailed an unblock link
/// (`user_notification`). Only Auth0's default mode (per identifier and IP) is offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BruteForceProtection {
    pub enabled: bool,
    pub shields: Vec<BruteForceShield>,
    pub allowlist: Vec<String>,
    pub mode: BruteForceMode,
    pub max_attempts: u32,
}

impl Default for BruteForceProtection {
    fn default() -> Self {
        Self {
            enabled: true,
            shields: vec![BruteForceShield::Block, BruteForceShield::UserNotification],
            allowlist: Vec::new(),
            mode: BruteForceMode::CountPerIdentifierAndIp,
            max_attempts: BRUTE_FORCE_MAX_ATTEMPTS,
        }
    }
}

impl BruteForceProtection {
    pub fn invalid(&self) -> Option<&'static str> {
        if !(1..=100).contains(&self.max_attempts) {
            return Some("max_attempts must be between 1 and 100");
        }
        if self.allowlist.iter().any(|a| !is_address_or_range(a)) {
            return Some("allowlist entries must be IP addresses or CIDR ranges");
        }
        None
    }

    pub fn unsupported(&self) -> Option<&'static str> {
        (self.mode != BruteForceMode::CountPerIdentifierAndIp).then_some(
            "Latchkey's brute-force protection counts per identifier and IP: mode must be count_per_identifier_and_ip",
        )
    }

    /// Whether failed logins from `ip` count (protection on, the address not allowlisted).
    pub fn counts(&self, ip: &str) -> bool {
        self.enabled && !in_allowlist(&self.allowlist, ip)
    }

    /// Whether a blocked pair is refused.
    pub fn blocks(&self) -> bool {
        self.enabled && self.shields.contains(&BruteForceShield::Block)
    }

    /// Whether a new block mails the user an unblock link.
    pub fn notifies_user(&self) -> bool {
        self.enabled && self.shields.contains(&BruteForceShield::UserNotification)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottlingShield {
    Block,
    AdminNotification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottlingRate {
    pub max_attempts: u32,
    /// Milliseconds between two attempts regained.
    pub rate: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottlingStages {
    #[serde(rename = "pre-login")]
    pub pre_login: ThrottlingRate,
    #[serde(rename = "pre-user-registration")]
    pub pre_user_registration: ThrottlingRate,
}

/// `/attack-protection/suspicious-ip-throttling`: with `enabled`, an address not in `allowlist`
/// gets `pre-login.max_attempts` failed logins (across every account) and
/// `pre-user-registration.max_attempts` sign-ups, one more earned back every `rate`
/// milliseconds; past them, with `block` it is answered 429 `too_many_attempts`, and with
/// `admin_notification` the console administrators are mailed (at most hourly per address
/// and stage). Off by default, as Auth0's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspiciousIpThrottling {
    pub enabled: bool,
    pub shields: Vec<ThrottlingShield>,
    pub allowlist: Vec<String>,
    pub stage: ThrottlingStages,
}

impl Default for SuspiciousIpThrottling {
    fn default() -> Self {
        Self {
            enabled: false,
            shields: vec![ThrottlingShield::AdminNotification, ThrottlingShield::Block],
            allowlist: Vec::new(),
            stage: ThrottlingStages {
                pre_login: ThrottlingRate {
                    max_attempts: 100,
                    rate: 864_000,
                },
                pre_user_registration: ThrottlingRate {
                    max_attempts: 50,
                    rate: 1_200,
                },
            },
        }
    }
}

impl SuspiciousIpThrottling {
    pub fn invalid(&self) -> Option<&'static str> {
        let rates = [&self.stage.pre_login, &self.stage.pre_user_registration];
        if rates.iter().any(|r| r.max_attempts == 0 || r.rate == 0) {
            return Some("stage max_attempts and rate must be positive");
        }
        if self.allowlist.iter().any(|a| !is_address_or_range(a)) {
            return Some("allowlist entries must be IP addresses or CIDR ranges");
        }
        None
    }

    pub fn unsupported(&self) -> Option<&'static str> {
        None
    }

    /// Whether attempts from `ip` are counted: on, with a shield to act on, not allowlisted.
    pub fn guards(&self, ip: &str) -> bool {
        self.enabled && !self.shields.is_empty() && !in_allowlist(&self.allowlist, ip)
    }

    /// Past its attempts, an address is refused (429).
    pub fn blocks(&self) -> bool {
        self.shields.contains(&ThrottlingShield::Block)
    }

    /// Past its attempts, the console administrators are told (at most hourly per address).
    pub fn notifies_admins(&self) -> bool {
        self.shields.contains(&ThrottlingShield::AdminNotification)
    }
}

impl ThrottlingRate {
    /// The rate-limit bucket: `max_attempts` at once, one more every `rate` milliseconds.
    pub fn rule(&self) -> crate::ratelimit::RateRule {
        crate::ratelimit::RateRule {
            interval: std::time::Duration::from_millis(self.rate),
            burst: self.max_attempts,
        }
    }
}

/// Whether `ip` is one of `allowlist`'s addresses or inside one of its CIDR ranges.
pub fn in_allowlist(allowlist: &[String], ip: &str) -> bool {
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    allowlist.iter().any(|entry| {
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, p.parse::<u32>().ok()),
            None => (entry.as_str(), None),
        };
        match (addr.parse::<std::net::IpAddr>(), ip) {
            (Ok(std::net::IpAddr::V4(net)), std::net::IpAddr::V4(ip)) => same_prefix(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                prefix,
            ),
            (Ok(std::net::IpAddr::V6(net)), std::net::IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), 128, prefix)
            }
            _ => false,
        }
    })
}

/// The first `prefix` of `bits` bits of `a` and `b` agree (all of them without a prefix).
fn same_prefix(a: u128, b: u128, bits: u32, prefix: Option<u32>) -> bool {
    let prefix = prefix.unwrap_or(bits).min(bits);
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (a >> shift) == (b >> shift)
}

/// An IPv4/IPv6 address, or one followed by `/prefix` within the address's length.
fn is_address_or_range(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_what_latchkey_does() {
        assert_eq!(BreachedPasswordDetection::default().unsupported(), None);
        let on = BreachedPasswordDetection {
            enabled: true,
            shields: vec![BreachedShield::Block],
            stage: BreachedStages {
                pre_change_password: StageShields {
                    shields: vec![StageShield::AdminNotification],
                },
                ..BreachedStages::default()
            },
            ..BreachedPasswordDetection::default()
        };
        assert!(on.response_at(BreachStage::Login).block);
        assert!(!on.response_at(BreachStage::Registration).block);
        assert!(on.response_at(BreachStage::ChangePassword).notify_admins);
        assert_eq!(BruteForceProtection::default().unsupported(), None);
        assert_eq!(SuspiciousIpThrottling::default().unsupported(), None);
        assert!(is_address_or_range("10.0.0.0/8"));
        assert!(is_address_or_range("::1"));
        assert!(!is_address_or_range("10.0.0.0/33"));
        assert!(!is_address_or_range("example.com"));
        let list = vec!["10.0.0.0/8".to_owned(), "2001:db8::1".to_owned()];
        assert!(in_allowlist(&list, "10.1.2.3"));
        assert!(!in_allowlist(&list, "11.1.2.3"));
        assert!(in_allowlist(&list, "2001:db8::1"));
        assert!(!in_allowlist(&list, "2001:db8::2"));
        assert!(!in_allowlist(&list, "not an ip"));
    }
}
