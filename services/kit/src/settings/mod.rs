//! Typed settings, layered with the `config` crate: built-in defaults (a documented TOML file the
//! binary embeds), then an optional file (`--config` or `REDSUPPLY_CONFIG`), then environment
//! variables `REDSUPPLY__SECTION__KEY`. Secrets are wrapped so that printing settings never shows them.

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use config::{Config, Environment, File, FileFormat};

mod keys;
pub use keys::{read_section, unknown_key_error};
use serde::{Deserialize, de::DeserializeOwned};

/// Settings every service shares. A binary embeds them with `#[serde(flatten)]` next to its own.
#[derive(Debug, Clone, Deserialize)]
pub struct CommonSettings {
    /// A development stack: the keys shipped in the defaults are accepted (else the services
    /// refuse to start with them).
    #[serde(default)]
    pub development: bool,
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub auth: AuthSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub county: CountySettings,
}

/// Where the county lies and what its grids may be: every service refuses a location outside it.
#[derive(Debug, Clone, Deserialize)]
pub struct CountySettings {
    #[serde(default)]
    pub extent: crate::geo::Extent,
    #[serde(default)]
    pub grids: crate::geo::GridRules,
    /// The county's offset from UTC in minutes (Beijing time, 480): what "today" is for dated
    /// records, which may not lie after it.
    #[serde(default = "default_utc_offset")]
    pub utc_offset_minutes: i32,
}

fn default_utc_offset() -> i32 {
    480
}

impl Default for CountySettings {
    fn default() -> Self {
        CountySettings {
            extent: Default::default(),
            grids: Default::default(),
            utc_offset_minutes: default_utc_offset(),
        }
    }
}

impl CountySettings {
    /// Today's date in the county.
    pub fn today(&self) -> chrono::NaiveDate {
        (chrono::Utc::now() + chrono::Duration::minutes(i64::from(self.utc_offset_minutes)))
            .date_naive()
    }

    /// The instant the county's day `date` begins.
    pub fn day_starts(&self, date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
        (date.and_time(chrono::NaiveTime::MIN)
            - chrono::Duration::minutes(i64::from(self.utc_offset_minutes)))
        .and_utc()
    }
}

/// gRPC over TLS, and client certificates for machine clients.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TlsSettings {
    /// Certificate chain and private key (PEM files) to serve gRPC over TLS; both empty:
    /// plaintext (TLS terminated by a mesh or ingress in front).
    #[serde(default)]
    pub cert_path: String,
    #[serde(default)]
    pub key_path: String,
    /// CA (PEM file) whose client certificates grid platforms may present. A `grid_system` token
    /// that arrives with such a certificate must name the certificate's subject CN as its
    /// `platform` (a stolen token is useless without the platform's key).
    #[serde(default)]
    pub client_ca_path: String,
    /// Refuse `grid_system` tokens that arrive without a client certificate.
    #[serde(default)]
    pub require_grid_system_certificate: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: Secret,
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    #[serde(default = "defaults::acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// Run each service's migrations when it starts (besides `redsupply migrate`).
    #[serde(default)]
    pub migrate_on_start: bool,
    /// `statement_timeout` of the services' own connections (0: none). Migrations run without it.
    #[serde(default = "defaults::statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// `idle_in_transaction_session_timeout` of the services' own connections (0: none): a
    /// transaction left open this long is ended by the server, so it cannot hold back VACUUM.
    #[serde(default = "defaults::idle_in_transaction_timeout_ms")]
    pub idle_in_transaction_timeout_ms: u64,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct NatsSettings {
    /// One server, or several separated by commas (the nodes of a cluster; the client also
    /// learns the others from the server it reaches).
    pub url: String,
    /// The NATS user this process connects as (empty: anonymous, which a server configured with
    /// `deploy/nats/redsupply-auth.conf` refuses): each service its own name, tools `operator`.
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub password: Secret,
    /// JetStream drops a re-published event with the same id within this window.
    #[serde(default = "defaults::duplicate_window_secs")]
    pub duplicate_window_secs: u64,
    #[serde(default = "defaults::stream_replicas")]
    pub stream_replicas: usize,
    /// Deliveries of one event before it is parked as a dead letter.
    #[serde(default = "defaults::max_deliver")]
    pub max_deliver: i64,
    /// Back-off between redeliveries of a failed event, in milliseconds; the last value repeats.
    #[serde(default = "defaults::backoff_ms")]
    pub backoff_ms: Vec<u64>,
    /// How long a delivered, unacknowledged event waits before JetStream redelivers it.
    #[serde(default = "defaults::ack_wait_ms")]
    pub ack_wait_ms: u64,
    /// Outbox relay: rows per publish batch and the poll interval when no NOTIFY arrives.
    #[serde(default = "defaults::relay_batch")]
    pub relay_batch: i64,
    #[serde(default = "defaults::relay_poll_ms")]
    pub relay_poll_ms: u64,
    /// Outbox relay: after a batch smaller than `relay_batch`, the next claim waits this long so
    /// that the commits meanwhile share it (one claim per several commits under load).
    #[serde(default = "defaults::relay_linger_ms")]
    pub relay_linger_ms: u64,
    /// Outbox relay: where it reads the events it publishes (see [`RelaySource`]).
    #[serde(default)]
    pub relay_source: RelaySource,
    /// WAL relay: how often a replica whose peer holds the slot tries to take it over.
    #[serde(default = "defaults::relay_standby_retry_ms")]
    pub relay_standby_retry_ms: u64,
    /// Consumers: events fetched per pull.
    #[serde(default = "defaults::consumer_batch")]
    pub consumer_batch: usize,
    /// Consumers: after an event arrives, how long more may join its transaction (a relay's batch
    /// arrives over a few ms; taken one by one, each costs a transaction). 0: only what came.
    #[serde(default = "defaults::consumer_linger_ms")]
    pub consumer_linger_ms: u64,
}

/// Where the outbox relay reads its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaySource {
    /// The outbox table: each event a row, claimed, published and deleted. Any PostgreSQL.
    #[default]
    Table,
    /// A logical replication slot: each event a message in its transaction's WAL, nothing
    /// stored, read in commit order. Needs `wal_level = logical` and a role with REPLICATION.
    Wal,
}

impl NatsSettings {
    pub fn relay_standby_retry(&self) -> Duration {
        Duration::from_millis(self.relay_standby_retry_ms)
    }
    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }
    pub fn relay_poll(&self) -> Duration {
        Duration::from_millis(self.relay_poll_ms)
    }
    pub fn relay_linger(&self) -> Duration {
        Duration::from_millis(self.relay_linger_ms)
    }
    pub fn consumer_linger(&self) -> Duration {
        Duration::from_millis(self.consumer_linger_ms)
    }
    /// The delay before redelivery number `delivered` + 1.
    pub fn backoff(&self, delivered: i64) -> Duration {
        let i = (delivered.max(1) - 1) as usize;
        let ms = self
            .backoff_ms
            .get(i)
            .or(self.backoff_ms.last())
            .copied()
            .unwrap_or(1000);
        Duration::from_millis(ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// `HS256` (shared key, for development and tests) or `RS256` (public key from the issuer).
    #[serde(default = "defaults::algorithm")]
    pub algorithm: String,
    /// HS256 signing key; also signs `redsupply token`.
    #[serde(default)]
    pub hs256_key: Secret,
    /// Keys still accepted while a rotation is under way.
    #[serde(default)]
    pub hs256_previous_keys: Vec<Secret>,
    /// RS256 public key (PEM) of the identity provider.
    #[serde(default)]
    pub rs256_public_key_pem: Option<String>,
    #[serde(default = "defaults::issuer")]
    pub issuer: String,
    #[serde(default = "defaults::token_ttl_secs")]
    pub token_ttl_secs: u64,
    /// The longest lifetime (`exp` − `iat`) a token may have; longer ones are refused, as are
    /// tokens issued in the future or not valid yet (`nbf`).
    #[serde(default = "defaults::max_token_lifetime_secs")]
    pub max_token_lifetime_secs: u64,
    /// RS256 keys from the identity provider's JWKS endpoint (`http(s)://…`), instead of one PEM:
    /// fetched on first use, refreshed every `jwks_refresh_secs`, and at once (at most every
    /// 10 s) when a token names a key id not yet known, so a provider's key rotation needs no
    /// restart. While the endpoint is away the last keys stay in use.
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default = "defaults::jwks_refresh_secs")]
    pub jwks_refresh_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `text` or `json`.
    #[serde(default = "defaults::log_format")]
    pub log_format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    #[serde(default = "defaults::log_filter")]
    pub log_filter: String,
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`; empty: no export. `https://`
    /// speaks TLS, trusting the Mozilla roots and `otlp_ca_file`.
    #[serde(default)]
    pub otlp_endpoint: String,
    /// A PEM file of the CA that signed the collector's certificate (a private CA); empty: the
    /// public roots only.
    #[serde(default)]
    pub otlp_ca_file: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: defaults::log_format(),
            log_filter: defaults::log_filter(),
            otlp_endpoint: String::new(),
            otlp_ca_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdminSettings {
    /// Prometheus `/metrics` listener; unset: no admin port.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// A string that never shows in `Debug` or `Display`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Loads `T` from the built-in defaults, an optional file, then `REDSUPPLY__…` variables.
pub fn load<T: DeserializeOwned>(
    defaults_toml: &str,
    file: Option<&Path>,
) -> Result<T, config::ConfigError> {
    load_with(defaults_toml, file, Environment::with_prefix("REDSUPPLY"))
}

fn load_with<T: DeserializeOwned>(
    defaults_toml: &str,
    file: Option<&Path>,
    env: Environment,
) -> Result<T, config::ConfigError> {
    layered_with(defaults_toml, file, env)?.try_deserialize()
}

/// The built-in defaults, an optional file, then `REDSUPPLY__…` variables, merged and not yet
/// read into types (see [`read_section`]).
pub fn layered(defaults_toml: &str, file: Option<&Path>) -> Result<Config, config::ConfigError> {
    layered_with(defaults_toml, file, Environment::with_prefix("REDSUPPLY"))
}

fn layered_with(
    defaults_toml: &str,
    file: Option<&Path>,
    env: Environment,
) -> Result<Config, config::ConfigError> {
    let mut builder = Config::builder().add_source(File::from_str(defaults_toml, FileFormat::Toml));
    if let Some(path) = file {
        builder = builder.add_source(File::from(path).required(true));
    }
    builder
        .add_source(
            env.prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("nats.backoff_ms")
                .with_list_parse_key("auth.hs256_previous_keys")
                .with_list_parse_key("organization.previous_personal_data_keys"),
        )
        .build()
}

mod defaults;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const DEFAULTS: &str = r#"
        [database]
        url = "postgres://postgres:hunter2@localhost/redsupply"
        [nats]
        url = "nats://127.0.0.1:4222"
        [auth]
        hs256_key = "dev-key"
    "#;

    fn env(vars: &[(&str, &str)]) -> Environment {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Environment::with_prefix("REDSUPPLY").source(Some(map))
    }

    #[test]
    fn a_misspelt_variable_is_named_with_the_key_it_meant() {
        const DOCUMENTED: &str = r#"
            [database]
            url = "postgres://localhost/redsupply"
            max_connections = 16
            [nats]
            url = "nats://127.0.0.1:4222"
            [auth]
            hs256_key = "dev-key"
        "#;
        let config = layered_with(
            DOCUMENTED,
            None,
            env(&[("REDSUPPLY__DATABASE__MAX_CONECTIONS", "3")]),
        )
        .unwrap();
        let (s, unread): (CommonSettings, _) = read_section(config).unwrap();
        assert_eq!(
            s.database.max_connections, 16,
            "the misspelt value went nowhere"
        );
        assert_eq!(unread, ["database.max_conections"]);
        let e = unknown_key_error(&unread, DOCUMENTED).unwrap().to_string();
        assert!(e.contains("REDSUPPLY__DATABASE__MAX_CONECTIONS"), "{e}");
        assert!(e.contains("did you mean `database.max_connections`"), "{e}");
        assert!(unknown_key_error(&[], DOCUMENTED).is_none());
        // Nothing close: named, with no guess.
        let e = unknown_key_error(&["colour_scheme".to_owned()], DOCUMENTED)
            .unwrap()
            .to_string();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn environment_overrides_defaults() {
        let s: CommonSettings = load_with(
            DEFAULTS,
            None,
            env(&[
                ("REDSUPPLY__NATS__URL", "nats://nats:4222"),
                ("REDSUPPLY__NATS__BACKOFF_MS", "10,20"),
                ("REDSUPPLY__DATABASE__MAX_CONNECTIONS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(s.nats.url, "nats://nats:4222");
        assert_eq!(s.nats.backoff_ms, vec![10, 20]);
        assert_eq!(s.database.max_connections, 3);
        assert_eq!(s.nats.backoff(1), Duration::from_millis(10));
        assert_eq!(s.nats.backoff(9), Duration::from_millis(20));
    }

    #[test]
    fn a_file_overrides_defaults_and_env_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("kit-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("redsupply.toml");
        std::fs::write(
            &path,
            "[nats]\nurl = \"nats://file:4222\"\nmax_deliver = 3\n",
        )
        .unwrap();
        let s: CommonSettings = load_with(
            DEFAULTS,
            Some(&path),
            env(&[("REDSUPPLY__NATS__MAX_DELIVER", "5")]),
        )
        .unwrap();
        assert_eq!(s.nats.url, "nats://file:4222");
        assert_eq!(s.nats.max_deliver, 5);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_never_print() {
        let s: CommonSettings = load_with(DEFAULTS, None, env(&[])).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("dev-key"), "{shown}");
        assert_eq!(s.auth.hs256_key.expose(), "dev-key");
    }
}
