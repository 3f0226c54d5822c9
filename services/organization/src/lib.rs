//! organization: the county's registry of communities, grids and workers. Every change is
//! published as an event (`redsupply.organization.*`) from which other services build read models.

pub mod api;
pub mod domain;
pub mod events;
pub mod personal;
pub mod registry;
pub mod store;

use std::net::SocketAddr;

use kit::{Runtime, StartError, grpc::Running};
use redsupply_proto::organization::v1::organization_service_server::{
    OrganizationServiceServer, SERVICE_NAME,
};
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "organization";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    /// 32 bytes in hex: the master key of personal data at rest (phone and ID numbers).
    pub personal_data_key: kit::settings::Secret,
}

impl Settings {
    pub fn vault(&self) -> Result<personal::Vault, StartError> {
        personal::Vault::from_hex(self.personal_data_key.expose())
            .map_err(|e| StartError::Invalid(e.to_string()))
    }
}

pub fn pool(rt_settings: &kit::CommonSettings) -> Result<PgPool, sqlx::Error> {
    kit::db::connect(&rt_settings.database, SCHEMA)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    kit::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Starts the gRPC server and the outbox relay.
pub async fn start(rt: &Runtime, settings: &Settings) -> Result<Running, StartError> {
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let vault = settings.vault()?;
    match store::seal_clear_phones(&pool, &vault).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(workers = n, "sealed phone numbers stored in clear"),
        Err(e) => {
            tracing::warn!(error = %e, "sealing clear phone numbers failed; retried at next start")
        }
    }
    let relay = kit::bus::spawn_relay(pool.clone(), rt.bus.clone(), SCHEMA, rt.shutdown.clone());
    let routes = Routes::new(OrganizationServiceServer::with_interceptor(
        api::Api::new(pool.clone(), vault),
        rt.auth.interceptor(),
    ));
    let serving = kit::grpc::serve(
        settings.listen,
        routes,
        &[SERVICE_NAME],
        pool,
        rt.bus.clone(),
        rt.shutdown.clone(),
    )
    .await?;
    Ok(Running::new(SCHEMA, serving, vec![relay]))
}
