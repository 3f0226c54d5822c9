//! stations: the red supply stations of the 5-minute service circle, and the points ledger that
//! turns a worker's service (tips, …) into points.

pub mod api;
pub mod domain;
pub mod points;
pub mod store;

use std::{net::SocketAddr, sync::Arc};

use kit::{
    Runtime, StartError,
    bus::{ConsumerSpec, spawn_consumer},
    grpc::Running,
};
use redsupply_proto::stations::v1::{
    points_service_server::{self, PointsServiceServer},
    stations_service_server::{self, StationsServiceServer},
};
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "stations";
pub const POINTS_CONSUMER: &str = "stations-points";
pub const ATTENDANCE_CONSUMER: &str = "stations-attendance";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Riding speed for travel minutes (km/h).
    pub riding_speed_kmh: f64,
    pub points: domain::PointsSettings,
}

pub fn pool(common: &kit::CommonSettings) -> Result<PgPool, sqlx::Error> {
    kit::db::connect(&common.database, SCHEMA)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    kit::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Starts the gRPC servers, the outbox relay and the `stations-points` and `stations-attendance`
/// consumers.
pub async fn start(rt: &Runtime, settings: &Settings) -> Result<Running, StartError> {
    if settings.riding_speed_kmh.is_nan() || settings.riding_speed_kmh <= 0.0 {
        return Err(StartError::Invalid(
            "stations.riding_speed_kmh must be above 0".into(),
        ));
    }
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let shutdown = rt.shutdown.clone();
    let tasks = vec![
        kit::bus::spawn_relay(pool.clone(), rt.bus.clone(), SCHEMA, shutdown.clone()),
        spawn_consumer(
            pool.clone(),
            rt.bus.clone(),
            ConsumerSpec {
                durable: POINTS_CONSUMER,
                producer: "governance",
                subject: "redsupply.governance.tip.submitted".to_owned(),
            },
            Arc::new(points::Awards {
                rules: settings.points.clone(),
            }),
            rt.faults.clone(),
            shutdown.clone(),
        ),
        spawn_consumer(
            pool.clone(),
            rt.bus.clone(),
            ConsumerSpec {
                durable: ATTENDANCE_CONSUMER,
                producer: "education",
                subject: "redsupply.education.attendance.recorded".to_owned(),
            },
            Arc::new(points::AttendanceAwards {
                rules: settings.points.clone(),
            }),
            rt.faults.clone(),
            shutdown.clone(),
        ),
    ];
    let api = api::Api {
        pool: pool.clone(),
        riding_speed_kmh: settings.riding_speed_kmh,
    };
    let interceptor = rt.auth.interceptor();
    let routes = Routes::new(StationsServiceServer::with_interceptor(
        api.clone(),
        interceptor.clone(),
    ))
    .add_service(PointsServiceServer::with_interceptor(api, interceptor));
    let serving = kit::grpc::serve(
        settings.listen,
        routes,
        &[
            stations_service_server::SERVICE_NAME,
            points_service_server::SERVICE_NAME,
        ],
        pool,
        rt.bus.clone(),
        shutdown,
    )
    .await?;
    Ok(Running::new(SCHEMA, serving, tasks))
}
