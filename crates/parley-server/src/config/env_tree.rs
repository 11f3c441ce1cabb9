//! Any setting of the configuration file from an environment variable, so
//! that a container needs no file: `PARLEY__` followed by the setting's
//! path, one key per `__`-separated part, for example
//! `PARLEY__NAMESPACES__CHAT__PERSIST=true` for `[namespaces.chat]
//! persist = true`, or `PARLEY__APPS__0__ALLOWED_ORIGINS='["https://a.example"]'`
//! for the first `[[apps]]` entry.
//!
//! The variables are laid over the file's table before it is read, so they
//! are checked exactly as the file is (unknown keys, types, durations). A
//! value is read as a TOML value when it is one (`true`, `42`, `["a"]`,
//! `"quoted"`) and as a string otherwise (`5s`, `https://…`).

use toml::{Table, Value};

use super::ConfigError;

/// The prefix of the variables that address a setting by its path. The
/// named variables (`PARLEY_LISTEN`, …) have one underscore and are
/// applied after these.
pub(super) const PREFIX: &str = "PARLEY__";

/// Lays the `PARLEY__` variables among `vars` over `table`, in the order
/// of their names (so the result does not depend on the environment's
/// order). Other variables are ignored.
pub(super) fn overlay(
    table: &mut Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .collect();
    vars.sort();
    for (name, value) in vars {
        let path: Vec<String> = name[PREFIX.len()..]
            .split("__")
            .map(str::to_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(error(
                &name,
                "every part of the path needs a key (no empty part between two __)".into(),
            ));
        }
        set(table, &path, parse(&value)).map_err(|message| error(&name, message))?;
    }
    Ok(())
}

/// Whether any variable among `vars` addresses a setting by its path.
pub(super) fn any(vars: &[(String, String)]) -> bool {
    vars.iter().any(|(name, _)| name.starts_with(PREFIX))
}

fn error(name: &str, message: String) -> ConfigError {
    ConfigError::EnvPath {
        name: name.to_owned(),
        message,
    }
}

/// A value as TOML when it is one, as a string otherwise.
fn parse(value: &str) -> Value {
    match format!("v = {value}").parse::<Table>() {
        Ok(mut parsed) => parsed
            .remove("v")
            .unwrap_or_else(|| Value::String(value.to_owned())),
        Err(_) => Value::String(value.to_owned()),
    }
}

/// Sets `value` at `path` under `table`, creating the tables on the way;
/// a numeric part indexes an array of tables (`[[apps]]`), where the next
/// index after the last appends one.
fn set(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (key, rest) = path.split_first().ok_or("an empty path")?;
    if rest.is_empty() {
        table.insert(key.clone(), value);
        return Ok(());
    }
    let entry = table
        .entry(key.clone())
        .or_insert_with(|| match rest[0].parse::<usize>() {
            Ok(_) => Value::Array(Vec::new()),
            Err(_) => Value::Table(Table::new()),
        });
    set_in(entry, key, rest, value)
}

fn set_in(entry: &mut Value, key: &str, rest: &[String], value: Value) -> Result<(), String> {
    match entry {
        Value::Table(inner) => set(inner, rest, value),
        Value::Array(items) => {
            let (index, rest) = rest.split_first().ok_or("an empty path")?;
            let index: usize = index.parse().map_err(|_| {
                format!("`{key}` is a list: the next part must be an index, not `{index}`")
            })?;
            if index > items.len() {
                return Err(format!(
                    "`{key}` has {} entries: index {index} would leave a gap",
                    items.len()
                ));
            }
            if index == items.len() {
                items.push(Value::Table(Table::new()));
            }
            if rest.is_empty() {
                items[index] = value;
                return Ok(());
            }
            set_in(&mut items[index], key, rest, value)
        }
        _ => Err(format!("`{key}` is a single value, not a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaid(file: &str, vars: &[(&str, &str)]) -> Result<Table, ConfigError> {
        let mut table: Table = file.parse().unwrap();
        overlay(
            &mut table,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?;
        Ok(table)
    }

    #[test]
    fn paths_become_nested_keys_with_typed_values() {
        let table = overlaid(
            "[namespaces.chat]\nmax_message_bytes = 100\n",
            &[
                ("PARLEY__NAMESPACES__CHAT__PERSIST", "true"),
                ("PARLEY__NAMESPACES__CHAT__RATE", "5/min"),
                ("PARLEY__NAMESPACES__LIVE__HISTORY_SIZE", "50"),
                (
                    "PARLEY__APPS__0__ALLOWED_ORIGINS",
                    r#"["https://a.example"]"#,
                ),
                ("PARLEY__APPS__0__ID", "main"),
                ("PARLEY__APPS__1__ID", r#""42""#),
                ("PARLEY_LISTEN", "ignored here"),
            ],
        )
        .unwrap();
        let expected: Table = r#"
            [namespaces.chat]
            max_message_bytes = 100
            persist = true
            rate = "5/min"
            [namespaces.live]
            history_size = 50
            [[apps]]
            allowed_origins = ["https://a.example"]
            id = "main"
            [[apps]]
            id = "42"
        "#
        .parse()
        .unwrap();
        assert_eq!(table, expected);
    }

    #[test]
    fn a_path_that_cannot_be_placed_names_the_variable() {
        for (vars, says) in [
            (&[("PARLEY__APPS__2__ID", "x")][..], "would leave a gap"),
            (&[("PARLEY__LISTEN__PORT", "1")][..], "single value"),
            (
                &[("PARLEY__NAMESPACES____PERSIST", "true")][..],
                "no empty part",
            ),
            (&[("PARLEY__APPS__X", "1")][..], "must be an index"),
        ] {
            let error = overlaid("listen = \"127.0.0.1:1\"\n[[apps]]\nid = \"a\"\n", vars)
                .unwrap_err()
                .to_string();
            assert!(error.contains(vars[0].0) && error.contains(says), "{error}");
        }
    }
}
