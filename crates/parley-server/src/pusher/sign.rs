//! Signatures Pusher clients and servers compute with the app secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `hex(HMAC-SHA256(secret, message))`.
pub fn hmac_hex(secret: &str, message: &str) -> String {
    hex::encode(mac(secret, message).finalize().into_bytes())
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `message` under `secret`,
/// compared in constant time.
pub fn verify_hex(secret: &str, message: &str, signature: &str) -> bool {
    match hex::decode(signature) {
        Ok(bytes) => mac(secret, message).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// Checks a channel `auth` (`key:signature`) of a subscription: the
/// signature covers `socket_id:channel`, and `:channel_data` for presence.
pub fn verify_channel_auth(
    key: &str,
    secret: &str,
    auth: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> bool {
    let Some((auth_key, signature)) = auth.split_once(':') else {
        return false;
    };
    let message = match channel_data {
        Some(data) => format!("{socket_id}:{channel}:{data}"),
        None => format!("{socket_id}:{channel}"),
    };
    // The key is public; only the signature needs a constant-time check.
    auth_key == key && verify_hex(secret, &message, signature)
}

fn mac(secret: &str, message: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_auth_matches_pushers_documented_example() {
        // From Pusher's auth-signature reference.
        let signature = hmac_hex("7ad3773142a6692b25b8", "1234.1234:private-foobar");
        assert_eq!(
            signature,
            "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        let auth = format!("278d425bdf160c739803:{signature}");
        assert!(verify_channel_auth(
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            &auth,
            "1234.1234",
            "private-foobar",
            None
        ));
        assert!(!verify_channel_auth(
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            &auth,
            "1234.1235",
            "private-foobar",
            None
        ));
        assert!(!verify_channel_auth("k", "s", "k:zz", "1.1", "c", None));
    }
}
