//! organization: the county's registry — townships, communities and grids; workers and their
//! report-ins; the organization tree, join requests, guides and contact links; enterprises with
//! their five-clears ledger; forums and enterprise issues; care; the expert Q&A desk. Every change is published as an
//! event (`redsupply.organization.*`) from which other services build read models.

pub mod api;
pub mod app;
pub mod change;
pub mod domain;
pub mod events;

pub mod store;

use std::net::SocketAddr;

use kit::{Runtime, StartError, grpc::Running};
use redsupply_proto::organization::v1::{
    care_service_server::CareServiceServer, enterprise_service_server::EnterpriseServiceServer,
    organization_service_server::OrganizationServiceServer,
    party_service_server::PartyServiceServer,
    question_desk_service_server::QuestionDeskServiceServer,
};
use redsupply_proto::subjects;
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "organization";
/// The durable consumer of governance's volunteer appointments.
pub const VOLUNTEER_ROLES_CONSUMER: &str = "organization-volunteer-roles";

/// Every migration of the schema (tests replay part of it to build a database written before).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    /// 32 bytes in hex: the master key of personal data at rest (phone and ID numbers).
    pub personal_data_key: kit::settings::Secret,
    /// Master keys `personal_data_key` replaced (newest first), kept during a rotation.
    #[serde(default)]
    pub previous_personal_data_keys: Vec<kit::settings::Secret>,
    /// Searches by phone number one caller may make per minute, per replica
    /// (RESOURCE_EXHAUSTED beyond); 0: no limit.
    #[serde(default = "default_phone_searches_per_minute")]
    pub phone_searches_per_minute: u32,
    /// The expert Q&A desk: response deadline and escalation.
    #[serde(default)]
    pub desk: app::desk::DeskSettings,
}

fn default_phone_searches_per_minute() -> u32 {
    30
}

impl Settings {
    pub fn vault(&self) -> Result<domain::personal::Vault, StartError> {
        // An empty entry (an empty variable in a Secret outside a rotation) is no key.
        let previous: Vec<&str> = self
            .previous_personal_data_keys
            .iter()
            .map(|k| k.expose().trim())
            .filter(|k| !k.is_empty())
            .collect();
        domain::personal::Vault::with_previous(self.personal_data_key.expose(), &previous)
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
    if let Some(problem) = settings.desk.problem() {
        return Err(StartError::Invalid(problem));
    }
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let vault = settings.vault()?;
    match store::workers::seal_clear_phones(&pool, &vault).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(workers = n, "sealed phone numbers stored in clear"),
        Err(e) => {
            tracing::warn!(error = %e, "sealing clear phone numbers failed; retried at next start")
        }
    }
    let relay = rt.spawn_relay(&pool, SCHEMA, rt.shutdown.clone());
    let statistics = kit::db::spawn_statistics(pool.clone(), rt.shutdown.clone());
    let roles = rt.spawn_consumer(
        &pool,
        VOLUNTEER_ROLES_CONSUMER,
        subjects::governance::VOLUNTEER_ROLE_APPOINTED,
        events::consume::volunteer_roles::VolunteerRoleEvents,
    );
    let escalation = app::desk::spawn_escalation(
        pool.clone(),
        std::time::Duration::from_secs(settings.desk.escalation_sweep_secs),
        rt.shutdown.clone(),
    );
    let routes = Routes::new(OrganizationServiceServer::new(
        api::registry::RegistryApi::new(
            pool.clone(),
            vault.clone(),
            rt.settings.county.clone(),
            settings.phone_searches_per_minute,
        ),
    ))
    .add_service(PartyServiceServer::new(api::party::PartyApi::new(
        pool.clone(),
    )))
    .add_service(EnterpriseServiceServer::new(
        api::enterprise::EnterpriseApi::new(pool.clone(), rt.settings.county.clone()),
    ))
    .add_service(CareServiceServer::new(api::care::CareApi::new(
        pool.clone(),
        vault,
        rt.settings.county.clone(),
    )))
    .add_service(QuestionDeskServiceServer::new(api::desk::DeskApi::new(
        pool.clone(),
        settings.desk.clone(),
    )));
    let serving = kit::grpc::serve(settings.listen, routes, api::POLICIES, rt, pool).await?;
    Ok(Running::new(
        SCHEMA,
        serving,
        vec![relay, statistics, roles, escalation],
    ))
}
