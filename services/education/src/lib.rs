//! education: learning sites, the lecturer pool, courses, sessions and attendance — short
//! courses taught where workers rest — and the community and department activities with their
//! lecture series. Each attendance is published (`redsupply.education.attendance.recorded`,
//! `redsupply.education.activity.attended`) so that stations awards its points.

pub mod api;
pub mod app;
pub mod domain;
pub mod events;
pub mod store;

pub use api::policy;

use std::net::SocketAddr;

use kit::{
    Runtime, StartError,
    bus::registry::{CommunityEvents, WorkerEvents},
    grpc::Running,
};
use redsupply_proto::{
    education::v1::{
        activity_service_server::ActivityServiceServer,
        education_service_server::EducationServiceServer,
    },
    subjects,
};
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "education";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
}

pub fn pool(common: &kit::CommonSettings) -> Result<PgPool, sqlx::Error> {
    kit::db::connect(&common.database, SCHEMA)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    kit::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Starts the gRPC server, the outbox relay and the registry's read models.
pub async fn start(rt: &Runtime, settings: &Settings) -> Result<Running, StartError> {
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let tasks = vec![
        rt.spawn_relay(&pool, SCHEMA, rt.shutdown.clone()),
        kit::db::spawn_statistics(pool.clone(), rt.shutdown.clone()),
        rt.spawn_consumer(
            &pool,
            events::consume::WORKERS_CONSUMER,
            subjects::organization::WORKERS,
            WorkerEvents(events::consume::Workers),
        ),
        rt.spawn_consumer(
            &pool,
            events::consume::COMMUNITIES_CONSUMER,
            subjects::organization::COMMUNITIES,
            CommunityEvents(events::consume::Communities),
        ),
        rt.spawn_consumer(
            &pool,
            events::consume::STATIONS_CONSUMER,
            subjects::stations::STATION_UPSERTED,
            events::consume::Stations,
        ),
    ];
    let routes = Routes::new(EducationServiceServer::new(api::Api { pool: pool.clone() }))
        .add_service(ActivityServiceServer::new(api::Api { pool: pool.clone() }));
    let serving = kit::grpc::serve(settings.listen, routes, policy::POLICIES, rt, pool).await?;
    Ok(Running::new(SCHEMA, serving, tasks))
}
