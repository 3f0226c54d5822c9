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
    /// Defaults, then `file`, then `REDSUPPLY__…` variables. A key nothing reads (a typo such as
    /// `otlp_endpiont` or `[databse]`, in the file or a variable) stops the load, naming it and
    /// the nearest documented key.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        use kit::settings::read_section;
        const SERVICES: [&str; 4] = ["organization", "education", "stations", "governance"];
        let config = kit::settings::layered(DEFAULTS, file)?;
        let (common, mut unread): (kit::CommonSettings, _) = read_section(config.clone())?;
        // The services' sections are read below, each by its own settings.
        unread.retain(|k| !SERVICES.contains(&k.split('.').next().unwrap_or_default()));
        /// One service's section, its unread keys added to `unread` under its name.
        fn read<T: serde::de::DeserializeOwned>(
            config: &config::Config,
            name: &str,
            unread: &mut Vec<String>,
        ) -> Result<T, config::ConfigError> {
            let (settings, more) = read_section(config.get::<config::Value>(name)?)?;
            unread.extend(more.into_iter().map(|k: String| format!("{name}.{k}")));
            Ok(settings)
        }
        let settings = AppSettings {
            organization: read(&config, "organization", &mut unread)?,
            education: read(&config, "education", &mut unread)?,
            stations: read(&config, "stations", &mut unread)?,
            governance: read(&config, "governance", &mut unread)?,
            common,
        };
        match kit::settings::unknown_key_error(&unread, DEFAULTS) {
            Some(e) => Err(e),
            None => Ok(settings),
        }
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

    fn load_file(text: &str) -> Result<AppSettings, String> {
        let dir = std::env::temp_dir().join(format!("redsupply-settings-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("redsupply.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = AppSettings::load(Some(&path)).map_err(|e| e.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    #[test]
    fn a_misspelt_setting_stops_the_load_naming_it_and_the_key_it_meant() {
        let e = load_file("[telemetry]\notlp_endpiont = \"http://collector:4317\"\n").unwrap_err();
        assert!(e.contains("`telemetry.otlp_endpiont`"), "{e}");
        assert!(e.contains("did you mean `telemetry.otlp_endpoint`"), "{e}");
        let e = load_file("[databse]\nmax_connections = 4\n").unwrap_err();
        assert!(e.contains("`databse"), "{e}");
        // In a service's section too.
        let e = load_file("[governance]\ntips_per_minut = 5\n").unwrap_err();
        assert!(
            e.contains("did you mean `governance.tips_per_minute`"),
            "{e}"
        );
        // Known keys load.
        let s = load_file("[governance]\ntips_per_minute = 5\n[database]\nmax_connections = 4\n")
            .unwrap();
        assert_eq!(
            (
                s.governance.tips_per_minute,
                s.common.database.max_connections
            ),
            (5, 4)
        );
    }
}
