//! governance: tips from workers become cases routed to grids and departments; municipal grid
//! systems follow the cases (`WatchCases`) and report progress (`UpdateCase`).

pub mod api;
pub mod app;
pub mod domain;
pub mod events;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kit::{Runtime, StartError, grpc::Running};
use redsupply_proto::{
    governance::v1::{
        governance_service_server::GovernanceServiceServer,
        grid_gateway_service_server::GridGatewayServiceServer,
        volunteer_service_server::VolunteerServiceServer,
    },
    subjects,
};
use serde::Deserialize;
use sqlx::PgPool;
use tonic::service::Routes;

/// The PostgreSQL schema this service owns, and its name on the bus.
pub const SCHEMA: &str = "governance";
pub const DISPATCH_CONSUMER: &str = "governance-dispatch";
pub const GRIDS_CONSUMER: &str = "governance-grids";
pub const WORKERS_CONSUMER: &str = "governance-workers";
/// Connections of the case feed's own pool (sequencer and fan-out), besides the service's pool.
const FEED_CONNECTIONS: u32 = 2;

/// This service's migrations (public for tests that stop a database at an older version).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    pub routing: domain::RoutingSettings,
    /// How often the case feed looks for changes it was not notified of (once per process).
    #[serde(default = "default_watch_poll_ms")]
    pub watch_poll_ms: u64,
    /// How often an idle `WatchCases` stream gets a heartbeat with its cursor.
    #[serde(default = "default_watch_heartbeat_secs")]
    pub watch_heartbeat_secs: u64,
    /// `WatchCases` streams one caller (token subject) may hold open at once per replica; 0: no
    /// limit.
    #[serde(default = "default_watch_streams_per_caller")]
    pub watch_streams_per_caller: usize,
    /// Prefix of case numbers (JJ-2026-000123).
    pub county_code: String,
    /// Tips one reporter may submit per minute; 0: no limit.
    #[serde(default)]
    pub tips_per_minute: u32,
    /// How long tip intake waits after a tip arrives for others to share its commit (ms); 0:
    /// only those already waiting.
    #[serde(default = "default_intake_linger_ms")]
    pub intake_linger_ms: u64,
    pub escalation_sweep_secs: u64,
    pub merge: domain::MergeSettings,
    /// How long after closing staff (or the reporter saying "not fixed") may reopen a case.
    #[serde(default = "default_reopen_window_days")]
    pub reopen_window_days: u32,
    /// The county's offset from UTC (case numbers follow its calendar year).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_minutes: i32,
}

fn default_utc_offset() -> i32 {
    480
}

fn default_intake_linger_ms() -> u64 {
    3
}

fn default_watch_poll_ms() -> u64 {
    500
}

fn default_reopen_window_days() -> u32 {
    30
}

fn default_watch_heartbeat_secs() -> u64 {
    15
}

fn default_watch_streams_per_caller() -> usize {
    8
}

pub fn pool(common: &kit::CommonSettings) -> Result<PgPool, sqlx::Error> {
    kit::db::connect(&common.database, SCHEMA)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    kit::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Starts the gRPC servers, the outbox relay, the grid index, and the consumers
/// `governance-dispatch` and `governance-grids`.
pub async fn start(rt: &Runtime, settings: &Settings) -> Result<Running, StartError> {
    let pool = pool(&rt.settings)?;
    if rt.settings.database.migrate_on_start {
        migrate(&pool).await?;
    }
    let shutdown = rt.shutdown.clone();
    let grids = app::grids::Grids::default();
    if let Err(e) = grids.reload(&pool).await {
        tracing::warn!(error = %e, "grid index not loaded yet; it retries");
    }
    let feed = app::feed::Feed::default();
    let routing = Arc::new(settings.routing.clone());
    let cases = app::Cases {
        pool: pool.clone(),
        routing: routing.clone(),
        reopen_window: chrono::Duration::days(i64::from(settings.reopen_window_days)),
    };
    let mut tasks = vec![
        app::escalation::spawn_sweeper(
            pool.clone(),
            cases.clone(),
            Duration::from_secs(settings.escalation_sweep_secs.max(1)),
            shutdown.clone(),
        ),
        grids.spawn_refresher(pool.clone(), shutdown.clone()),
        // The feed's sequencer and fan-out have connections of their own: under load the API's
        // calls would otherwise queue ahead of them and every watcher would fall behind.
        feed.spawn(
            kit::db::connect(
                &kit::settings::DatabaseSettings {
                    max_connections: FEED_CONNECTIONS,
                    ..rt.settings.database.clone()
                },
                SCHEMA,
            )?,
            Duration::from_millis(settings.watch_poll_ms.max(10)),
            shutdown.clone(),
        ),
        rt.spawn_relay(&pool, SCHEMA, shutdown.clone()),
        kit::db::spawn_statistics(pool.clone(), shutdown.clone()),
    ];
    tasks.push(rt.spawn_consumer(
        &pool,
        DISPATCH_CONSUMER,
        subjects::governance::TIP_SUBMITTED,
        app::dispatch::Dispatch {
            pool: pool.clone(),
            grids: grids.clone(),
            routing: routing.clone(),
            merge: settings.merge.clone(),
            county_code: settings.county_code.clone(),
            utc_offset_minutes: settings.utc_offset_minutes,
        },
    ));
    tasks.push(rt.spawn_consumer(
        &pool,
        GRIDS_CONSUMER,
        subjects::organization::GRIDS,
        events::consume::grids::GridEvents {
            routing: routing.clone(),
        },
    ));
    tasks.push(rt.spawn_consumer(
        &pool,
        WORKERS_CONSUMER,
        subjects::organization::WORKERS,
        kit::bus::registry::WorkerEvents(events::consume::workers::Workers),
    ));

    let (intake, committers) = app::intake::Intake::spawn(
        &pool,
        settings.tips_per_minute,
        Duration::from_millis(settings.intake_linger_ms),
    );
    tasks.extend(committers);
    let api = api::Api {
        cases,
        intake,
        pool: pool.clone(),
        feed,
        shutdown: shutdown.clone(),
        watch_heartbeat: Duration::from_secs(settings.watch_heartbeat_secs.max(1)),
        county: rt.settings.county.extent,
        watch_streams: kit::limit::Slots::new(
            "WatchCases streams",
            settings.watch_streams_per_caller,
        ),
        routing,
        tips_per_minute: settings.tips_per_minute,
        grids: grids.clone(),
    };
    let routes = Routes::new(GovernanceServiceServer::new(api.clone()))
        .add_service(GridGatewayServiceServer::new(api.clone()))
        .add_service(VolunteerServiceServer::new(api::volunteers::VolunteerApi {
            pool: api.pool.clone(),
        }));
    // The counters alerts watch, at zero before their first increment.
    for counter in ["tips_rate_limited_total", "feed_undecodable_total"] {
        metrics::counter!(counter).increment(0);
    }
    for new in ["true", "false"] {
        metrics::counter!("tips_submitted_total", "new" => new).increment(0);
    }
    let serving = kit::grpc::serve(settings.listen, routes, api::POLICIES, rt, pool).await?;
    Ok(Running::new(SCHEMA, serving, tasks))
}
