//! Tokens: verifying connection and channel JWTs, and minting them.
//!
//! Each app verifies HS256 tokens with its secret, and RS256 or ES256 tokens
//! with its configured public key. The algorithm a token names must match
//! the kind of key that verifies it: an HS256 token is never checked against
//! the public key (algorithm confusion), and `alg: none` is refused because
//! no key accepts it.

use std::collections::HashSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parley_core::Claims;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token expired: get a new one.
    #[error("token expired")]
    Expired,
    /// The token is malformed, badly signed, for another app or for another
    /// purpose.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// What an app does with a token that has no `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingExp {
    /// Refuse it as invalid (the default): a token without `exp` that
    /// leaks once would be valid forever.
    Refuse,
    /// Accept it, and the connection it opens never expires
    /// (`allow_tokens_without_exp = true`).
    Accept,
}

/// The key material of one app, and its rule for tokens without `exp`.
pub struct TokenKeys {
    hmac: DecodingKey,
    hmac_encoding: EncodingKey,
    public: Option<(Algorithm, DecodingKey)>,
    missing_exp: MissingExp,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("public", &self.public.as_ref().map(|(alg, _)| alg))
            .finish_non_exhaustive()
    }
}

/// The claims of a Parley token on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The user id.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Application data about the user: a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<RawValue>>,
    /// Channels subscribed at connect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// The channel a channel token is for; absent in connection tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl TokenKeys {
    /// Keys from an app's secret and optional public key file; tokens
    /// without `exp` are refused unless [`TokenKeys::with_missing_exp`]
    /// says otherwise.
    pub fn new(secret: &str, public_key: Option<&Path>) -> Result<Self, String> {
        let public = match public_key {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|error| {
                    format!("cannot read public key {}: {error}", path.display())
                })?;
                if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                    Some((Algorithm::RS256, key))
                } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                    Some((Algorithm::ES256, key))
                } else {
                    return Err(format!(
                        "{} holds neither an RSA nor an EC public key in PEM",
                        path.display()
                    ));
                }
            }
        };
        Ok(Self {
            hmac: DecodingKey::from_secret(secret.as_bytes()),
            hmac_encoding: EncodingKey::from_secret(secret.as_bytes()),
            public,
            missing_exp: MissingExp::Refuse,
        })
    }

    /// The same keys with `rule` for tokens without `exp`.
    pub fn with_missing_exp(self, rule: MissingExp) -> Self {
        Self {
            missing_exp: rule,
            ..self
        }
    }

    fn decode(&self, token: &str) -> Result<TokenClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::Invalid(format!("malformed token: {error}")))?;
        let key = match (header.alg, &self.public) {
            (Algorithm::HS256, _) => &self.hmac,
            (alg, Some((public_alg, key))) if alg == *public_alg => key,
            (alg, _) => {
                return Err(AuthError::Invalid(format!(
                    "algorithm {alg:?} is not accepted"
                )));
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::from(["sub".to_owned()]);
        let claims = jsonwebtoken::decode::<TokenClaims>(token, key, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                _ => AuthError::Invalid(error.to_string()),
            })?
            .claims;
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty sub".into()));
        }
        // Every kind of token (connection, channel, the HTTP API's user
        // token) is decoded here, so one check covers them all.
        if claims.exp.is_none() && self.missing_exp == MissingExp::Refuse {
            return Err(AuthError::Invalid("token has no exp".into()));
        }
        if claims
            .info
            .as_ref()
            .is_some_and(|info| !info.get().trim_start().starts_with('{'))
        {
            return Err(AuthError::Invalid("info must be a JSON object".into()));
        }
        Ok(claims)
    }

    /// Verifies a connection token.
    pub fn verify_connection(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token)?;
        if claims.channel.is_some() {
            return Err(AuthError::Invalid(
                "a channel token cannot open a connection".into(),
            ));
        }
        Ok(Claims {
            user: claims.sub.into(),
            name: claims.name,
            avatar: claims.avatar,
            roles: claims.roles,
            info: claims.info.map(|info| Bytes::from(info.get().to_owned())),
            channels: claims.channels,
            expires_at: claims.exp,
        })
    }

    /// Verifies a channel token for `user` and `channel`.
    pub fn verify_channel(&self, token: &str, user: &str, channel: &str) -> Result<(), AuthError> {
        let claims = self.decode(token)?;
        match claims.channel.as_deref() {
            None => Err(AuthError::Invalid("not a channel token".into())),
            Some(granted) if granted != channel => {
                Err(AuthError::Invalid("token is for another channel".into()))
            }
            Some(_) if claims.sub != user => {
                Err(AuthError::Invalid("token is for another user".into()))
            }
            Some(_) => Ok(()),
        }
    }

    /// Mints an HS256 token.
    pub fn mint(&self, claims: &TokenClaims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.hmac_encoding)
            .expect("HS256 encoding of serializable claims cannot fail")
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
