//! The worker read model: organization's worker events land in `workers` (consumer
//! `governance-workers`), so governance refuses a volunteer or a staff-filed tip for someone who
//! is not registered, or whose record was deleted.

use std::time::Duration;

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::{PgConnection, PgPool};
use tonic::Status;
use uuid::Uuid;

/// Consumer `governance-workers`: applies `WorkerRegistered` and `WorkerUpdated`.
pub struct WorkerEvents;

impl Handler for WorkerEvents {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        // WorkerUpdated carries WorkerRegistered's fields 1-7, and `deleted` (a registration
        // decodes with deleted = false).
        let e: ev::WorkerUpdated = event.decode()?;
        let id = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let community = Uuid::parse_str(&e.community_id).ok();
        sqlx::query(
            "INSERT INTO workers (id, community_id, deleted, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
               SET community_id = EXCLUDED.community_id, deleted = EXCLUDED.deleted,
                   version = EXCLUDED.version
             WHERE workers.version < EXCLUDED.version",
        )
        .bind(id)
        .bind(community)
        .bind(e.deleted)
        .bind(e.version)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Whether `worker` is registered and not deleted, as far as governance has heard.
pub async fn is_registered(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1 AND NOT deleted)")
        .bind(worker)
        .fetch_one(pool)
        .await
}

/// NOT_FOUND unless `worker` is registered or has filed tips (tips may arrive before the
/// registration does).
pub async fn ensure_known_reporter(pool: &PgPool, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)
                 OR EXISTS (SELECT 1 FROM tips WHERE reporter_id = $1)",
        )
        .bind(worker)
        .fetch_one(pool)
    })
    .await
    .map_err(|e| kit::api::internal("looking the worker up", e))?;
    if known {
        Ok(())
    } else {
        Err(kit::api::not_found("worker", worker))
    }
}

/// How long a call waits for a registration that has not reached governance yet (an app that
/// registers a worker and at once files for them).
const REGISTRATION_GRACE: Duration = Duration::from_secs(2);

/// FAILED_PRECONDITION naming `field` unless `worker` is registered; a worker not known yet is
/// looked up again for [`REGISTRATION_GRACE`] first.
pub async fn ensure_registered(pool: &PgPool, field: &str, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || is_registered(pool, worker))
        .await
        .map_err(|e| kit::api::internal("looking the worker up", e))?;
    if known {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "{field}: worker {worker} is not registered (or was deleted); a worker registered a \
         moment ago becomes known within seconds"
    )))
}
