//! Settings of the whole process: what every service shares, plus one section per service. The
//! defaults are `deploy/config/redsupply.toml`, embedded at build time.

use std::path::Path;

use serde::Deserialize;

/// The documented defaults.
pub const DEFAULTS: &str = include_str!("../../../deploy/config/redsupply.toml");

/// The key shipped in the defaults; fine for a laptop, never for a county.
pub const DEV_KEY: &str = "redsupply-dev-key-do-not-use-in-production";

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

    pub fn uses_dev_key(&self) -> bool {
        self.common.auth.algorithm.eq_ignore_ascii_case("HS256")
            && self.common.auth.hs256_key.expose() == DEV_KEY
    }
}
