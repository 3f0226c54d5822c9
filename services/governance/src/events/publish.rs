//! The integration events governance publishes, built from rows and written to the outbox in the
//! change's transaction. Subjects are the shared constants of `redsupply_proto::subjects`.

use chrono::Utc;
use kit::{
    bus::{NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    subjects::governance::{
        CASE_ASSIGNED, CASE_ESCALATED, CASE_REROUTED, CASE_STATUS_CHANGED, SOURCE, TIP_CONFIRMED,
        TIP_REJECTED, TIP_SUBMITTED, VOLUNTEER_ROLE_APPOINTED, VOLUNTEER_SERVICE_CONFIRMED,
        VOLUNTEER_SERVICE_RECORDED,
    },
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::{CaseRow, ServiceRecordRow, TipRow};

/// The TipSubmitted event of a stored tip (for intake's batched outbox writes).
pub fn tip_submitted_event(tip: &TipRow) -> NewEvent {
    let msg = ev::TipSubmitted {
        tip_id: tip.id.to_string(),
        reporter_id: tip.reporter_id.to_string(),
        category: i32::from(tip.category),
        location: Some(LatLng {
            latitude: tip.latitude,
            longitude: tip.longitude,
        }),
        observed_at: Some(to_timestamp(tip.observed_at)),
        submitted_at: Some(to_timestamp(tip.submitted_at)),
        filed_by_staff: tip.submitted_by != tip.reporter_id.to_string(),
    };
    NewEvent::new(SOURCE, TIP_SUBMITTED, tip.id, &msg)
}

pub async fn case_assigned(
    tx: &mut PgConnection,
    case: &CaseRow,
    tip: &TipRow,
    merged: bool,
) -> Result<Uuid, sqlx::Error> {
    enqueue(tx, case_assigned_event(case, tip, merged)).await
}

/// The CaseAssigned event of a tip routed (or merged) into `case` at its current version.
pub fn case_assigned_event(case: &CaseRow, tip: &TipRow, merged: bool) -> NewEvent {
    let msg = ev::CaseAssigned {
        case_id: case.id.to_string(),
        tip_id: tip.id.to_string(),
        reporter_id: tip.reporter_id.to_string(),
        grid_id: case.grid_id.map(|g| g.to_string()).unwrap_or_default(),
        department: case.department.clone(),
        due_at: Some(to_timestamp(case.due_at)),
        version: case.version,
        occurred_at: Some(to_timestamp(Utc::now())),
        merged,
        number: case.number.clone().unwrap_or_default(),
        case_status: i32::from(case.status),
    };
    NewEvent::new(SOURCE, CASE_ASSIGNED, case.id, &msg)
}

pub async fn case_status_changed(
    tx: &mut PgConnection,
    case: &CaseRow,
    previous_status: i16,
    changed_by: &str,
    reporters: &[Uuid],
    tips: &[Uuid],
) -> Result<Uuid, sqlx::Error> {
    let msg = ev::CaseStatusChanged {
        case_id: case.id.to_string(),
        status: i32::from(case.status),
        note: case.note.clone(),
        changed_by: changed_by.to_owned(),
        version: case.version,
        occurred_at: Some(to_timestamp(case.updated_at)),
        reporter_ids: reporters.iter().map(Uuid::to_string).collect(),
        previous_status: i32::from(previous_status),
        public_reply: case.public_reply.clone(),
        resolution: i32::from(case.resolution),
        tip_ids: tips.iter().map(Uuid::to_string).collect(),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, CASE_STATUS_CHANGED, case.id, &msg),
    )
    .await
}

/// `reporter_keeps_case`: the reporter has another tip in the tip's case that is not rejected.
pub async fn tip_rejected(
    tx: &mut PgConnection,
    tip: &TipRow,
    reason: &str,
    rejected_by: &str,
    reporter_keeps_case: bool,
) -> Result<Uuid, sqlx::Error> {
    let msg = ev::TipRejected {
        tip_id: tip.id.to_string(),
        reporter_id: tip.reporter_id.to_string(),
        reason: reason.to_owned(),
        rejected_by: rejected_by.to_owned(),
        occurred_at: Some(to_timestamp(Utc::now())),
        case_id: tip.case_id.map(|c| c.to_string()).unwrap_or_default(),
        reporter_keeps_case,
    };
    enqueue(tx, NewEvent::new(SOURCE, TIP_REJECTED, tip.id, &msg)).await
}

/// The reporter of a resolved case says it is fixed (once per tip).
pub async fn tip_confirmed(tx: &mut PgConnection, tip: &TipRow) -> Result<Uuid, sqlx::Error> {
    let msg = ev::TipConfirmed {
        tip_id: tip.id.to_string(),
        case_id: tip.case_id.map(|c| c.to_string()).unwrap_or_default(),
        reporter_id: tip.reporter_id.to_string(),
        occurred_at: Some(to_timestamp(Utc::now())),
        filed_by_staff: tip.submitted_by != tip.reporter_id.to_string(),
    };
    enqueue(tx, NewEvent::new(SOURCE, TIP_CONFIRMED, tip.id, &msg)).await
}

pub async fn case_rerouted(
    tx: &mut PgConnection,
    before: &CaseRow,
    after: &CaseRow,
    reason: &str,
    by: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = |g: Option<Uuid>| g.map(|g| g.to_string()).unwrap_or_default();
    let msg = ev::CaseRerouted {
        case_id: after.id.to_string(),
        from_grid_id: id(before.grid_id),
        to_grid_id: id(after.grid_id),
        from_department: before.department.clone(),
        to_department: after.department.clone(),
        reason: reason.to_owned(),
        rerouted_by: by.to_owned(),
        version: after.version,
        occurred_at: Some(to_timestamp(after.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, CASE_REROUTED, after.id, &msg)).await
}

pub async fn case_escalated(tx: &mut PgConnection, case: &CaseRow) -> Result<Uuid, sqlx::Error> {
    let msg = ev::CaseEscalated {
        case_id: case.id.to_string(),
        grid_id: case.grid_id.map(|g| g.to_string()).unwrap_or_default(),
        department: case.department.clone(),
        due_at: Some(to_timestamp(case.due_at)),
        version: case.version,
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, CASE_ESCALATED, case.id, &msg)).await
}

/// A finished volunteer service, so that stations awards its hours.
pub async fn service_recorded(
    tx: &mut PgConnection,
    r: &ServiceRecordRow,
) -> Result<Uuid, sqlx::Error> {
    let msg = ev::VolunteerServiceRecorded {
        record_id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        hours: r.hours.unwrap_or(0.0),
        started_at: Some(to_timestamp(r.started_at)),
        ended_at: r.ended_at.map(to_timestamp),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, VOLUNTEER_SERVICE_RECORDED, r.id, &msg),
    )
    .await
}

/// A new role, with every role the worker now holds (organization shows them on the record).
pub async fn role_appointed(
    tx: &mut PgConnection,
    worker: Uuid,
    role: i16,
    roles: &[i16],
) -> Result<Uuid, sqlx::Error> {
    let msg = ev::VolunteerRoleAppointed {
        worker_id: worker.to_string(),
        role: i32::from(role),
        roles: roles.iter().copied().map(i32::from).collect(),
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, VOLUNTEER_ROLE_APPOINTED, worker, &msg),
    )
    .await
}

/// A finished service confirmed for its hours: what earns its points.
pub async fn service_confirmed(
    tx: &mut PgConnection,
    r: &ServiceRecordRow,
) -> Result<Uuid, sqlx::Error> {
    let msg = ev::VolunteerServiceConfirmed {
        record_id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        hours: r.confirmed_hours.unwrap_or(0.0),
        confirmed_by: r.confirmed_by.clone().unwrap_or_default(),
        occurred_at: Some(to_timestamp(r.confirmed_at.unwrap_or_else(Utc::now))),
        recorded_hours: r.hours.unwrap_or(0.0),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, VOLUNTEER_SERVICE_CONFIRMED, r.id, &msg),
    )
    .await
}
