//! The effective configuration as TOML, with its secrets masked, for
//! `parley config check`: what a start with the same file, environment and
//! flags would run with, safe to paste into an issue or a chat.

use crate::credentials::Generated;

use super::Config;

/// What a masked secret shows.
pub const MASK: &str = "********";

/// What an app key the first start will generate shows.
const UNKNOWN_YET: &str = "(generated at first start)";

/// Keys whose values are secrets wherever they appear: an app's token and
/// Pusher secret, its API keys.
const SECRET_KEYS: [&str; 2] = ["secret", "api_keys"];

/// The configuration as a TOML file would write it, every secret masked
/// (app secrets, API keys, the passwords of database, Redis and webhook
/// URLs), after comments naming the apps whose credentials a start would
/// generate.
pub fn effective_toml(config: &Config, generated: &[Generated]) -> Result<String, String> {
    // A key a start would generate is not known yet: the one generated for
    // the check is forgotten.
    let mut config = config.clone();
    for app in &mut config.apps {
        if generated.iter().any(|generated| generated.app == app.id) {
            app.key = UNKNOWN_YET.to_owned();
        }
    }
    let mut value = toml::Value::try_from(&config)
        .map_err(|error| format!("cannot write the configuration as TOML: {error}"))?;
    mask(&mut value, None);
    let body = toml::to_string(&value)
        .map_err(|error| format!("cannot write the configuration as TOML: {error}"))?;
    let mut out = String::from(
        "# The effective configuration (defaults, file, environment, flags), secrets masked.\n",
    );
    for generated in generated {
        out.push_str(&format!(
            "# App {:?}: credentials not configured; the first start generates them into {}.\n",
            generated.app,
            generated.path.display()
        ));
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// Masks the secrets under `value`, whose key in its table is `key`.
fn mask(value: &mut toml::Value, key: Option<&str>) {
    let secret = key.is_some_and(|key| SECRET_KEYS.contains(&key));
    let url = key.is_some_and(|key| key.ends_with("url") || key.ends_with("urls"));
    match value {
        toml::Value::String(text) if secret => *text = MASK.to_owned(),
        toml::Value::String(text) if url => *text = without_password(text),
        toml::Value::Array(items) => {
            for item in items {
                mask(item, key);
            }
        }
        toml::Value::Table(table) => {
            for (name, item) in table.iter_mut() {
                mask(item, Some(name));
            }
        }
        _ => {}
    }
}

/// A URL with the password of its user info masked
/// (`postgres://parley:********@db/parley`); anything else as it is.
fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| scheme_end + at);
    let Some(at) = url[scheme_end..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &url[scheme_end..scheme_end + at];
    match user_info.split_once(':') {
        Some((user, _)) => format!(
            "{}{user}:{MASK}{}",
            &url[..scheme_end],
            &url[scheme_end + at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_of_a_url_is_masked() {
        assert_eq!(
            without_password("postgres://parley:s3cr@t@db:5432/parley?sslmode=disable"),
            "postgres://parley:********@db:5432/parley?sslmode=disable"
        );
        assert_eq!(
            without_password("redis://:pw@127.0.0.1:6379"),
            "redis://:********@127.0.0.1:6379"
        );
        assert_eq!(
            without_password("https://hooks.example.com/a@b"),
            "https://hooks.example.com/a@b"
        );
        assert_eq!(without_password("redis://user@host"), "redis://user@host");
        assert_eq!(without_password("sqlite:data.db"), "sqlite:data.db");
    }
}
