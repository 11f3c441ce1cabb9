//! The payload every publication carries, and the byte scan that finds its
//! send timestamp in a received frame without parsing JSON.
//!
//! A payload is the JSON object `{"t":<unix nanos>,"s":<sequence>,"p":"xxxx"}`,
//! padded with `x` to the requested size. Servers relay it either as is
//! (the native protocol: `"data":{"t":…}`) or as a JSON-encoded string
//! (Pusher: `"data":"{\"t\":…}"`); [`scan_timestamp`] finds it in both.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use memchr::memmem::Finder;

/// The key as it appears in a payload relayed as JSON.
static PLAIN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""t":"#));
/// The key as it appears in a payload relayed as a JSON-encoded string.
static ESCAPED: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#"\"t\":"#));

/// Nanoseconds since the Unix epoch, the clock payloads are stamped with.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// Builds the payload for a publication sent at `sent_nanos`, with sequence
/// number `seq`, padded to at least `size` bytes.
pub fn build(sent_nanos: u64, seq: u64, size: usize) -> String {
    let mut out = String::with_capacity(size.max(48));
    out.push_str(r#"{"t":"#);
    push_u64(&mut out, sent_nanos);
    out.push_str(r#","s":"#);
    push_u64(&mut out, seq);
    out.push_str(r#","p":""#);
    // The closing `"}` is two bytes; pad so the whole object reaches `size`.
    let pad = size.saturating_sub(out.len() + 2);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str("\"}");
    out
}

/// `payload` as a JSON string literal, quotes included, for protocols whose
/// event data is a string (Pusher). Payloads hold only digits, letters and
/// quotes, so escaping the quotes is enough.
pub fn as_json_string(payload: &str) -> String {
    let mut out = String::with_capacity(payload.len() + 16);
    out.push('"');
    for ch in payload.chars() {
        if ch == '"' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// Finds the send timestamp of a publication in a received frame: the
/// digits after the first `"t":` (or `\"t\":`). Returns `None` when the
/// frame carries no payload, so control frames cost one failed search.
pub fn scan_timestamp(frame: &[u8]) -> Option<u64> {
    let start = match PLAIN.find(frame) {
        Some(at) => at + PLAIN.needle().len(),
        None => ESCAPED.find(frame)? + ESCAPED.needle().len(),
    };
    let rest = frame.get(start..)?;
    let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let digits = &rest[skip..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 20 {
        return None;
    }
    digits[..len].iter().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

fn push_u64(out: &mut String, value: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_requested_size_and_is_json() {
        let payload = build(1_700_000_000_123_456_789, 42, 100);
        assert_eq!(payload.len(), 100);
        let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(value["t"], 1_700_000_000_123_456_789u64);
        assert_eq!(value["s"], 42);
        // Too small a size still yields the whole header.
        let small = build(5, 6, 1);
        assert_eq!(small, r#"{"t":5,"s":6,"p":""}"#);
    }

    #[test]
    fn scanner_finds_the_timestamp_in_a_native_push() {
        let payload = build(1_700_000_000_000_000_001, 7, 64);
        let frame = format!(
            r#"{{"push":"publication","channel":"bench:1","data":{payload},"offset":12,"epoch":"ab"}}"#
        );
        assert_eq!(
            scan_timestamp(frame.as_bytes()),
            Some(1_700_000_000_000_000_001)
        );
    }

    #[test]
    fn scanner_finds_the_timestamp_in_a_pusher_event() {
        let data = as_json_string(&build(123_456_789, 1, 40));
        let frame = format!(r#"{{"event":"bench","channel":"bench-1","data":{data}}}"#);
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert!(value["data"].is_string());
        assert_eq!(scan_timestamp(frame.as_bytes()), Some(123_456_789));
    }

    #[test]
    fn scanner_accepts_spaces_and_refuses_garbage() {
        assert_eq!(scan_timestamp(br#"{"data":{"t": 99}}"#), Some(99));
        assert_eq!(scan_timestamp(br#"{"id":3,"result":{"offset":1}}"#), None);
        assert_eq!(scan_timestamp(br#"{"t":"x"}"#), None);
        assert_eq!(scan_timestamp(br#"{"t":"#), None);
        assert_eq!(scan_timestamp(br#"{"t":99999999999999999999999}"#), None);
        assert_eq!(scan_timestamp(br#"{"t":18446744073709551616}"#), None);
        assert_eq!(
            scan_timestamp(br#"{"t":18446744073709551615}"#),
            Some(u64::MAX)
        );
    }
}
