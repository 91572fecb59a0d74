//! The instant type every stored time uses.
//!
//! Stored instants are UTC with microsecond precision: PostgreSQL keeps microseconds, so
//! truncating at creation makes the value a create response shows identical to the value every
//! later read returns.

use std::fmt;
use time::{Duration, OffsetDateTime, UtcOffset};

/// A UTC instant truncated to whole microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Converts any instant to UTC and drops precision finer than a microsecond.
    #[must_use]
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        // Replacing the sub-second part with whole microseconds cannot fail: the value is < 10^6.
        let truncated = utc.replace_microsecond(micros).unwrap_or(utc);
        Self(truncated)
    }

    /// Builds an instant from whole seconds since the Unix epoch.
    ///
    /// # Errors
    /// Returns `None` when the value lies outside the representable range.
    #[must_use]
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds).ok().map(Self)
    }

    /// The instant as a `time` value (always UTC).
    #[must_use]
    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// This instant moved by `by` (saturating at the ends of the representable range).
    #[must_use]
    pub fn plus(self, by: Duration) -> Self {
        Self(self.0.saturating_add(by))
    }

    /// The time elapsed from `earlier` to `self` (negative when `earlier` is later).
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> Duration {
        self.0 - earlier.0
    }

    /// RFC 3339 text with exactly six fractional digits and a `Z` offset, e.g.
    /// `2026-11-28T12:20:45.123456Z`. The same stored value always yields the same text.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Self::new(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn converts_from_an_offset_date_time_like_new() {
        let at = datetime!(2026-11-28 12:34:56.789_012_345 +02:00);
        assert_eq!(Timestamp::from(at), Timestamp::new(at));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_its_rfc3339_text() {
        let at = Timestamp::new(datetime!(2026-11-28 12:34:56 UTC));
        let json = serde_json::to_string(&at).expect("serializes");
        assert_eq!(json, format!("\"{}\"", at.to_rfc3339()));
    }

    #[test]
    fn truncates_to_microseconds_and_converts_to_utc() {
        let at = datetime!(2026-11-28 13:20:45.123456789 +01:00);
        let ts = Timestamp::new(at);
        assert_eq!(ts.to_rfc3339(), "2026-11-28T12:20:45.123456Z");
        assert_eq!(ts.as_offset_date_time().nanosecond(), 123_456_000);
    }

    #[test]
    fn whole_seconds_still_print_six_digits() {
        let ts = Timestamp::new(datetime!(2026-01-02 03:04:05 UTC));
        assert_eq!(ts.to_string(), "2026-01-02T03:04:05.000000Z");
        assert_eq!(Timestamp::from_unix_seconds(ts.unix_seconds()), Some(ts));
    }

    #[test]
    fn arithmetic_moves_and_measures() {
        let ts = Timestamp::new(datetime!(2026-01-02 03:04:05 UTC));
        let later = ts.plus(Duration::seconds(90));
        assert_eq!(later.since(ts), Duration::seconds(90));
        assert!(later > ts);
    }
}
