//! Durations in the configuration file, written as `"25s"`, `"2m"`, `"100ms"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

fn parse<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map_err(|error| serde::de::Error::custom(format!("invalid duration {text:?}: {error}")))
}

/// For `Option<Duration>` fields that may be absent.
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    parse(deserializer).map(Some)
}

/// For `Duration` fields with a default.
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    parse(deserializer)
}
