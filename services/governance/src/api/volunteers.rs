//! `VolunteerService`: the "Hu Wan Jia" volunteer team over gRPC — who may call what, requests
//! into commands, and the team's use cases in `app::volunteers`.

use kit::{
    api::{Violations, internal, not_found, parse_id},
    auth::caller,
};
use redsupply_proto::{
    governance::v1::{self as pb, VolunteerRole, volunteer_service_server::VolunteerService},
    roles::WORKER,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    app::volunteers::{self, ConfirmedBy, VolunteerError},
    domain::volunteers::MAX_SERVICE_HOURS,
};

#[derive(Clone)]
pub struct VolunteerApi {
    pub pool: PgPool,
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

fn status_of(context: &str, e: VolunteerError) -> Status {
    match e {
        VolunteerError::NotFound(id) => not_found("service record", id),
        VolunteerError::Refused(why) => Status::failed_precondition(why),
        e @ VolunteerError::TooManyHours(_) => kit::api::invalid("hours", e.to_string()),
        VolunteerError::Denied(status) => status,
        VolunteerError::Store(e) => internal(context, e),
    }
}

#[tonic::async_trait]
impl VolunteerService for VolunteerApi {
    #[tracing::instrument(name = "JoinVolunteerTeam", skip_all)]
    async fn join_volunteer_team(
        &self,
        request: Request<pb::JoinVolunteerTeamRequest>,
    ) -> Result<Response<pb::JoinVolunteerTeamResponse>, Status> {
        let caller = caller(&request)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        caller.ensure_self(WORKER, worker)?;
        super::references::ensure_registered(&self.pool, "worker_id", worker).await?;
        let fail = |e| internal("joining the team", e);
        volunteers::join(&self.pool, worker).await.map_err(fail)?;
        Ok(Response::new(pb::JoinVolunteerTeamResponse {
            volunteer: volunteers::volunteer(&self.pool, worker)
                .await
                .map_err(fail)?,
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
        if !volunteers::appoint(&self.pool, worker, role, &caller.subject)
            .await
            .map_err(fail)?
        {
            return Err(Status::failed_precondition(
                "the worker has not joined the volunteer team",
            ));
        }
        Ok(Response::new(pb::AppointVolunteerRoleResponse {
            volunteer: volunteers::volunteer(&self.pool, worker)
                .await
                .map_err(fail)?,
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
        let (ids, volunteers) = volunteers::volunteers(&self.pool, role, after, size)
            .await
            .map_err(|e| internal("listing volunteers", e))?;
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
        let row = volunteers::start_service(&self.pool, worker, role, &r.request_id)
            .await
            .map_err(|e| status_of("starting the service", e))?;
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
        let row = volunteers::end_service(&self.pool, id, r.problems_solved, &note, |open| {
            caller.ensure_self(WORKER, open.worker_id)
        })
        .await
        .map_err(|e| status_of("ending the service", e))?;
        Ok(Response::new(pb::EndVolunteerServiceResponse {
            record: Some(row.to_pb()),
        }))
    }

    #[tracing::instrument(name = "ConfirmVolunteerService", skip_all)]
    async fn confirm_volunteer_service(
        &self,
        request: Request<pb::ConfirmVolunteerServiceRequest>,
    ) -> Result<Response<pb::ConfirmVolunteerServiceResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("record_id", &r.record_id);
        v.check(
            r.hours.is_finite() && (0.0..=MAX_SERVICE_HOURS).contains(&r.hours),
            "hours",
            "must be between 0 (as recorded) and 12",
        );
        v.into_result()?;
        let by = if caller.is_only(WORKER) {
            ConfirmedBy::Worker(parse_id("caller", &caller.subject)?)
        } else {
            ConfirmedBy::Staff(caller.subject.clone())
        };
        let row = volunteers::confirm_service(&self.pool, id.expect("checked"), r.hours, &by)
            .await
            .map_err(|e| status_of("confirming the service", e))?;
        Ok(Response::new(pb::ConfirmVolunteerServiceResponse {
            record: Some(row.to_pb()),
        }))
    }
}
