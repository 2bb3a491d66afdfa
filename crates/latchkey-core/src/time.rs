//! Time as the store keeps it (milliseconds since the Unix epoch) and as Auth0 prints it
//! (ISO-8601 with milliseconds and `Z`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self((now.unix_timestamp_nanos() / 1_000_000) as i64)
    }
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub const fn plus_seconds(self, s: i64) -> Self {
        Self(self.0.saturating_add(s.saturating_mul(1000)))
    }
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
    /// `2024-05-01T12:00:00.000Z`, the form every Auth0 date takes.
    pub fn to_iso(self) -> String {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }
    pub fn parse_iso(s: &str) -> Option<Self> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        Some(Self((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iso_round_trip_keeps_milliseconds() {
        let t = Timestamp::from_millis(1_714_564_800_123);
        assert_eq!(t.to_iso(), "2024-05-01T12:00:00.123Z");
        assert_eq!(Timestamp::parse_iso(&t.to_iso()).unwrap(), t);
    }
}
