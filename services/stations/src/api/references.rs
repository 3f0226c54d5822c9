//! Ids a request names that must exist. Stations learns organization's workers and communities
//! from its events (`read_models`): a write naming one it does not know is refused with
//! FAILED_PRECONDITION naming the field, checked in the write's own transaction; a read of an id
//! stations knows nothing of answers NOT_FOUND, as the contract says. A station's name is unique:
//! a second one answers ALREADY_EXISTS naming the field.

use kit::api::{internal, is_unique_violation, not_found};
use sqlx::PgConnection;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::store;

/// The unique constraint on `stations.name`.
const STATION_NAME_KEY: &str = "stations_name_key";

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

/// ALREADY_EXISTS naming `field`, with the field in the details as a bad request names it.
pub fn already_exists(field: &str, description: &str) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, description);
    Status::with_error_details(
        Code::AlreadyExists,
        format!("{field}: {description}"),
        details,
    )
}

/// A failed station write: a taken name is the caller's (ALREADY_EXISTS on `station.name`).
pub fn station_write(e: sqlx::Error) -> Status {
    if is_unique_violation(&e, STATION_NAME_KEY) {
        already_exists("station.name", "another station has this name")
    } else {
        internal("saving the station", e)
    }
}

fn lookup(e: sqlx::Error) -> Status {
    internal("checking a reference", e)
}

/// A worker a write names: registered with organization.
pub async fn registered_worker(
    tx: &mut PgConnection,
    field: &str,
    worker: Uuid,
) -> Result<(), Status> {
    if store::worker_registered(tx, worker).await.map_err(lookup)? {
        Ok(())
    } else {
        Err(unknown(field, "worker", worker, "is not registered"))
    }
}

/// A community a write names: one organization announced.
pub async fn known_community(
    tx: &mut PgConnection,
    field: &str,
    community: Uuid,
) -> Result<(), Status> {
    if store::community_known(tx, community)
        .await
        .map_err(lookup)?
    {
        Ok(())
    } else {
        Err(unknown(field, "community", community, "does not exist"))
    }
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
