//! Activities against the real stack: announced by the staff whose community they belong to, at
//! one place; seats held by sign-ups and taken by walk-ins only while free; check-in with the
//! single-use codes sessions use, once per worker; points for attendance by kind; the figures; and
//! a themed lecture series whose sessions and events are counted from data.

use chrono::{Datelike, Duration, Utc};
use kit::{auth::with_bearer, time::to_timestamp};
use redsupply_proto::{
    education::v1::{
        self as pb, ActivityKind, CourseFormat, CourseTheme,
        activity_service_client::ActivityServiceClient,
    },
    roles,
};
use redsupply_tests::{TestApp, assert_invalid, eventually, rid};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

type Activities = ActivityServiceClient<Channel>;

async fn activities(app: &TestApp) -> Activities {
    ActivityServiceClient::new(app.channel(redsupply::ServiceName::Education).await)
}

async fn site(app: &TestApp, community: Option<Uuid>, capacity: i32) -> String {
    app.education()
        .await
        .create_learning_site(with_bearer(
            pb::CreateLearningSiteRequest {
                request_id: rid(),
                name: "Yingchun Xiao Ge Xue Ba".into(),
                community_id: community.map(|c| c.to_string()).unwrap_or_default(),
                capacity,
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .expect("a learning site")
        .into_inner()
        .site
        .unwrap()
        .id
}

/// A weekend class at `site`, organized by `community`, starting in five minutes.
fn weekend_class(site: &str, community: Uuid, capacity: i32) -> pb::CreateActivityRequest {
    let starts = Utc::now() + Duration::minutes(5);
    pb::CreateActivityRequest {
        request_id: rid(),
        kind: ActivityKind::WeekendClass as i32,
        title: "Weekend class: first aid on the road".into(),
        organizer_community_id: community.to_string(),
        site_id: site.into(),
        starts_at: Some(to_timestamp(starts)),
        ends_at: Some(to_timestamp(starts + Duration::hours(2))),
        capacity,
        ..Default::default()
    }
}

async fn create(
    client: &mut Activities,
    token: &str,
    r: pb::CreateActivityRequest,
) -> Result<pb::Activity, tonic::Status> {
    client
        .create_activity(with_bearer(r, token))
        .await
        .map(|r| r.into_inner().activity.unwrap())
}

async fn sign_up(
    client: &mut Activities,
    token: &str,
    activity: &str,
    worker: Uuid,
) -> Result<pb::ActivitySignUp, tonic::Status> {
    client
        .sign_up_for_activity(with_bearer(
            pb::SignUpForActivityRequest {
                activity_id: activity.into(),
                worker_id: worker.to_string(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().sign_up.unwrap())
}

async fn check_in(
    client: &mut Activities,
    token: &str,
    activity: &str,
    worker: Uuid,
    code: &str,
) -> Result<pb::ActivityAttendance, tonic::Status> {
    client
        .check_in_to_activity(with_bearer(
            pb::CheckInToActivityRequest {
                activity_id: activity.into(),
                code: code.into(),
                worker_id: worker.to_string(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().attendance.unwrap())
}

async fn codes(client: &mut Activities, token: &str, activity: &str, count: i32) -> Vec<String> {
    client
        .issue_activity_check_in_codes(with_bearer(
            pb::IssueActivityCheckInCodesRequest {
                activity_id: activity.into(),
                count,
            },
            token,
        ))
        .await
        .expect("codes")
        .into_inner()
        .codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activitys_seats_hold_through_sign_ups_walk_ins_and_check_ins_and_attendance_earns_points()
 {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut client = activities(&app).await;
    let community = app.create_community("Yingchun").await;
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "staff", &[community], &[]);
    let elsewhere = app.scoped_token(roles::COMMUNITY_ADMIN, "other", &[Uuid::now_v7()], &[]);
    let site = site(&app, Some(community), 40).await;

    // Announced by the community's staff, with its community; a retry announces nothing new.
    let request = weekend_class(&site, community, 2);
    let class = create(&mut client, &staff, request.clone()).await.unwrap();
    assert_eq!(class.community_id, community.to_string());
    assert_eq!(
        create(&mut client, &staff, request.clone())
            .await
            .unwrap()
            .id,
        class.id
    );
    let outside = create(&mut client, &elsewhere, weekend_class(&site, community, 2))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied, "{outside:?}");

    // Bad input is refused by field.
    let bad = |f: fn(&mut pb::CreateActivityRequest)| {
        let mut r = weekend_class(&site, community, 2);
        f(&mut r);
        r
    };
    let cases: [(pb::CreateActivityRequest, &str); 7] = [
        (bad(|r| r.site_id.clear()), "site_id"),
        (bad(|r| r.address = "Yingchun square".into()), "address"),
        (bad(|r| r.kind = 0), "kind"),
        (bad(|r| r.capacity = 0), "capacity"),
        (bad(|r| r.ends_at = r.starts_at), "ends_at"),
        (
            bad(|r| r.kind = ActivityKind::ThemedLectureSeries as i32),
            "series_id",
        ),
        (bad(|r| r.capacity = 41), "capacity"),
    ];
    for (r, field) in cases {
        assert_invalid(create(&mut client, &staff, r).await.unwrap_err(), field);
    }
    let nowhere = bad(|r| {
        r.site_id.clear();
        r.station_id = Uuid::now_v7().to_string();
    });
    let e = create(&mut client, &admin, nowhere).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // Two seats: held by the first two sign-ups; a cancellation frees one.
    let mut workers = Vec::new();
    for name in ["Rider An", "Rider Bo", "Rider Cai"] {
        workers.push(app.register_worker_in(Some(community), name).await);
    }
    let [(a, a_token), (b, b_token), (c, c_token)] = [0, 1, 2].map(|i| workers[i].clone());
    sign_up(&mut client, &a_token, &class.id, a).await.unwrap();
    sign_up(&mut client, &b_token, &class.id, b).await.unwrap();
    let full = sign_up(&mut client, &c_token, &class.id, c)
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::FailedPrecondition, "{full:?}");
    let again = sign_up(&mut client, &a_token, &class.id, a).await.unwrap();
    assert_eq!(again.version, 1, "signing up twice changes nothing");
    let for_other = sign_up(&mut client, &a_token, &class.id, c)
        .await
        .unwrap_err();
    assert_eq!(for_other.code(), Code::PermissionDenied);
    let cancelled = client
        .cancel_activity_sign_up(with_bearer(
            pb::CancelActivitySignUpRequest {
                activity_id: class.id.clone(),
                worker_id: a.to_string(),
            },
            &a_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .sign_up
        .unwrap();
    assert!(cancelled.cancelled_at.is_some());
    sign_up(&mut client, &c_token, &class.id, c).await.unwrap();

    // Check-in: the signed-up into their seats; a walk-in finds none free.
    let issued = codes(&mut client, &staff, &class.id, 3).await;
    assert_eq!(issued.len(), 3);
    let not_theirs = client
        .issue_activity_check_in_codes(with_bearer(
            pb::IssueActivityCheckInCodesRequest {
                activity_id: class.id.clone(),
                count: 1,
            },
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::PermissionDenied);
    let seen_b = check_in(&mut client, &b_token, &class.id, b, &issued[0])
        .await
        .unwrap();
    assert!(seen_b.signed_up);
    let retry = check_in(&mut client, &b_token, &class.id, b, &issued[0])
        .await
        .unwrap();
    assert_eq!(retry.id, seen_b.id, "a retry answers the same attendance");
    let walk_in = check_in(&mut client, &a_token, &class.id, a, &issued[1])
        .await
        .unwrap_err();
    assert_eq!(walk_in.code(), Code::FailedPrecondition, "{walk_in:?}");
    let used = check_in(&mut client, &c_token, &class.id, c, &issued[0])
        .await
        .unwrap_err();
    assert_eq!(
        used.code(),
        Code::FailedPrecondition,
        "a used code: {used:?}"
    );
    assert_invalid(
        check_in(&mut client, &c_token, &class.id, c, "ABCDEFGH")
            .await
            .unwrap_err(),
        "code",
    );
    check_in(&mut client, &c_token, &class.id, c, &issued[1])
        .await
        .unwrap();

    // A department's free clinic at an address is the county's: community staff do not run it.
    let starts = Utc::now() + Duration::minutes(1);
    let clinic = create(
        &mut client,
        &admin,
        pb::CreateActivityRequest {
            request_id: rid(),
            kind: ActivityKind::FreeClinic as i32,
            title: "Free health check for couriers".into(),
            organizer_department: "county_hospital".into(),
            address: "Jiajiang bus station square".into(),
            starts_at: Some(to_timestamp(starts)),
            ends_at: Some(to_timestamp(starts + Duration::hours(3))),
            capacity: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(clinic.community_id.is_empty());
    let e = create(
        &mut client,
        &staff,
        pb::CreateActivityRequest {
            request_id: rid(),
            ..clinic_request_like(&clinic)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let clinic_codes = codes(&mut client, &admin, &clinic.id, 1).await;
    let walked_in = check_in(&mut client, &a_token, &clinic.id, a, &clinic_codes[0])
        .await
        .unwrap();
    assert!(!walked_in.signed_up);
    // A code of one activity admits to no other.
    let other_code = codes(&mut client, &admin, &clinic.id, 1).await;
    assert_invalid(
        check_in(&mut client, &a_token, &class.id, a, &other_code[0])
            .await
            .unwrap_err(),
        "code",
    );

    // A weekend class earns its points (3 by the shipped settings); a free clinic none.
    app.await_balance(b, 3).await;
    app.await_balance(c, 3).await;
    let entries = app.ledger_entries(b, &b_token).await;
    assert_eq!(entries.len(), 1, "once, whatever the retries: {entries:?}");
    assert_eq!(entries[0].reason, "activity_attended");

    let stats = client
        .get_activity_stats(with_bearer(pb::GetActivityStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (stats.activities, stats.sign_ups, stats.attendances),
        (2, 2, 3)
    );
    assert_eq!(stats.workers_reached, 3);
    let of_staff = client
        .get_activity_stats(with_bearer(pb::GetActivityStatsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        of_staff.activities, 1,
        "the county's clinic is not the community's"
    );
    let attendance = client
        .list_activity_attendance(with_bearer(
            pb::ListActivityAttendanceRequest {
                activity_id: class.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .attendances;
    assert_eq!(attendance.len(), 2);
}

/// The clinic's announcement as a new request (a community staff member trying to make one).
fn clinic_request_like(a: &pb::Activity) -> pb::CreateActivityRequest {
    pb::CreateActivityRequest {
        request_id: rid(),
        kind: a.kind,
        title: a.title.clone(),
        organizer_department: a.organizer_department.clone(),
        address: a.address.clone(),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        capacity: a.capacity,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lecture_series_counts_its_sessions_events_and_attendance_from_data() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut client = activities(&app).await;
    let mut education = app.education().await;
    let year = Utc::now().year();
    let open = pb::CreateLectureSeriesRequest {
        request_id: "fa-run".into(),
        title: "法润新业态群体".into(),
        theme: CourseTheme::LegalAid as i32,
        departments: vec!["justice_bureau".into(), "human_resources".into()],
        year,
    };
    let series = client
        .create_lecture_series(with_bearer(open.clone(), &admin))
        .await
        .unwrap()
        .into_inner()
        .series
        .unwrap();
    let again = client
        .create_lecture_series(with_bearer(open.clone(), &admin))
        .await
        .unwrap()
        .into_inner()
        .series
        .unwrap();
    assert_eq!(again.id, series.id);
    let no_theme = pb::CreateLectureSeriesRequest {
        theme: 0,
        ..open.clone()
    };
    assert_invalid(
        client
            .create_lecture_series(with_bearer(no_theme, &admin))
            .await
            .unwrap_err(),
        "theme",
    );
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "staff", &[Uuid::now_v7()], &[]);
    let by_staff = client
        .create_lecture_series(with_bearer(open, &staff))
        .await
        .unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);

    // Three lectures of the series: two held, one to come.
    let site = site(&app, None, 40).await;
    let lecturer = education
        .add_lecturer(with_bearer(
            pb::AddLecturerRequest {
                request_id: rid(),
                name: "Lawyer Wu".into(),
                department: "justice_bureau".into(),
                expertise: vec!["legal_aid".into()],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .lecturer
        .unwrap()
        .id;
    let course = education
        .create_course(with_bearer(
            pb::CreateCourseRequest {
                request_id: rid(),
                title: "Labour arbitration for riders".into(),
                format: CourseFormat::ThematicLecture as i32,
                theme: CourseTheme::LabourArbitration as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .course
        .unwrap()
        .id;
    let lecture = |days: i64, series_id: &str| pb::ScheduleSessionRequest {
        request_id: rid(),
        course_id: course.clone(),
        site_id: site.clone(),
        lecturer_id: lecturer.clone(),
        starts_at: Some(to_timestamp(Utc::now() + Duration::days(days))),
        series_id: series_id.into(),
        ..Default::default()
    };
    for days in [-20, -10, 10] {
        let s = education
            .schedule_session(with_bearer(lecture(days, &series.id), &admin))
            .await
            .unwrap()
            .into_inner()
            .session
            .unwrap();
        assert_eq!(s.series_id, series.id);
    }
    let unknown = education
        .schedule_session(with_bearer(
            lecture(30, &Uuid::now_v7().to_string()),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // A consultation day of the series at a red supply station, once education knows the station.
    let station = app.create_station("Main station", 29.74, 103.57).await;
    let starts = Utc::now() - Duration::minutes(1);
    let day = pb::CreateActivityRequest {
        request_id: rid(),
        kind: ActivityKind::ThemedLectureSeries as i32,
        title: "Legal aid consultation day".into(),
        organizer_department: "justice_bureau".into(),
        station_id: station.id.clone(),
        starts_at: Some(to_timestamp(starts)),
        ends_at: Some(to_timestamp(starts + Duration::hours(4))),
        capacity: 30,
        series_id: series.id.clone(),
        ..Default::default()
    };
    let consultation = eventually("education to learn the station", || {
        let mut c = client.clone();
        let (day, admin) = (day.clone(), admin.clone());
        async move { create(&mut c, &admin, day).await.ok() }
    })
    .await;
    assert_eq!(consultation.station_id, station.id);
    let (worker, token) = app.register_worker("Courier Ma").await;
    let code = codes(&mut client, &admin, &consultation.id, 1).await;
    check_in(&mut client, &token, &consultation.id, worker, &code[0])
        .await
        .unwrap();

    let listed = client
        .list_lecture_series(with_bearer(
            pb::ListLectureSeriesRequest {
                year,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .series;
    assert_eq!(listed.len(), 1);
    let s = &listed[0];
    assert_eq!((s.sessions_scheduled, s.sessions_held), (3, 2), "{s:?}");
    assert_eq!((s.activities_held, s.attendances), (1, 1), "{s:?}");
    let by_series = client
        .list_activities(with_bearer(
            pb::ListActivitiesRequest {
                series_id: series.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(by_series.len(), 1);
    assert_eq!(by_series[0].attendance_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_correct_or_cancel_an_activity_until_it_starts_and_a_cancelled_one_takes_nobody() {
    let app = TestApp::spawn().await;
    let mut client = activities(&app).await;
    let community = app.create_community("Qingyi").await;
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "staff", &[community], &[]);
    let elsewhere = app.scoped_token(roles::COMMUNITY_ADMIN, "other", &[Uuid::now_v7()], &[]);
    let site = site(&app, Some(community), 10).await;
    // Two hours ahead: its check-in (a quarter of an hour before) has not opened.
    let mut announced = weekend_class(&site, community, 3);
    let at = Utc::now() + Duration::hours(2);
    announced.starts_at = Some(to_timestamp(at));
    announced.ends_at = Some(to_timestamp(at + Duration::hours(2)));
    let class = create(&mut client, &staff, announced).await.unwrap();
    let mut workers = Vec::new();
    for name in ["Rider Su", "Rider Fang"] {
        let (w, token) = app.register_worker_in(Some(community), name).await;
        sign_up(&mut client, &token, &class.id, w).await.unwrap();
        workers.push((w, token));
    }

    let base = client.clone();
    let starts = Utc::now() + Duration::days(1);
    let correction = |capacity: i32, version: i64| pb::UpdateActivityRequest {
        activity_id: class.id.clone(),
        expected_version: version,
        title: "Weekend class: first aid on the road (moved to Sunday)".into(),
        description: "Bring your helmet.".into(),
        starts_at: Some(to_timestamp(starts)),
        ends_at: Some(to_timestamp(starts + Duration::hours(2))),
        capacity,
    };
    let update = |r: pb::UpdateActivityRequest, token: &str| {
        let mut c = base.clone();
        let req = with_bearer(r, token);
        async move {
            c.update_activity(req)
                .await
                .map(|r| r.into_inner().activity.unwrap())
        }
    };
    let err = update(correction(5, 0), &elsewhere).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Two hold seats: the capacity stays at least 2; at the site at most its 10 seats.
    assert_invalid(
        update(correction(1, 0), &staff).await.unwrap_err(),
        "capacity",
    );
    assert_invalid(
        update(correction(11, 0), &staff).await.unwrap_err(),
        "capacity",
    );
    let mut past = correction(5, 0);
    past.starts_at = Some(to_timestamp(Utc::now() - Duration::hours(1)));
    past.ends_at = Some(to_timestamp(Utc::now() + Duration::hours(1)));
    assert_invalid(update(past, &staff).await.unwrap_err(), "starts_at");
    let stale = update(correction(5, class.version + 1), &staff)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let moved = update(correction(5, class.version), &staff).await.unwrap();
    assert_eq!(moved.version, class.version + 1);
    assert_eq!(moved.capacity, 5);
    assert_eq!(moved.sign_ups, 2, "the sign-ups keep their seats");
    let again = update(correction(5, class.version), &staff).await.unwrap();
    assert_eq!(
        again.version, moved.version,
        "the same correction writes nothing"
    );

    // Cancelled with a reason, once; then it takes no sign-ups, codes or corrections.
    let cancel = |reason: &str, version: i64| {
        let mut c = base.clone();
        let req = with_bearer(
            pb::CancelActivityRequest {
                activity_id: class.id.clone(),
                reason: reason.into(),
                expected_version: version,
            },
            &staff,
        );
        async move {
            c.cancel_activity(req)
                .await
                .map(|r| r.into_inner().activity.unwrap())
        }
    };
    assert_invalid(cancel(" ", 0).await.unwrap_err(), "reason");
    let cancelled = cancel("The trainer is ill", moved.version).await.unwrap();
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!(cancelled.cancel_reason, "The trainer is ill");
    assert_eq!(
        cancel("The trainer is ill", moved.version)
            .await
            .unwrap()
            .version,
        cancelled.version,
        "a retry cancels nothing more"
    );
    let (late, late_token) = app.register_worker_in(Some(community), "Rider Late").await;
    let err = sign_up(&mut client, &late_token, &class.id, late)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = client
        .issue_activity_check_in_codes(with_bearer(
            pb::IssueActivityCheckInCodesRequest {
                activity_id: class.id.clone(),
                count: 1,
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = update(correction(6, 0), &staff).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // A class whose check-in opened (it starts in five minutes) is no longer changed.
    let soon = create(&mut client, &staff, weekend_class(&site, community, 3))
        .await
        .unwrap();
    let mut moving = correction(5, 0);
    moving.activity_id = soon.id.clone();
    let err = update(moving, &staff).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // The figures leave it out; the bus says it was cancelled, and why.
    let stats = client
        .get_activity_stats(with_bearer(pb::GetActivityStatsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.activities, 1, "only the class still on: {stats:?}");
    let changed = eventually("the cancellation on the bus", || async {
        let events: Vec<redsupply_proto::events::v1::ActivityChanged> = app
            .published(
                "education",
                redsupply_proto::subjects::education::ACTIVITY_CHANGED,
            )
            .await;
        events
            .into_iter()
            .find(|e| e.activity_id == class.id && e.cancelled)
    })
    .await;
    assert_eq!(changed.reason, "The trainer is ill");
    assert_eq!(changed.version, cancelled.version);
    assert_eq!(changed.changed_by, "staff");
    assert!(changed.title.ends_with("(moved to Sunday)"));
}
