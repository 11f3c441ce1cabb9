//! The app's credentials, from flags or the `PARLEY_*` environment
//! variables, and the connection tokens they sign.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// The credentials of the app under test. Which ones a run needs depends on
/// the protocol and on how it publishes; [`Credentials::require`] says
/// which is missing.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The app id (Pusher HTTP API paths).
    pub app_id: String,
    /// The app key (Pusher connection URLs and signatures).
    pub app_key: Option<String>,
    /// The app secret (native tokens, Pusher signatures).
    pub app_secret: Option<String>,
    /// The server HTTP API key (native HTTP publishing).
    pub api_key: Option<String>,
}

impl Credentials {
    /// The value of a credential, or an error naming the flag and variable
    /// that set it.
    pub fn require<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, String> {
        value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
            let flag = what.replace('_', "-").to_ascii_lowercase();
            format!("this run needs the {what}: set PARLEY_{what} or pass --{flag}")
        })
    }

    /// The app secret, required.
    pub fn secret(&self) -> Result<&str, String> {
        Self::require(&self.app_secret, "APP_SECRET")
    }

    /// The app key, required.
    pub fn key(&self) -> Result<&str, String> {
        Self::require(&self.app_key, "APP_KEY")
    }

    /// The HTTP API key, required.
    pub fn api_key(&self) -> Result<&str, String> {
        Self::require(&self.api_key, "API_KEY")
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
}

/// Mints HS256 connection tokens (`sub`, `exp`) with the app secret.
pub struct TokenMinter {
    key: EncodingKey,
    expires_at: u64,
}

impl std::fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenMinter")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    /// A minter whose tokens stay valid for `ttl` from now.
    pub fn new(secret: &str, ttl: Duration) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            expires_at: now + ttl.as_secs().max(1),
        }
    }

    /// A token for user `sub`.
    pub fn mint(&self, sub: &str) -> Result<String, String> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub,
                exp: self.expires_at,
            },
            &self.key,
        )
        .map_err(|error| format!("cannot sign a token: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_with_the_secret() {
        let minter = TokenMinter::new("a-secret-of-16-chars", Duration::from_secs(60));
        let token = minter.mint("bench-7").unwrap();
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(b"a-secret-of-16-chars"),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(decoded.claims["sub"], "bench-7");
    }

    #[test]
    fn missing_credentials_name_their_flag_and_variable() {
        let credentials = Credentials::default();
        let error = credentials.api_key().unwrap_err();
        assert!(
            error.contains("PARLEY_API_KEY") && error.contains("--api-key"),
            "{error}"
        );
        let error = credentials.secret().unwrap_err();
        assert!(error.contains("--app-secret"), "{error}");
    }
}
