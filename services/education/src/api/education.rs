//! The `EducationService` RPCs: per call, the caller's scope, the request checked into typed
//! values, the use case, the answer.

use super::{convert::*, validate::*, *};

#[tonic::async_trait]
impl EducationService for Api {
    #[tracing::instrument(name = "CreateLearningSite", skip_all)]
    async fn create_learning_site(
        &self,
        request: Request<pb::CreateLearningSiteRequest>,
    ) -> Result<Response<pb::CreateLearningSiteResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let name = v.line("name", &r.name, NAME, true);
        let address = v.line("address", &r.address, TITLE, false);
        v.within("capacity", r.capacity, 1..=MAX_SEATS);
        let community_id = v.optional_id("community_id", &r.community_id);
        v.into_result()?;
        caller.ensure_community(community_id)?;
        if let Some(c) = community_id {
            app::registry::ensure_community(&self.pool, "community_id", c).await?;
        }
        let row = sites::create_site(
            &self.pool,
            &caller.subject,
            &r.request_id,
            &NewSite {
                name,
                community_id,
                address,
                capacity: r.capacity,
            },
        )
        .await
        .map_err(|e| internal("creating the learning site", e))?;
        Ok(Response::new(pb::CreateLearningSiteResponse {
            site: Some(site_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListLearningSites", skip_all)]
    async fn list_learning_sites(
        &self,
        request: Request<pb::ListLearningSitesRequest>,
    ) -> Result<Response<pb::ListLearningSitesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let community_id = v.optional_id("community_id", &r.community_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(c) = community_id
            && !app::registry::community_exists(&self.pool, c).await?
        {
            return Err(not_found("community", c));
        }
        let rows = store::list_sites(&self.pool, community_id, after, size)
            .await
            .map_err(|e| internal("listing learning sites", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListLearningSitesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            sites: rows.into_iter().map(site_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "AddLecturer", skip_all)]
    async fn add_lecturer(
        &self,
        request: Request<pb::AddLecturerRequest>,
    ) -> Result<Response<pb::AddLecturerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let name = v.line("name", &r.name, NAME, true);
        let department = v.line("department", &r.department, NAME, true);
        let mut expertise = Vec::new();
        if v.count("expertise", &r.expertise, MAX_TAGS) {
            for (i, t) in r.expertise.iter().enumerate() {
                expertise.push(tag(&mut v, &format!("expertise[{i}]"), t, true).to_owned());
            }
        }
        v.into_result()?;
        let row = app::catalog::add_lecturer(
            &self.pool,
            &caller.subject,
            &r.request_id,
            name,
            department,
            &kit::api::distinct(expertise),
        )
        .await
        .map_err(|e| internal("adding the lecturer", e))?;
        Ok(Response::new(pb::AddLecturerResponse {
            lecturer: Some(lecturer_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "SetLecturerAvailability", skip_all)]
    async fn set_lecturer_availability(
        &self,
        request: Request<pb::SetLecturerAvailabilityRequest>,
    ) -> Result<Response<pb::SetLecturerAvailabilityResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("lecturer_id", &r.lecturer_id)?;
        let row = store::set_lecturer_availability(&self.pool, id, r.available)
            .await
            .map_err(|e| internal("updating the lecturer", e))?
            .ok_or_else(|| not_found("lecturer", id))?;
        Ok(Response::new(pb::SetLecturerAvailabilityResponse {
            lecturer: Some(lecturer_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListLecturers", skip_all)]
    async fn list_lecturers(
        &self,
        request: Request<pb::ListLecturersRequest>,
    ) -> Result<Response<pb::ListLecturersResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let expertise = tag(&mut v, "expertise", &r.expertise, false);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let tag = (!expertise.is_empty()).then_some(expertise);
        let rows = store::list_lecturers(&self.pool, tag, r.available_only, after, size)
            .await
            .map_err(|e| internal("listing lecturers", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|l| l.id).collect();
        Ok(Response::new(pb::ListLecturersResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            lecturers: rows.into_iter().map(lecturer_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "CreateCourse", skip_all)]
    async fn create_course(
        &self,
        request: Request<pb::CreateCourseRequest>,
    ) -> Result<Response<pb::CreateCourseResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let title = v.line("title", &r.title, TITLE, true);
        let format: Option<CourseFormat> = v.enumeration("format", r.format, false);
        let theme: Option<CourseTheme> = v.enumeration("theme", r.theme, false);
        // 0: the format's usual length.
        v.within("duration_minutes", r.duration_minutes, 0..=480);
        let description = v.text("description", &r.description, DESCRIPTION, false);
        v.into_result()?;
        let (format, theme) = (format.expect("validated"), theme.expect("validated"));
        let duration = if r.duration_minutes == 0 {
            domain::default_duration_minutes(format)
        } else {
            r.duration_minutes
        };
        let row = app::catalog::add_course(
            &self.pool,
            &caller.subject,
            &r.request_id,
            &NewCourse {
                title,
                format: stored(format),
                theme: stored(theme),
                duration_minutes: duration,
                description,
            },
        )
        .await
        .map_err(|e| internal("creating the course", e))?;
        Ok(Response::new(pb::CreateCourseResponse {
            course: Some(course_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListCourses", skip_all)]
    async fn list_courses(
        &self,
        request: Request<pb::ListCoursesRequest>,
    ) -> Result<Response<pb::ListCoursesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let theme = v.enumeration::<CourseTheme>("theme", r.theme, true);
        let format = v.enumeration::<CourseFormat>("format", r.format, true);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let (theme, format) = (theme.map(stored), format.map(stored));
        let rows = store::list_courses(&self.pool, theme, format, after, size)
            .await
            .map_err(|e| internal("listing courses", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
        Ok(Response::new(pb::ListCoursesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            courses: rows.into_iter().map(course_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "ScheduleSession", skip_all)]
    async fn schedule_session(
        &self,
        request: Request<pb::ScheduleSessionRequest>,
    ) -> Result<Response<pb::ScheduleSessionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let ids = [
            v.id("course_id", &r.course_id),
            v.id("site_id", &r.site_id),
            v.id("lecturer_id", &r.lecturer_id),
        ];
        let starts_at = match &r.starts_at {
            None => {
                v.add("starts_at", "is required");
                None
            }
            Some(t) => timestamp(&mut v, "starts_at", t),
        };
        let ends_at = r
            .ends_at
            .as_ref()
            .and_then(|t| timestamp(&mut v, "ends_at", t));
        if let (Some(e), Some(s)) = (ends_at, starts_at) {
            v.check(
                e > s && e - s <= MAX_SESSION,
                "ends_at",
                "must be after starts_at, by at most 24 hours",
            );
        }
        // 0: the site's capacity.
        v.within("capacity", r.capacity, 0..=MAX_SEATS);
        let series_id = v.optional_id("series_id", &r.series_id);
        v.into_result()?;
        let site = ids[1].expect("checked");
        let community = store::site_community(&self.pool, site)
            .await
            .map_err(|e| internal("checking the caller's scope", e))?
            .ok_or_else(|| unknown("site_id", "learning site", site))?;
        caller.ensure_community(community)?;
        let row = sessions::schedule(
            &self.pool,
            &caller.subject,
            &r.request_id,
            &Booking {
                course_id: ids[0].expect("checked"),
                site_id: ids[1].expect("checked"),
                lecturer_id: ids[2].expect("checked"),
                starts_at: starts_at.expect("checked"),
                ends_at,
                capacity: r.capacity,
                series_id,
            },
        )
        .await
        .map_err(schedule_status)?;
        Ok(Response::new(pb::ScheduleSessionResponse {
            session: Some(session_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "GetSession", skip_all)]
    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| internal("loading the session", e))?;
        let row = store::session(&mut conn, id)
            .await
            .map_err(|e| internal("loading the session", e))?
            .ok_or_else(|| not_found("session", id))?;
        Ok(Response::new(pb::GetSessionResponse {
            session: Some(session_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListSessions", skip_all)]
    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let site = v.optional_id("site_id", &r.site_id);
        let lecturer = v.optional_id("lecturer_id", &r.lecturer_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        self.ensure_known(site, lecturer).await?;
        let rows = store::list_sessions(&self.pool, site, lecturer, after, size)
            .await
            .map_err(|e| internal("listing sessions", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListSessionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            sessions: rows.into_iter().map(session_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "IssueCheckInCodes", skip_all)]
    async fn issue_check_in_codes(
        &self,
        request: Request<pb::IssueCheckInCodesRequest>,
    ) -> Result<Response<pb::IssueCheckInCodesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let session = v.id("session_id", &r.session_id);
        let count = v.within("count", r.count, 1..=MAX_CODES);
        v.into_result()?;
        let session = session.expect("validated");
        self.ensure_session(&caller, session).await?;
        let (codes, from, until) =
            sessions::issue_codes(&self.pool, session, count.unsigned_abs() as usize)
                .await
                .map_err(check_in_status)?;
        Ok(Response::new(pb::IssueCheckInCodesResponse {
            codes,
            valid_from: Some(to_timestamp(from)),
            valid_until: Some(to_timestamp(until)),
        }))
    }

    #[tracing::instrument(name = "CheckIn", skip_all)]
    async fn check_in(
        &self,
        request: Request<pb::CheckInRequest>,
    ) -> Result<Response<pb::CheckInResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let session = v.id("session_id", &r.session_id);
        let worker = v.id("worker_id", &r.worker_id);
        let code = code(&mut v, &r.code);
        v.into_result()?;
        let worker = worker.expect("checked");
        if !(caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            // Staff check a worker in at a session of a site they serve.
            caller.ensure_self(WORKER, worker)?;
            self.ensure_session(&caller, session.expect("checked"))
                .await?;
        }
        app::registry::ensure_worker(&self.pool, "worker_id", worker).await?;
        let row = sessions::check_in(
            &self.pool,
            session.expect("checked"),
            worker,
            &code,
            Utc::now(),
        )
        .await
        .map_err(check_in_status)?;
        Ok(Response::new(pb::CheckInResponse {
            attendance: Some(attendance_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListAttendance", skip_all)]
    async fn list_attendance(
        &self,
        request: Request<pb::ListAttendanceRequest>,
    ) -> Result<Response<pb::ListAttendanceResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let session = v.id("session_id", &r.session_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let session = session.expect("checked");
        self.ensure_session(&caller, session).await?;
        let rows = store::list_attendance(&self.pool, session, after, size)
            .await
            .map_err(|e| internal("listing attendance", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
        Ok(Response::new(pb::ListAttendanceResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            attendances: rows.into_iter().map(attendance_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "GetLearningRecord", skip_all)]
    async fn get_learning_record(
        &self,
        request: Request<pb::GetLearningRecordRequest>,
    ) -> Result<Response<pb::GetLearningRecordResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let worker = v.id("worker_id", &r.worker_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let worker = worker.expect("checked");
        caller.ensure_self(WORKER, worker)?;
        let known = app::registry::worker_known(&self.pool, worker)
            .await
            .map_err(|e| internal("loading the learning record", e))?;
        if !known {
            return Err(not_found("worker", worker));
        }
        // Their own record whole; for staff, the sessions at the sites they serve.
        let scope = if caller.has_role(WORKER) && caller.subject == worker.to_string() {
            None
        } else {
            caller.visible().communities().map(<[Uuid]>::to_vec)
        };
        let rows = store::learning_record(&self.pool, worker, scope.as_deref(), after, size)
            .await
            .map_err(|e| internal("loading the learning record", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|(a, _)| a.id).collect();
        Ok(Response::new(pb::GetLearningRecordResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            entries: rows
                .into_iter()
                .map(|(a, s)| pb::LearningRecordEntry {
                    checked_in_at: Some(to_timestamp(a.checked_in_at)),
                    session: Some(session_to_pb(s)),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetEducationStats", skip_all)]
    async fn get_education_stats(
        &self,
        request: Request<pb::GetEducationStatsRequest>,
    ) -> Result<Response<pb::GetEducationStatsResponse>, Status> {
        let caller = caller(&request)?;
        let scope = caller.visible().communities().map(<[Uuid]>::to_vec);
        let r = request.into_inner();
        let mut v = Violations::new();
        let from = r.from.as_ref().and_then(|t| timestamp(&mut v, "from", t));
        let until = r.until.as_ref().and_then(|t| timestamp(&mut v, "until", t));
        if let (Some(f), Some(u)) = (from, until) {
            v.check(f < u, "until", "must be after from");
        }
        v.into_result()?;
        let fail = |e| internal("computing education statistics", e);
        let rows = store::sessions_between(&self.pool, scope.as_deref(), from, until)
            .await
            .map_err(fail)?;
        let (sites, lecturers) = store::counts(&self.pool, scope.as_deref())
            .await
            .map_err(fail)?;
        let mut by_theme: BTreeMap<i16, (i32, i32)> = BTreeMap::new();
        let mut by_format: BTreeMap<i16, (i32, i32)> = BTreeMap::new();
        let (mut attendances, mut seats, mut legal) = (0i32, 0i32, 0i32);
        for s in &rows {
            let att = s.attendance_count as i32;
            attendances += att;
            seats += s.capacity;
            let t = by_theme.entry(s.theme).or_default();
            *t = (t.0 + 1, t.1 + att);
            let f = by_format.entry(s.format).or_default();
            *f = (f.0 + 1, f.1 + att);
            let format =
                CourseFormat::try_from(i32::from(s.format)).unwrap_or(CourseFormat::Unspecified);
            let theme =
                CourseTheme::try_from(i32::from(s.theme)).unwrap_or(CourseTheme::Unspecified);
            if domain::is_legal_lecture(format, theme) {
                legal += 1;
            }
        }
        Ok(Response::new(pb::GetEducationStatsResponse {
            sessions: rows.len() as i32,
            attendances,
            seats,
            attendance_rate: if seats > 0 {
                f64::from(attendances) / f64::from(seats)
            } else {
                0.0
            },
            by_theme: by_theme
                .into_iter()
                .map(|(theme, (sessions, attendances))| pb::ThemeCount {
                    theme: i32::from(theme),
                    sessions,
                    attendances,
                })
                .collect(),
            by_format: by_format
                .into_iter()
                .map(|(format, (sessions, attendances))| pb::FormatCount {
                    format: i32::from(format),
                    sessions,
                    attendances,
                })
                .collect(),
            legal_lectures: legal,
            learning_sites: sites as i32,
            lecturers: lecturers as i32,
        }))
    }
}
