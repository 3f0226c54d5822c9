//! The references education checks against what it keeps of organization's registry: a
//! check-in for a registered worker, a learning site in a community that exists, a learning record
//! of a worker education knows.

use std::time::Duration;

use sqlx::PgPool;
use tonic::Status;
use uuid::Uuid;

use crate::store;

/// How long a call waits for a registration that has not reached education yet (a worker
/// registered on the spot at a session's door).
const REGISTRATION_GRACE: Duration = Duration::from_secs(2);

/// FAILED_PRECONDITION naming `field` unless `worker` is registered (and not deleted); one not
/// known yet is looked up again for a moment first.
pub async fn ensure_worker(pool: &PgPool, field: &str, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        store::worker_registered(pool, worker)
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
    store::worker_known(pool, worker).await
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
        store::community_known(pool, community)
    })
    .await
    .map_err(|e| kit::api::internal("looking the community up", e))
}
