//! The "Hu Wan Jia" volunteer team: workers join, staff appoint them to the five roles, and a
//! service runs from check-in to check-out. A finished service is published
//! (`VolunteerServiceRecorded`) so that stations awards its hours.

use chrono::{DateTime, Utc};
use kit::{
    api::{Violations, internal, not_found, parse_id},
    auth::caller,
    bus::{NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::{
    events::v1 as ev,
    governance::v1::{self as pb, VolunteerRole, volunteer_service_server::VolunteerService},
    roles::WORKER,
};
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::events::SOURCE;

pub const SERVICE_RECORDED: &str = "redsupply.governance.volunteer.service_recorded";
pub const ROLE_APPOINTED: &str = "redsupply.governance.volunteer.role_appointed";
/// Longest service one check-out records; a forgotten check-out does not become a week of hours.
pub const MAX_SERVICE_HOURS: f64 = 12.0;

/// Hours between check-in and check-out, at most [`MAX_SERVICE_HOURS`].
pub fn service_hours(started: DateTime<Utc>, ended: DateTime<Utc>) -> f64 {
    let h = (ended - started).num_milliseconds() as f64 / 3_600_000.0;
    h.clamp(0.0, MAX_SERVICE_HOURS)
}

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    worker_id: Uuid,
    role: i16,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    hours: Option<f64>,
    problems_solved: i32,
    note: String,
}

impl RecordRow {
    fn to_pb(&self) -> pb::ServiceRecord {
        pb::ServiceRecord {
            id: self.id.to_string(),
            worker_id: self.worker_id.to_string(),
            role: i32::from(self.role),
            started_at: Some(to_timestamp(self.started_at)),
            ended_at: self.ended_at.map(to_timestamp),
            hours: self.hours.unwrap_or(0.0),
            problems_solved: self.problems_solved,
            note: self.note.clone(),
        }
    }
}

async fn volunteer(
    conn: &mut PgConnection,
    worker: Uuid,
) -> Result<Option<pb::Volunteer>, sqlx::Error> {
    let joined: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT joined_at FROM volunteers WHERE worker_id = $1")
            .bind(worker)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(joined) = joined else {
        return Ok(None);
    };
    let roles: Vec<i16> =
        sqlx::query_scalar("SELECT role FROM volunteer_roles WHERE worker_id = $1 ORDER BY role")
            .bind(worker)
            .fetch_all(&mut *conn)
            .await?;
    let hours: f64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(hours), 0)::float8 FROM service_records WHERE worker_id = $1",
    )
    .bind(worker)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(pb::Volunteer {
        worker_id: worker.to_string(),
        roles: roles.into_iter().map(i32::from).collect(),
        joined_at: Some(to_timestamp(joined)),
        hours,
    }))
}

/// Joins the team (idempotent). Also used by the demo seed.
pub async fn join(pool: &PgPool, worker: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO volunteers (worker_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(worker)
        .execute(pool)
        .await?;
    Ok(())
}

/// Appoints a role (idempotent) and announces the roles the worker now holds, so that
/// organization shows them on the worker's record. Also used by the demo seed.
pub async fn appoint(
    pool: &PgPool,
    worker: Uuid,
    role: i16,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let member: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM volunteers WHERE worker_id = $1)")
            .bind(worker)
            .fetch_one(&mut *tx)
            .await?;
    if !member {
        return Ok(false);
    }
    let added = sqlx::query(
        "INSERT INTO volunteer_roles (worker_id, role, appointed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(worker)
    .bind(role)
    .bind(by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 1 {
        let roles: Vec<i16> = sqlx::query_scalar(
            "SELECT role FROM volunteer_roles WHERE worker_id = $1 ORDER BY role",
        )
        .bind(worker)
        .fetch_all(&mut *tx)
        .await?;
        let msg = ev::VolunteerRoleAppointed {
            worker_id: worker.to_string(),
            role: i32::from(role),
            roles: roles.into_iter().map(i32::from).collect(),
            occurred_at: Some(to_timestamp(Utc::now())),
        };
        enqueue(&mut tx, NewEvent::new(SOURCE, ROLE_APPOINTED, worker, &msg)).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Records a whole service at once (the demo seed's history) with its event.
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
    let row: Option<RecordRow> = sqlx::query_as(
        "INSERT INTO service_records (id, worker_id, role, started_at, ended_at, hours, problems_solved, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (worker_id, request_id) DO NOTHING
         RETURNING id, worker_id, role, started_at, ended_at, hours, problems_solved, note",
    )
    .bind(Uuid::now_v7())
    .bind(worker)
    .bind(role)
    .bind(started_at)
    .bind(ended_at)
    .bind(hours)
    .bind(problems_solved)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = row {
        publish(&mut tx, &row).await?;
    }
    tx.commit().await
}

async fn publish(tx: &mut PgConnection, r: &RecordRow) -> Result<(), sqlx::Error> {
    let msg = ev::VolunteerServiceRecorded {
        record_id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        hours: r.hours.unwrap_or(0.0),
        started_at: Some(to_timestamp(r.started_at)),
        ended_at: r.ended_at.map(to_timestamp),
    };
    enqueue(tx, NewEvent::new(SOURCE, SERVICE_RECORDED, r.id, &msg)).await?;
    Ok(())
}

fn role_of(v: &mut Violations, value: i32, required: bool) -> i16 {
    match VolunteerRole::try_from(value) {
        Ok(VolunteerRole::Unspecified) => {
            v.check(!required, "role", "is required");
            0
        }
        Ok(r) => r as i16,
        Err(_) => {
            v.add("role", "is not a VolunteerRole");
            0
        }
    }
}

#[tonic::async_trait]
impl VolunteerService for Api {
    #[tracing::instrument(name = "JoinVolunteerTeam", skip_all)]
    async fn join_volunteer_team(
        &self,
        request: Request<pb::JoinVolunteerTeamRequest>,
    ) -> Result<Response<pb::JoinVolunteerTeamResponse>, Status> {
        let caller = caller(&request)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        caller.ensure_self(WORKER, worker)?;
        crate::workers::ensure_registered(&self.pool, "worker_id", worker).await?;
        let fail = |e| internal("joining the team", e);
        join(&self.pool, worker).await.map_err(fail)?;
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        Ok(Response::new(pb::JoinVolunteerTeamResponse {
            volunteer: volunteer(&mut conn, worker).await.map_err(fail)?,
        }))
    }

    #[tracing::instrument(name = "AppointVolunteerRole", skip_all)]
    async fn appoint_volunteer_role(
        &self,
        request: Request<pb::AppointVolunteerRoleRequest>,
    ) -> Result<Response<pb::AppointVolunteerRoleResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = Uuid::parse_str(&r.worker_id).ok();
        v.check(worker.is_some(), "worker_id", "must be a worker id (UUID)");
        let role = role_of(&mut v, r.role, true);
        v.into_result()?;
        let worker = worker.expect("checked");
        let fail = |e| internal("appointing the role", e);
        if !appoint(&self.pool, worker, role, &caller.subject)
            .await
            .map_err(fail)?
        {
            return Err(Status::failed_precondition(
                "the worker has not joined the volunteer team",
            ));
        }
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        Ok(Response::new(pb::AppointVolunteerRoleResponse {
            volunteer: volunteer(&mut conn, worker).await.map_err(fail)?,
        }))
    }

    #[tracing::instrument(name = "ListVolunteers", skip_all)]
    async fn list_volunteers(
        &self,
        request: Request<pb::ListVolunteersRequest>,
    ) -> Result<Response<pb::ListVolunteersResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let role = role_of(&mut v, r.role, false);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let fail = |e| internal("listing volunteers", e);
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT v.worker_id FROM volunteers v
             WHERE ($1 = 0 OR EXISTS (SELECT 1 FROM volunteer_roles r WHERE r.worker_id = v.worker_id AND r.role = $1))
               AND ($2::uuid IS NULL OR v.worker_id > $2)
             ORDER BY v.worker_id LIMIT $3",
        )
        .bind(role)
        .bind(after)
        .bind(size)
        .fetch_all(&self.pool)
        .await
        .map_err(fail)?;
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let mut volunteers = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(v) = volunteer(&mut conn, *id).await.map_err(fail)? {
                volunteers.push(v);
            }
        }
        Ok(Response::new(pb::ListVolunteersResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            volunteers,
        }))
    }

    #[tracing::instrument(name = "StartVolunteerService", skip_all)]
    async fn start_volunteer_service(
        &self,
        request: Request<pb::StartVolunteerServiceRequest>,
    ) -> Result<Response<pb::StartVolunteerServiceResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let worker = Uuid::parse_str(&r.worker_id).ok();
        v.check(worker.is_some(), "worker_id", "must be a worker id (UUID)");
        let role = role_of(&mut v, r.role, false);
        v.into_result()?;
        let worker = worker.expect("checked");
        caller.ensure_self(WORKER, worker)?;
        let fail = |e| internal("starting the service", e);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        if let Some(done) = sqlx::query_as::<_, RecordRow>(
            "SELECT id, worker_id, role, started_at, ended_at, hours, problems_solved, note FROM service_records
             WHERE worker_id = $1 AND request_id = $2",
        )
        .bind(worker)
        .bind(&r.request_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?
        {
            return Ok(Response::new(pb::StartVolunteerServiceResponse { record: Some(done.to_pb()) }));
        }
        let member = volunteer(&mut tx, worker)
            .await
            .map_err(fail)?
            .ok_or_else(|| Status::failed_precondition("join the volunteer team before serving"))?;
        if role != 0 && !member.roles.contains(&i32::from(role)) {
            return Err(Status::failed_precondition(
                "the volunteer does not hold this role",
            ));
        }
        let row: Option<RecordRow> = sqlx::query_as(
            "INSERT INTO service_records (id, worker_id, role, request_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING
             RETURNING id, worker_id, role, started_at, ended_at, hours, problems_solved, note",
        )
        .bind(Uuid::now_v7())
        .bind(worker)
        .bind(role)
        .bind(&r.request_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let row = row.ok_or_else(|| {
            Status::failed_precondition("a service is already open; check out first")
        })?;
        tx.commit().await.map_err(fail)?;
        Ok(Response::new(pb::StartVolunteerServiceResponse {
            record: Some(row.to_pb()),
        }))
    }

    #[tracing::instrument(name = "EndVolunteerService", skip_all)]
    async fn end_volunteer_service(
        &self,
        request: Request<pb::EndVolunteerServiceRequest>,
    ) -> Result<Response<pb::EndVolunteerServiceResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("record_id", &r.record_id);
        v.within("problems_solved", r.problems_solved, 0..=100);
        let note = v.text("note", &r.note, 500, false).to_owned();
        v.into_result()?;
        let id = id.expect("checked");
        if caller.is_only(WORKER) && r.problems_solved > 0 {
            return Err(Status::permission_denied(
                "problems solved are confirmed by staff at check-out",
            ));
        }
        let fail = |e| internal("ending the service", e);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        let open: RecordRow = sqlx::query_as(
            "SELECT id, worker_id, role, started_at, ended_at, hours, problems_solved, note FROM service_records
             WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?
        .ok_or_else(|| not_found("service record", id))?;
        caller.ensure_self(WORKER, open.worker_id)?;
        if open.ended_at.is_some() {
            return Ok(Response::new(pb::EndVolunteerServiceResponse {
                record: Some(open.to_pb()),
            }));
        }
        let now = Utc::now();
        let row: RecordRow = sqlx::query_as(
            "UPDATE service_records SET ended_at = $2, hours = $3, problems_solved = $4, note = $5 WHERE id = $1
             RETURNING id, worker_id, role, started_at, ended_at, hours, problems_solved, note",
        )
        .bind(id)
        .bind(now)
        .bind(service_hours(open.started_at, now))
        .bind(r.problems_solved)
        .bind(&note)
        .fetch_one(&mut *tx)
        .await
        .map_err(fail)?;
        publish(&mut tx, &row).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(Response::new(pb::EndVolunteerServiceResponse {
            record: Some(row.to_pb()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn service_hours_are_measured_and_capped() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!((service_hours(start, start + Duration::minutes(90)) - 1.5).abs() < 1e-9);
        assert_eq!(
            service_hours(start, start + Duration::days(3)),
            MAX_SERVICE_HOURS
        );
        assert_eq!(service_hours(start, start - Duration::minutes(5)), 0.0);
    }
}
