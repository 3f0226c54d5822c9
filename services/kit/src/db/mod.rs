//! The PostgreSQL pool and migrations. Each service owns one schema: its pool's `search_path` points
//! there, and its migrations (with the bus tables this kit adds) are tracked in that schema. The
//! submodules hold what every store shares: the one LISTEN loop, the one classification of
//! database failures, and the create-once-by-`request_id` step.

mod failure;
mod listen;
mod once;
mod statistics;
mod sweep;

pub use failure::{StoreFailure, classify};
pub use listen::{spawn_listener, spawn_wakeups};
pub use once::create_once;
pub use statistics::{analyze_grown, spawn_statistics};
pub use sweep::try_sweep_lock;

use std::str::FromStr;

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::settings::DatabaseSettings;

/// The outbox, inbox and dead-letter tables every service has in its own schema.
static BUS_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A lazy pool whose connections live in `schema`: a service starts while the database is away and
/// reports NOT_SERVING until it answers.
pub fn connect(settings: &DatabaseSettings, schema: &str) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(settings.url.expose())?
        .options([
            ("search_path", schema.to_owned()),
            (
                "statement_timeout",
                settings.statement_timeout_ms.to_string(),
            ),
            (
                "idle_in_transaction_session_timeout",
                settings.idle_in_transaction_timeout_ms.to_string(),
            ),
        ])
        .application_name(&format!("redsupply-{schema}"));
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout())
        .connect_lazy_with(options))
}

/// Begins a transaction whose statements run on generic plans, planned once per connection.
///
/// For the hot paths (consumers, intake) whose statements have one shape and bind arrays: on a
/// custom plan PostgreSQL plans each call again, and measured under load that planning cost
/// half as much as the execution. `SET LOCAL` ends with the transaction, so the pool's other
/// users keep the default; and the `SET` travels with the `BEGIN` (one round trip).
pub async fn begin_generic(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .await
}

/// A pool of `max_connections` beside `pool` (same database, schema and settings) whose
/// sessions also set `settings`: for a hot path that holds connections of its own (the outbox
/// relay, tip intake).
pub fn side_pool(pool: &PgPool, max_connections: u32, settings: &[(&str, &str)]) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options(settings.iter().copied());
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with(options)
}

/// A [`side_pool`] whose statements always run on generic plans: for a hot path that runs only
/// statements of one shape each (see [`begin_generic`]).
pub fn generic_plans_pool(pool: &PgPool, max_connections: u32) -> PgPool {
    side_pool(
        pool,
        max_connections,
        &[("plan_cache_mode", "force_generic_plan")],
    )
}

/// Applies the bus tables and then the service's own migrations (versions 100 and up) to `schema`.
pub async fn migrate(pool: &PgPool, schema: &str, service: &Migrator) -> Result<(), MigrateError> {
    let migrations: Vec<_> = BUS_MIGRATIONS
        .iter()
        .chain(service.iter())
        .cloned()
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.create_schema(schema.to_owned());
    migrator.dangerous_set_table_name(format!("{schema}._sqlx_migrations"));
    // A migration may rewrite a large table: no statement limit on its connection, which is then
    // closed rather than returned to the pool.
    let mut conn = pool.acquire().await?.detach();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    migrator.run(&mut conn).await
}
