//! Ids a request names that must exist. Stations learns organization's workers and communities
//! from its events (`events::consume::read_models`): a write naming one it does not know is
//! refused with FAILED_PRECONDITION naming the field (checked by `app` in the write's own
//! transaction; the statuses are built here); a read of an id stations knows nothing of answers
//! NOT_FOUND, as the contract says. A station's name is unique: a second one answers
//! ALREADY_EXISTS naming the field.

use kit::api::{internal, not_found};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::store;

/// FAILED_PRECONDITION: `field` names `what` `id`, which is not known here (`why`).
pub fn unknown(field: &str, what: &str, id: Uuid, why: &str) -> Status {
    let description = format!("{what} {id} {why}");
    let details =
        ErrorDetails::with_precondition_failure_violation("UNKNOWN_REFERENCE", field, &description);
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{field}: {description}"),
        details,
    )
}

/// FAILED_PRECONDITION naming `field` with the violation `kind`.
pub fn precondition(field: &str, kind: &str, description: &str) -> Status {
    let details = ErrorDetails::with_precondition_failure_violation(kind, field, description);
    Status::with_error_details(Code::FailedPrecondition, description.to_owned(), details)
}

fn lookup(e: sqlx::Error) -> Status {
    internal("checking a reference", e)
}

/// How long a call waits for a worker or community registered a moment ago (its id is seconds
/// old) to reach stations' read models.
const REGISTRATION_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (briefly, and only for an id minted seconds ago) until stations has heard of `worker`,
/// before a write's transaction opens: a worker registered and at once at a station is served.
pub async fn settle_worker(pool: &sqlx::PgPool, worker: Uuid) -> Result<(), Status> {
    kit::api::known_within(REGISTRATION_GRACE, worker, || {
        store::worker_registered(pool, worker)
    })
    .await
    .map_err(lookup)
    .map(drop)
}

/// As [`settle_worker`], for a community.
pub async fn settle_community(pool: &sqlx::PgPool, community: Uuid) -> Result<(), Status> {
    kit::api::known_within(REGISTRATION_GRACE, community, || {
        store::community_known(pool, community)
    })
    .await
    .map_err(lookup)
    .map(drop)
}

/// A worker a read names: NOT_FOUND unless stations holds their registration or a balance (a
/// registered worker without entries yet reads a balance of 0).
pub async fn worker_to_read(pool: &sqlx::PgPool, worker: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, worker, || {
        store::worker_known(pool, worker)
    })
    .await
    .map_err(lookup)?;
    if known {
        Ok(())
    } else {
        Err(not_found("worker", worker))
    }
}

/// A community a read names: NOT_FOUND unless organization announced it.
pub async fn community_to_read(pool: &sqlx::PgPool, community: Uuid) -> Result<(), Status> {
    let known = kit::api::known_within(REGISTRATION_GRACE, community, || {
        store::community_known(pool, community)
    })
    .await
    .map_err(lookup)?;
    if known {
        Ok(())
    } else {
        Err(not_found("community", community))
    }
}
