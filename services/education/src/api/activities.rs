//! The `ActivityService` RPCs: per call, the caller's scope, the request checked into typed
//! values, the use case (`app::activities`), the answer.

use super::{convert::*, validate::*, *};
use crate::{
    app::activities::{self, ActivityError},
    store::{ActivityFilter, NewActivity, NewSeries},
};
use redsupply_proto::education::v1::{ActivityKind, activity_service_server::ActivityService};

/// Most departments running one lecture series.
const MAX_DEPARTMENTS: usize = 10;

pub(super) fn activity_status(e: ActivityError) -> Status {
    match e {
        ActivityError::Cancelled(_) | ActivityError::CheckInOpened(_) => {
            Status::failed_precondition(e.to_string())
        }
        ActivityError::Stale { .. } => Status::aborted(e.to_string()),
        ActivityError::BelowSignUps { .. } => invalid("capacity", e.to_string()),
        ActivityError::InThePast => invalid("starts_at", e.to_string()),
        ActivityError::UnknownActivity(id) => not_found("activity", id),
        ActivityError::UnknownSeries(id) => unknown("series_id", "lecture series", id),
        ActivityError::UnknownSite(id) => unknown("site_id", "learning site", id),
        ActivityError::UnknownStation(id) => unknown("station_id", "station", id),
        ActivityError::RetiredStation(_) => invalid("station_id", e.to_string()),
        ActivityError::OverCapacity { .. } => invalid("capacity", e.to_string()),
        ActivityError::WrongCode => invalid("code", e.to_string()),
        ActivityError::Started(_)
        | ActivityError::Full { .. }
        | ActivityError::NotSignedUp
        | ActivityError::OutsideWindow { .. }
        | ActivityError::CodeUsed => Status::failed_precondition(e.to_string()),
        ActivityError::Database(db) => internal("handling the activity", db),
    }
}

/// An optional time of a request, or a violation of `field`.
fn optional_time(
    v: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<Utc>> {
    value.and_then(|t| timestamp(v, field, t))
}

impl Api {
    /// PERMISSION_DENIED unless the activity's community is the caller's; NOT_FOUND without it.
    pub(super) async fn ensure_activity(
        &self,
        caller: &Caller,
        activity: Uuid,
    ) -> Result<(), Status> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("checking the caller's scope", e))?;
        let a = store::activity(&mut conn, activity)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
            .ok_or_else(|| not_found("activity", activity))?;
        caller.ensure_community(a.community_id)
    }

    /// A worker acts for themselves; staff for workers at an activity they serve.
    async fn ensure_attendee(
        &self,
        caller: &Caller,
        activity: Uuid,
        worker: Uuid,
    ) -> Result<(), Status> {
        if !(caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            caller.ensure_self(WORKER, worker)?;
            self.ensure_activity(caller, activity).await?;
        }
        app::registry::ensure_worker(&self.pool, "worker_id", worker).await
    }
}

#[tonic::async_trait]
impl ActivityService for Api {
    #[tracing::instrument(name = "CreateLectureSeries", skip_all)]
    async fn create_lecture_series(
        &self,
        request: Request<pb::CreateLectureSeriesRequest>,
    ) -> Result<Response<pb::CreateLectureSeriesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let title = v.line("title", &r.title, TITLE, true);
        let theme: Option<CourseTheme> = v.enumeration("theme", r.theme, false);
        v.within("year", r.year, 2000..=2100);
        let mut departments = Vec::new();
        if v.count("departments", &r.departments, MAX_DEPARTMENTS) {
            for (i, d) in r.departments.iter().enumerate() {
                departments.push(tag(&mut v, &format!("departments[{i}]"), d, true).to_owned());
            }
        }
        v.into_result()?;
        let row = activities::create_series(
            &self.pool,
            &caller.subject,
            &r.request_id,
            &NewSeries {
                title,
                theme: stored(theme.expect("validated")),
                departments: &kit::api::distinct(departments),
                year: r.year,
            },
        )
        .await
        .map_err(|e| internal("creating the lecture series", e))?;
        Ok(Response::new(pb::CreateLectureSeriesResponse {
            series: Some(series_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListLectureSeries", skip_all)]
    async fn list_lecture_series(
        &self,
        request: Request<pb::ListLectureSeriesRequest>,
    ) -> Result<Response<pb::ListLectureSeriesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        if r.year != 0 {
            v.within("year", r.year, 2000..=2100);
        }
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let year = (r.year != 0).then_some(r.year);
        let rows = store::list_series(&self.pool, year, after, size)
            .await
            .map_err(|e| internal("listing lecture series", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListLectureSeriesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            series: rows.into_iter().map(series_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "CreateActivity", skip_all)]
    async fn create_activity(
        &self,
        request: Request<pb::CreateActivityRequest>,
    ) -> Result<Response<pb::CreateActivityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let kind: Option<ActivityKind> = v.enumeration("kind", r.kind, false);
        let title = v.line("title", &r.title, TITLE, true);
        let description = v.text("description", &r.description, DESCRIPTION, false);
        let organizer_community =
            v.optional_id("organizer_community_id", &r.organizer_community_id);
        let department = v.line("organizer_department", &r.organizer_department, NAME, false);
        match (r.organizer_community_id.is_empty(), department.is_empty()) {
            (true, true) => {
                v.add(
                    "organizer_community_id",
                    "a community or a department organizes it",
                );
            }
            (false, false) => {
                v.add(
                    "organizer_department",
                    "give the community or the department, not both",
                );
            }
            _ => {}
        }
        let site = v.optional_id("site_id", &r.site_id);
        let station = v.optional_id("station_id", &r.station_id);
        let address = v.line("address", &r.address, TITLE, false);
        let places = [
            !r.site_id.is_empty(),
            !r.station_id.is_empty(),
            !address.is_empty(),
        ];
        match places.iter().filter(|p| **p).count() {
            0 => {
                v.add(
                    "site_id",
                    "a learning site, a station or an address is required",
                );
            }
            1 => {}
            _ => {
                v.add(
                    "address",
                    "give one place: a learning site, a station or an address",
                );
            }
        }
        let (starts_at, ends_at) = activity_times(&mut v, r.starts_at.as_ref(), r.ends_at.as_ref());
        v.within("capacity", r.capacity, 1..=MAX_SEATS);
        let series = v.optional_id("series_id", &r.series_id);
        if kind.is_some_and(domain::needs_series) && r.series_id.is_empty() {
            v.add(
                "series_id",
                "an event of a themed lecture series names its series",
            );
        }
        v.into_result()?;
        // Whose staff manage it: the organizer community, else the learning site's; else the
        // county's.
        let community = match (organizer_community, site) {
            (Some(c), _) => {
                app::registry::ensure_community(&self.pool, "organizer_community_id", c).await?;
                Some(c)
            }
            (None, Some(s)) => store::site_community(&self.pool, s)
                .await
                .map_err(|e| internal("checking the caller's scope", e))?
                .ok_or_else(|| unknown("site_id", "learning site", s))?,
            (None, None) => None,
        };
        caller.ensure_community(community)?;
        let row = activities::create_activity(
            &self.pool,
            &caller.subject,
            &r.request_id,
            NewActivity {
                kind: stored(kind.expect("validated")),
                title,
                description,
                organizer_community_id: organizer_community,
                organizer_department: department,
                site_id: site,
                station_id: station,
                address,
                community_id: community,
                starts_at: starts_at.expect("validated"),
                ends_at: ends_at.expect("validated"),
                capacity: r.capacity,
                series_id: series,
            },
        )
        .await
        .map_err(activity_status)?;
        Ok(Response::new(pb::CreateActivityResponse {
            activity: Some(activity_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "UpdateActivity", skip_all)]
    async fn update_activity(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Result<Response<pb::UpdateActivityResponse>, Status> {
        self.update_activity_rpc(request).await
    }

    #[tracing::instrument(name = "CancelActivity", skip_all)]
    async fn cancel_activity(
        &self,
        request: Request<pb::CancelActivityRequest>,
    ) -> Result<Response<pb::CancelActivityResponse>, Status> {
        self.cancel_activity_rpc(request).await
    }

    #[tracing::instrument(name = "GetActivity", skip_all)]
    async fn get_activity(
        &self,
        request: Request<pb::GetActivityRequest>,
    ) -> Result<Response<pb::GetActivityResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let fail = |e| internal("loading the activity", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        let row = store::activity(&mut conn, id)
            .await
            .map_err(fail)?
            .ok_or_else(|| not_found("activity", id))?;
        Ok(Response::new(pb::GetActivityResponse {
            activity: Some(activity_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListActivities", skip_all)]
    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let kind = v.enumeration::<ActivityKind>("kind", r.kind, true);
        let community = v.optional_id("community_id", &r.community_id);
        let series = v.optional_id("series_id", &r.series_id);
        let from = optional_time(&mut v, "from", r.from.as_ref());
        let until = optional_time(&mut v, "until", r.until.as_ref());
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(c) = community
            && !app::registry::community_exists(&self.pool, c).await?
        {
            return Err(not_found("community", c));
        }
        if let Some(s) = series {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| internal("checking the filter", e))?;
            if store::series(&mut conn, s)
                .await
                .map_err(|e| internal("checking the filter", e))?
                .is_none()
            {
                return Err(unknown("series_id", "lecture series", s));
            }
        }
        let filter = ActivityFilter {
            kind: kind.map(stored),
            community,
            series,
            from,
            until,
        };
        let rows = store::list_activities(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("listing activities", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
        Ok(Response::new(pb::ListActivitiesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            activities: rows.into_iter().map(activity_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "SignUpForActivity", skip_all)]
    async fn sign_up_for_activity(
        &self,
        request: Request<pb::SignUpForActivityRequest>,
    ) -> Result<Response<pb::SignUpForActivityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let activity = v.id("activity_id", &r.activity_id);
        let worker = v.id("worker_id", &r.worker_id);
        v.into_result()?;
        let (activity, worker) = (activity.expect("checked"), worker.expect("checked"));
        self.ensure_attendee(&caller, activity, worker).await?;
        let row = activities::sign_up(&self.pool, activity, worker, Utc::now())
            .await
            .map_err(activity_status)?;
        Ok(Response::new(pb::SignUpForActivityResponse {
            sign_up: Some(sign_up_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "CancelActivitySignUp", skip_all)]
    async fn cancel_activity_sign_up(
        &self,
        request: Request<pb::CancelActivitySignUpRequest>,
    ) -> Result<Response<pb::CancelActivitySignUpResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let activity = v.id("activity_id", &r.activity_id);
        let worker = v.id("worker_id", &r.worker_id);
        v.into_result()?;
        let (activity, worker) = (activity.expect("checked"), worker.expect("checked"));
        self.ensure_attendee(&caller, activity, worker).await?;
        let row = activities::cancel_sign_up(&self.pool, activity, worker, Utc::now())
            .await
            .map_err(activity_status)?;
        Ok(Response::new(pb::CancelActivitySignUpResponse {
            sign_up: Some(sign_up_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "IssueActivityCheckInCodes", skip_all)]
    async fn issue_activity_check_in_codes(
        &self,
        request: Request<pb::IssueActivityCheckInCodesRequest>,
    ) -> Result<Response<pb::IssueActivityCheckInCodesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let activity = v.id("activity_id", &r.activity_id);
        let count = v.within("count", r.count, 1..=MAX_CODES);
        v.into_result()?;
        let activity = activity.expect("validated");
        self.ensure_activity(&caller, activity).await?;
        let (codes, from, until) =
            activities::issue_codes(&self.pool, activity, count.unsigned_abs() as usize)
                .await
                .map_err(activity_status)?;
        Ok(Response::new(pb::IssueActivityCheckInCodesResponse {
            codes,
            valid_from: Some(to_timestamp(from)),
            valid_until: Some(to_timestamp(until)),
        }))
    }

    #[tracing::instrument(name = "CheckInToActivity", skip_all)]
    async fn check_in_to_activity(
        &self,
        request: Request<pb::CheckInToActivityRequest>,
    ) -> Result<Response<pb::CheckInToActivityResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let activity = v.id("activity_id", &r.activity_id);
        let worker = v.id("worker_id", &r.worker_id);
        let code = code(&mut v, &r.code);
        v.into_result()?;
        let (activity, worker) = (activity.expect("checked"), worker.expect("checked"));
        self.ensure_attendee(&caller, activity, worker).await?;
        let row = activities::check_in(&self.pool, activity, worker, &code, Utc::now())
            .await
            .map_err(activity_status)?;
        Ok(Response::new(pb::CheckInToActivityResponse {
            attendance: Some(activity_attendance_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListActivityAttendance", skip_all)]
    async fn list_activity_attendance(
        &self,
        request: Request<pb::ListActivityAttendanceRequest>,
    ) -> Result<Response<pb::ListActivityAttendanceResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let activity = v.id("activity_id", &r.activity_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let activity = activity.expect("checked");
        self.ensure_activity(&caller, activity).await?;
        let rows = store::list_activity_attendance(&self.pool, activity, after, size)
            .await
            .map_err(|e| internal("listing activity attendance", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
        Ok(Response::new(pb::ListActivityAttendanceResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            attendances: rows.into_iter().map(activity_attendance_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "GetActivityStats", skip_all)]
    async fn get_activity_stats(
        &self,
        request: Request<pb::GetActivityStatsRequest>,
    ) -> Result<Response<pb::GetActivityStatsResponse>, Status> {
        let caller = caller(&request)?;
        let scope = caller.visible().communities().map(<[Uuid]>::to_vec);
        let r = request.into_inner();
        let mut v = Violations::new();
        let from = optional_time(&mut v, "from", r.from.as_ref());
        let until = optional_time(&mut v, "until", r.until.as_ref());
        if let (Some(f), Some(u)) = (from, until) {
            v.check(f < u, "until", "must be after from");
        }
        v.into_result()?;
        let (by_kind, reached) = store::activity_figures(&self.pool, scope.as_deref(), from, until)
            .await
            .map_err(|e| internal("computing activity figures", e))?;
        let total = |pick: fn(&(i16, i64, i64, i64)) -> i64| {
            i32::try_from(by_kind.iter().map(pick).sum::<i64>()).unwrap_or(i32::MAX)
        };
        Ok(Response::new(pb::GetActivityStatsResponse {
            activities: total(|k| k.1),
            sign_ups: total(|k| k.2),
            attendances: total(|k| k.3),
            workers_reached: i32::try_from(reached).unwrap_or(i32::MAX),
            by_kind: by_kind
                .iter()
                .map(
                    |(kind, activities, sign_ups, attendances)| pb::ActivityKindCount {
                        kind: i32::from(*kind),
                        activities: i32::try_from(*activities).unwrap_or(i32::MAX),
                        sign_ups: i32::try_from(*sign_ups).unwrap_or(i32::MAX),
                        attendances: i32::try_from(*attendances).unwrap_or(i32::MAX),
                    },
                )
                .collect(),
        }))
    }
}
