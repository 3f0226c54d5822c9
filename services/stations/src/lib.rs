//! stations: the red supply stations of the 5-minute service circle (amenities and their state,
//! opening hours, visits, coverage), and the points ledger that turns a worker's service into
//! points redeemable in the community points supermarkets, and the honours chosen beside them.

pub mod api;
pub mod app;
pub mod domain;
pub mod events;
pub mod store;

pub use api::policy;

use std::net::SocketAddr;

use kit::{Runtime, StartError, grpc::Running};
use redsupply_proto::{
    stations::v1::{
        honours_service_server::HonoursServiceServer, points_service_server::PointsServiceServer,
        stations_service_server::StationsServiceServer,
    },
    subjects,
};
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "stations";
pub const POINTS_CONSUMER: &str = "stations-points";
pub const ATTENDANCE_CONSUMER: &str = "stations-attendance";
pub const ACTIVITIES_CONSUMER: &str = "stations-activities";
pub const WORKERS_CONSUMER: &str = "stations-workers";
pub const GRIDS_CONSUMER: &str = "stations-grids";
pub const COMMUNITIES_CONSUMER: &str = "stations-communities";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Riding speed for travel minutes and the service circle (km/h), where neither the station
    /// nor an area of `speed_areas` sets its own.
    pub riding_speed_kmh: f64,
    /// Areas with a riding speed of their own (`[[stations.speed_areas]]`); the first holding a
    /// station gives its speed.
    #[serde(default)]
    pub speed_areas: Vec<domain::SpeedArea>,
    /// The county's offset from UTC in minutes (opening hours, daily caps, months).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_minutes: i32,
    pub points: domain::PointsSettings,
    /// Amenity reports one caller may file per minute, counted over every replica; 0: no limit.
    #[serde(default = "default_amenity_reports_per_minute")]
    pub amenity_reports_per_minute: u32,
    /// How far from a station a worker may check in (their location is the visit's proof).
    #[serde(default = "default_visit_radius")]
    pub visit_radius_meters: f64,
    /// How many workers' reports, within how long, take an amenity out (`[stations.amenity_reports]`).
    #[serde(default)]
    pub amenity_reports: domain::ReportRules,
    /// Honours' limits (`[stations.honours]`).
    #[serde(default)]
    pub honours: domain::honours::HonoursSettings,
}

fn default_utc_offset() -> i32 {
    480
}

fn default_visit_radius() -> f64 {
    300.0
}

fn default_amenity_reports_per_minute() -> u32 {
    20
}

impl Settings {
    /// The riding speeds: the county's and its areas'.
    pub fn speeds(&self) -> domain::Speeds {
        domain::Speeds {
            county_kmh: self.riding_speed_kmh,
            areas: self.speed_areas.clone(),
        }
    }

    pub fn clock(&self) -> Result<domain::LocalClock, StartError> {
        domain::LocalClock::new(self.utc_offset_minutes).ok_or_else(|| {
            StartError::Invalid("stations.utc_offset_minutes must be within ±24 h".into())
        })
    }
}

pub fn pool(common: &kit::CommonSettings) -> Result<PgPool, sqlx::Error> {
    kit::db::connect(&common.database, SCHEMA)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    kit::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Starts the gRPC servers, the station index, the outbox relay and the consumers.
pub async fn start(rt: &Runtime, settings: &Settings) -> Result<Running, StartError> {
    if let Some(problem) = settings.speeds().problem() {
        return Err(StartError::Invalid(problem));
    }
    let clock = settings.clock()?;
    if !(settings.visit_radius_meters.is_finite() && settings.visit_radius_meters >= 10.0) {
        return Err(StartError::Invalid(
            "stations.visit_radius_meters must be at least 10".into(),
        ));
    }
    if let Some(problem) = settings.points.problem() {
        return Err(StartError::Invalid(problem));
    }
    if let Some(problem) = settings.honours.problem() {
        return Err(StartError::Invalid(problem));
    }
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let shutdown = rt.shutdown.clone();
    let stations = app::index::Stations::default();
    if let Err(e) = stations.reload(&pool).await {
        tracing::warn!(error = %e, "station index not loaded yet; it retries");
    }
    let rules = app::awards::Rules {
        points: settings.points.clone(),
        clock,
    };
    let tasks = vec![
        stations.spawn_refresher(pool.clone(), shutdown.clone()),
        rt.spawn_relay(&pool, SCHEMA, shutdown.clone()),
        kit::db::spawn_statistics(pool.clone(), shutdown.clone()),
        app::release::spawn_sweeper(
            pool.clone(),
            std::time::Duration::from_secs(settings.points.release_sweep_secs),
            shutdown.clone(),
        ),
        rt.spawn_consumer(
            &pool,
            POINTS_CONSUMER,
            subjects::governance::ALL,
            events::consume::awards::GovernanceAwards {
                rules: rules.clone(),
            },
        ),
        rt.spawn_consumer(
            &pool,
            ATTENDANCE_CONSUMER,
            subjects::education::ATTENDANCE_RECORDED,
            events::consume::awards::AttendanceAwards {
                rules: rules.clone(),
            },
        ),
        rt.spawn_consumer(
            &pool,
            ACTIVITIES_CONSUMER,
            subjects::education::ACTIVITY_ATTENDED,
            events::consume::awards::ActivityAwards {
                rules: rules.clone(),
            },
        ),
        rt.spawn_consumer(
            &pool,
            WORKERS_CONSUMER,
            subjects::organization::WORKERS,
            kit::bus::registry::WorkerEvents(events::consume::read_models::Workers),
        ),
        rt.spawn_consumer(
            &pool,
            GRIDS_CONSUMER,
            subjects::organization::GRIDS,
            events::consume::read_models::GridEvents,
        ),
        rt.spawn_consumer(
            &pool,
            COMMUNITIES_CONSUMER,
            subjects::organization::COMMUNITIES,
            kit::bus::registry::CommunityEvents(events::consume::read_models::Communities),
        ),
    ];
    let api = api::Api {
        pool: pool.clone(),
        speeds: settings.speeds(),
        clock,
        stations,
        coverage: app::coverage::CoverageCache::default(),
        county: rt.settings.county.extent,
        amenity_reports: kit::limit::RateLimit::new(
            "amenity reports",
            settings.amenity_reports_per_minute,
            std::time::Duration::from_secs(60),
        ),
        report_rules: settings.amenity_reports,
        amenity_reports_per_minute: settings.amenity_reports_per_minute,
        visit_radius_meters: settings.visit_radius_meters,
        rules,
        honours: settings.honours,
    };
    let routes = Routes::new(StationsServiceServer::new(api.clone()))
        .add_service(PointsServiceServer::new(api.clone()))
        .add_service(HonoursServiceServer::new(api));
    let serving = kit::grpc::serve(settings.listen, routes, policy::POLICIES, rt, pool).await?;
    Ok(Running::new(SCHEMA, serving, tasks))
}
