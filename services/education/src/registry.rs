//! What education keeps of organization's registry: workers (consumer `education-workers`) and
//! communities (`education-communities`), applied in newer versions only, and the checks that
//! use them — a check-in for a registered worker, a learning site in a community that exists.

use std::time::Duration;

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::events::v1 as ev;
use sqlx::{PgConnection, PgPool};
use tonic::Status;
use uuid::Uuid;

pub const WORKERS_CONSUMER: &str = "education-workers";
pub const COMMUNITIES_CONSUMER: &str = "education-communities";

/// How long a call waits for a registration that has not reached education yet (a worker
/// registered on the spot at a session's door).
const REGISTRATION_GRACE: Duration = Duration::from_secs(2);

pub struct WorkerEvents;

impl Handler for WorkerEvents {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        // WorkerUpdated carries WorkerRegistered's fields 1-7, and `deleted`.
        let e: ev::WorkerUpdated = event.decode()?;
        let id = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        sqlx::query(
            "INSERT INTO workers (id, community_id, deleted, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
               SET community_id = EXCLUDED.community_id, deleted = EXCLUDED.deleted,
                   version = EXCLUDED.version
             WHERE workers.version < EXCLUDED.version",
        )
        .bind(id)
        .bind(Uuid::parse_str(&e.community_id).ok())
        .bind(e.deleted)
        .bind(e.version)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

pub struct CommunityEvents;

impl Handler for CommunityEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::CommunityUpserted = event.decode()?;
        let id = Uuid::parse_str(&e.community_id).map_err(HandlerError::permanent)?;
        sqlx::query(
            "INSERT INTO communities (id, version) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version
             WHERE communities.version < EXCLUDED.version",
        )
        .bind(id)
        .bind(e.version)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// FAILED_PRECONDITION naming `field` unless `worker` is registered (and not deleted); one not
/// known yet is looked up again for a moment first.
pub async fn ensure_worker(pool: &PgPool, field: &str, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1 AND NOT deleted)")
            .bind(worker)
            .fetch_one(pool)
    })
    .await
    .map_err(|e| kit::api::internal("looking the worker up", e))?;
    if known {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "{field}: worker {worker} is not registered (or was deleted)"
    )))
}

/// Whether education knows anything of `worker`: a registration or an attendance.
pub async fn worker_known(pool: &PgPool, worker: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workers WHERE id = $1)
             OR EXISTS (SELECT 1 FROM attendances WHERE worker_id = $1)",
    )
    .bind(worker)
    .fetch_one(pool)
    .await
}

/// FAILED_PRECONDITION naming `field` unless the community exists.
pub async fn ensure_community(pool: &PgPool, field: &str, community: Uuid) -> Result<(), Status> {
    if community_exists(pool, community).await? {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "{field}: community {community} does not exist"
    )))
}

/// Whether the community exists: announced, or the community of a registered worker (which
/// organization checked); one created seconds ago is waited for a moment.
pub async fn community_exists(pool: &PgPool, community: Uuid) -> Result<bool, Status> {
    kit::api::known_within(REGISTRATION_GRACE, community, || {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)
                 OR EXISTS (SELECT 1 FROM workers WHERE community_id = $1)",
        )
        .bind(community)
        .fetch_one(pool)
    })
    .await
    .map_err(|e| kit::api::internal("looking the community up", e))
}
