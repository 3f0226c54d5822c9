//! Checks that a request's worker exists, as governance's read model knows it: a volunteer or a
//! staff-filed tip needs a registered worker; a tip list needs a reporter known at all. A worker
//! registered a moment ago is waited for briefly, since organization's event may still be on its
//! way.

use std::time::Duration;

use sqlx::PgPool;
use tonic::Status;
use uuid::Uuid;

use crate::store;

/// How long a call waits for a registration that has not reached governance yet (an app that
/// registers a worker and at once files for them).
const REGISTRATION_GRACE: Duration = Duration::from_secs(2);

/// NOT_FOUND unless `worker` is registered or has filed tips.
pub async fn ensure_known_reporter(pool: &PgPool, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        store::is_known_reporter(pool, worker)
    })
    .await
    .map_err(|e| kit::api::internal("looking the worker up", e))?;
    if known {
        Ok(())
    } else {
        Err(kit::api::not_found("worker", worker))
    }
}

/// FAILED_PRECONDITION naming `field` unless `worker` is registered; a worker not known yet is
/// looked up again for [`REGISTRATION_GRACE`] first.
pub async fn ensure_registered(pool: &PgPool, field: &str, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        store::is_registered(pool, worker)
    })
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
