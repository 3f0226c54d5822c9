//! The "Hu Wan Jia" volunteer team: workers join, staff appoint them to the five roles, and a
//! service runs from check-in to check-out. A finished service is published
//! (`VolunteerServiceRecorded`); once a team leader or county staff confirms it
//! (`VolunteerServiceConfirmed`) stations awards its hours. A new role is published
//! (`VolunteerRoleAppointed`) so that organization shows it.

use chrono::{DateTime, Utc};
use redsupply_proto::governance::v1 as pb;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    domain::volunteers::{ConfirmRefusal, Confirmer, confirmation, service_hours},
    events::publish,
    store::{self, ServiceRecordRow},
};

/// Why a volunteer use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum VolunteerError {
    #[error("service record {0} not found")]
    NotFound(Uuid),
    /// The team's rules do not allow it.
    #[error("{0}")]
    Refused(&'static str),
    /// More hours than the service recorded.
    #[error("at most the {0:.2} hours recorded")]
    TooManyHours(f64),
    /// The caller may not do this to this record (the check `api` passed in said so).
    #[error("{}", .0.message())]
    Denied(tonic::Status),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The member as they stand; None: not a member.
pub async fn volunteer(pool: &PgPool, worker: Uuid) -> Result<Option<pb::Volunteer>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    store::volunteer(&mut conn, worker).await
}

/// The members after `after` in id order, holding `role` (0: any).
pub async fn volunteers(
    pool: &PgPool,
    role: i16,
    after: Option<Uuid>,
    limit: i64,
) -> Result<(Vec<Uuid>, Vec<pb::Volunteer>), sqlx::Error> {
    let ids = store::volunteer_ids(pool, role, after, limit).await?;
    let mut conn = pool.acquire().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(v) = store::volunteer(&mut conn, *id).await? {
            out.push(v);
        }
    }
    Ok((ids, out))
}

/// Joins the team (idempotent). Also used by the demo seed.
pub async fn join(pool: &PgPool, worker: Uuid) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    store::insert_volunteer(&mut conn, worker).await
}

/// Appoints a role (idempotent) and announces the roles the worker now holds; false when the
/// worker is not a member. Also used by the demo seed.
pub async fn appoint(
    pool: &PgPool,
    worker: Uuid,
    role: i16,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !store::is_volunteer(&mut tx, worker).await? {
        return Ok(false);
    }
    if store::add_role(&mut tx, worker, role, by).await? {
        let roles = store::roles_of(&mut tx, worker).await?;
        publish::role_appointed(&mut tx, worker, role, &roles).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Records a whole, confirmed service at once (the demo seed's history) with its events.
pub async fn record_past_service(
    pool: &PgPool,
    worker: Uuid,
    request_id: &str,
    role: i16,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    problems_solved: i32,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let hours = service_hours(started_at, ended_at);
    let row = store::insert_finished_service(
        &mut tx,
        worker,
        request_id,
        role,
        started_at,
        ended_at,
        hours,
        problems_solved,
    )
    .await?;
    if let Some(row) = row {
        publish::service_recorded(&mut tx, &row).await?;
        // History brought in from the team's paper records was confirmed on paper.
        let row = store::confirm_service(&mut tx, row.id, "paper records", hours).await?;
        publish::service_confirmed(&mut tx, &row).await?;
    }
    tx.commit().await
}

/// Checks in: opens a service in `role` (0: none), once per `request_id`.
pub async fn start_service(
    pool: &PgPool,
    worker: Uuid,
    role: i16,
    request_id: &str,
) -> Result<ServiceRecordRow, VolunteerError> {
    let mut tx = pool.begin().await?;
    if let Some(done) = store::service_by_request(&mut tx, worker, request_id).await? {
        return Ok(done);
    }
    let member = store::volunteer(&mut tx, worker)
        .await?
        .ok_or(VolunteerError::Refused(
            "join the volunteer team before serving",
        ))?;
    if role != 0 && !member.roles.contains(&i32::from(role)) {
        return Err(VolunteerError::Refused(
            "the volunteer does not hold this role",
        ));
    }
    let row = store::open_service(&mut tx, worker, role, request_id)
        .await?
        .ok_or(VolunteerError::Refused(
            "a service is already open; check out first",
        ))?;
    tx.commit().await?;
    Ok(row)
}

/// Checks out: closes the service (a closed one is answered as it is) after `allowed` has seen
/// the open record (who may close it), and announces it.
pub async fn end_service<F>(
    pool: &PgPool,
    id: Uuid,
    problems_solved: i32,
    note: &str,
    allowed: F,
) -> Result<ServiceRecordRow, VolunteerError>
where
    F: FnOnce(&ServiceRecordRow) -> Result<(), tonic::Status>,
{
    let mut tx = pool.begin().await?;
    let open = store::lock_service(&mut tx, id)
        .await?
        .ok_or(VolunteerError::NotFound(id))?;
    if let Err(status) = allowed(&open) {
        return Err(VolunteerError::Denied(status));
    }
    if open.ended_at.is_some() {
        return Ok(open);
    }
    let now = Utc::now();
    let hours = service_hours(open.started_at, now);
    let row = store::close_service(&mut tx, id, now, hours, problems_solved, note).await?;
    publish::service_recorded(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Who asks to confirm a service: staff, or the worker with this id.
pub enum ConfirmedBy {
    Staff(String),
    Worker(Uuid),
}

/// Confirms a finished service for `hours` (0: as recorded) and announces it, once: a confirmed
/// service is answered as it is.
pub async fn confirm_service(
    pool: &PgPool,
    id: Uuid,
    hours: f64,
    by: &ConfirmedBy,
) -> Result<ServiceRecordRow, VolunteerError> {
    let mut tx = pool.begin().await?;
    let record = store::lock_service(&mut tx, id)
        .await?
        .ok_or(VolunteerError::NotFound(id))?;
    let roles: Vec<i32>;
    let (confirmer, actor) = match by {
        ConfirmedBy::Staff(subject) => (Confirmer::Staff, subject.clone()),
        ConfirmedBy::Worker(worker) => {
            roles = store::roles_of(&mut tx, *worker)
                .await?
                .into_iter()
                .map(i32::from)
                .collect();
            (
                Confirmer::Volunteer {
                    worker: *worker,
                    roles: &roles,
                },
                worker.to_string(),
            )
        }
    };
    let hours =
        confirmation(&confirmer, record.worker_id, record.hours, hours).map_err(|r| match r {
            ConfirmRefusal::NotLeader => VolunteerError::Denied(tonic::Status::permission_denied(
                "only a team leader (or county staff) confirms a shift",
            )),
            ConfirmRefusal::OwnShift => VolunteerError::Denied(tonic::Status::permission_denied(
                "a team leader does not confirm their own shift",
            )),
            ConfirmRefusal::StillOpen => {
                VolunteerError::Refused("the service is still open; check out first")
            }
            ConfirmRefusal::MoreThanRecorded(h) => VolunteerError::TooManyHours(h),
        })?;
    if record.confirmed_at.is_some() {
        return Ok(record);
    }
    let row = store::confirm_service(&mut tx, id, &actor, hours).await?;
    publish::service_confirmed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
