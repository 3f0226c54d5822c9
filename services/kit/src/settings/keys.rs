//! Settings keys nothing reads: a typo in the file or in a `REDSUPPLY__` variable would otherwise
//! run on a default. Every section is read through `serde_ignored` (which cannot see through
//! `#[serde(flatten)]`, so callers read a flattened part and each section on its own), and an
//! unread key is refused with the nearest documented key.

use config::{Config, File, FileFormat};
use serde::Deserialize;

/// Reads `T` from `source` (a whole configuration, or one section's value) and names every key
/// it holds that `T` does not read, as dotted paths within `source`.
pub fn read_section<'de, T, D>(source: D) -> Result<(T, Vec<String>), D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    let mut unread = Vec::new();
    let value = serde_ignored::deserialize(source, |path| unread.push(path.to_string()))?;
    Ok((value, unread))
}

/// The error for settings keys nothing reads (a typo, or a key of another release), naming the
/// first and the nearest documented key: a start with a misspelt setting would run on a default.
pub fn unknown_key_error(unread: &[String], defaults_toml: &str) -> Option<config::ConfigError> {
    let key = unread.first()?;
    let known = documented_keys(defaults_toml);
    let hint = nearest(key, &known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    let env = format!("REDSUPPLY__{}", key.replace('.', "__").to_uppercase());
    let more = match unread.len() {
        1 => String::new(),
        n => format!(" (and {} more: {})", n - 1, unread[1..].join(", ")),
    };
    Some(config::ConfigError::Message(format!(
        "unknown setting `{key}` (in the settings file, or the variable {env}){hint}{more}"
    )))
}

/// Every key the defaults file sets, as dotted paths.
fn documented_keys(defaults_toml: &str) -> Vec<String> {
    fn walk(prefix: &str, value: &config::Value, out: &mut Vec<String>) {
        if let Ok(table) = value.clone().into_table() {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&path, &v, out);
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(c) = Config::builder()
        .add_source(File::from_str(defaults_toml, FileFormat::Toml))
        .build()
        && let Ok(root) = c.try_deserialize::<config::Map<String, config::Value>>()
    {
        for (k, v) in root {
            walk(&k, &v, &mut out);
            out.push(k);
        }
    }
    out
}

/// The known key closest to `key` by edit distance, if close enough to be a typo of it.
fn nearest<'k>(key: &str, known: &'k [String]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
