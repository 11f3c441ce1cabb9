//! Durations in the configuration file, written as `"25s"`, `"2m"`, `"100ms"`,
//! read and written back (`parley config check`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

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

/// Writes a duration back as the file writes it (`"25s"`, `"1h 30m"`).
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*duration))
}

/// [`serialize`] for `Option<Duration>` fields; `None` is left out by the
/// TOML writer.
pub fn serialize_optional<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serialize(duration, serializer),
        None => serializer.serialize_none(),
    }
}
