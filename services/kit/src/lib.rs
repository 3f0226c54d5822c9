//! The runtime every Red Supply service shares, and nothing of the domain: layered settings, telemetry
//! and metrics, the PostgreSQL pool and migrations, the event bus (transactional outbox, relay,
//! idempotent consumers, dead letters), and the gRPC bootstrap (health, reflection, auth, errors,
//! graceful shutdown).

pub mod api;
pub mod auth;
pub mod bus;
pub mod db;
pub mod geo;
pub mod grpc;
pub mod limit;
pub mod metric_catalogue;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod time;

use std::sync::Arc;

pub use settings::CommonSettings;
pub use shutdown::Shutdown;

/// What a service needs from the process that hosts it: settings, the bus, the token checker, the
/// shutdown signal, and (for tests) fault switches.
#[derive(Clone)]
pub struct Runtime {
    pub settings: CommonSettings,
    pub bus: bus::Bus,
    pub auth: Arc<auth::Authenticator>,
    pub shutdown: Shutdown,
    pub faults: Arc<bus::Faults>,
}

impl Runtime {
    /// Connects to NATS (in the background: intake never waits on it) and loads the token keys.
    pub async fn new(settings: CommonSettings, shutdown: Shutdown) -> Result<Self, StartError> {
        let bus = bus::Bus::connect(&settings.nats).await?;
        let auth = Arc::new(auth::Authenticator::from_settings(&settings.auth)?);
        Ok(Self {
            settings,
            bus,
            auth,
            shutdown,
            faults: Arc::default(),
        })
    }

    /// Starts the relay of `producer`'s events (the schema of `pool`); it runs until `shutdown`.
    pub fn spawn_relay(
        &self,
        pool: &sqlx::PgPool,
        producer: &'static str,
        shutdown: Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        bus::spawn_relay(
            pool.clone(),
            &self.settings.database,
            self.bus.clone(),
            producer,
            shutdown,
        )
    }

    /// Starts the durable consumer `durable` of `subject` (a constant of
    /// `redsupply_proto::subjects`), applying each event with `handler` in a transaction on
    /// `pool`; it runs until shutdown.
    pub fn spawn_consumer<H: bus::Handler>(
        &self,
        pool: &sqlx::PgPool,
        durable: &'static str,
        subject: &'static str,
        handler: H,
    ) -> tokio::task::JoinHandle<()> {
        bus::spawn_consumer(
            pool.clone(),
            self.bus.clone(),
            bus::ConsumerSpec::new(durable, subject),
            Arc::new(handler),
            self.faults.clone(),
            self.shutdown.clone(),
        )
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    #[error("auth: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("gRPC server: {0}")]
    Server(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}
