//! Settings of the whole process: what every service shares, plus one section per service. The
//! defaults are `deploy/config/redsupply.toml`, embedded at build time.

use std::path::Path;

use serde::Deserialize;

/// The documented defaults.
pub const DEFAULTS: &str = include_str!("../../../deploy/config/redsupply.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct AppSettings {
    #[serde(flatten)]
    pub common: kit::CommonSettings,
    pub organization: organization::Settings,
    pub education: education::Settings,
    pub stations: stations::Settings,
    pub governance: governance::Settings,
}

impl AppSettings {
    /// Defaults, then `file`, then `REDSUPPLY__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        kit::settings::load(DEFAULTS, file)
    }

    /// The keys shipped in the defaults that these settings still use: they are public, so with
    /// them anyone can mint tokens or decrypt the personal data of a database dump.
    pub fn development_keys_in_use(&self) -> Vec<&'static str> {
        let Ok(shipped) = kit::settings::load::<Self>(DEFAULTS, None::<&Path>) else {
            return Vec::new();
        };
        let auth = &self.common.auth;
        let shipped_hs256 = shipped.common.auth.hs256_key.expose();
        let mut found = Vec::new();
        if auth.algorithm.eq_ignore_ascii_case("HS256")
            && std::iter::once(&auth.hs256_key)
                .chain(&auth.hs256_previous_keys)
                .any(|k| k.expose() == shipped_hs256)
        {
            found.push("auth.hs256_key");
        }
        if self.organization.personal_data_key.expose()
            == shipped.organization.personal_data_key.expose()
        {
            found.push("organization.personal_data_key");
        }
        found
    }

    /// Refuses the shipped development keys unless `development = true` says this is a
    /// development stack (`scripts/dev up`, the tests, the bench).
    pub fn check_keys(&self) -> Result<(), String> {
        let found = self.development_keys_in_use();
        if found.is_empty() || self.common.development {
            return Ok(());
        }
        Err(format!(
            "{} still hold the development keys shipped in the defaults, which anyone can read: \
             set your own (REDSUPPLY__AUTH__HS256_KEY or RS256; REDSUPPLY__ORGANIZATION__PERSONAL_DATA_KEY \
             from `openssl rand -hex 32`), or set development = true (REDSUPPLY__DEVELOPMENT=true) \
             on a development stack",
            found.join(" and ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_keys_are_refused_outside_development() {
        let mut s = AppSettings::load(None).unwrap();
        s.common.development = false;
        assert_eq!(
            s.development_keys_in_use(),
            ["auth.hs256_key", "organization.personal_data_key"]
        );
        let err = s.check_keys().unwrap_err();
        assert!(err.contains("REDSUPPLY__DEVELOPMENT"), "{err}");
        s.common.development = true;
        assert!(s.check_keys().is_ok());
        s.common.development = false;
        s.common.auth.hs256_key = kit::settings::Secret::new("a-key-of-this-county");
        s.organization.personal_data_key = kit::settings::Secret::new("ab".repeat(32));
        assert!(s.check_keys().is_ok());
        // A shipped key kept as a "previous" key during a rotation is still the shipped key.
        s.common.auth.hs256_previous_keys =
            vec![AppSettings::load(None).unwrap().common.auth.hs256_key];
        assert_eq!(s.development_keys_in_use(), ["auth.hs256_key"]);
    }
}
