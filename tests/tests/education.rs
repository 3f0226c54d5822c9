//! Education against the real stack: the lecturer pool, courses, sessions that refuse a double
//! booking, single-use check-in codes within the session's window, capacity under concurrent
//! check-ins, attendance and learning records, points for attendance, and the demo county's figures.

use chrono::{Duration, Utc};
use futures::future::join_all;
use kit::{auth::with_bearer, time::to_timestamp};
use redsupply_proto::{
    education::v1::{
        self as pb, CourseFormat, CourseTheme, education_service_client::EducationServiceClient,
    },
    roles,
    stations::v1::ListLedgerEntriesRequest,
};
use redsupply_tests::{TestApp, eventually};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;
use uuid::Uuid;

struct Fixture {
    client: EducationServiceClient<Channel>,
    admin: String,
    site: String,
    other_site: String,
    lecturer: String,
    other_lecturer: String,
    course: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let mut client = app.education().await;
    let admin = app.admin_token();
    let site = |name: &str, capacity: i32| {
        let mut c = client.clone();
        let admin = admin.clone();
        let name = name.to_owned();
        async move {
            c.create_learning_site(with_bearer(
                pb::CreateLearningSiteRequest {
                    request_id: name.clone(),
                    name,
                    capacity,
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .site
            .unwrap()
            .id
        }
    };
    let site_a = site("Yingchun Xiao Ge Xue Ba", 40).await;
    let site_b = site("Qingyi Xiao Ge Xue Ba", 40).await;
    let lecturer = |name: &str, tags: &[&str]| {
        let mut c = client.clone();
        let admin = admin.clone();
        let name = name.to_owned();
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        async move {
            c.add_lecturer(with_bearer(
                pb::AddLecturerRequest {
                    request_id: name.clone(),
                    name,
                    department: "justice_bureau".into(),
                    expertise: tags,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .lecturer
            .unwrap()
            .id
        }
    };
    let l1 = lecturer("Lawyer Wu", &["legal_aid", "labour_law"]).await;
    let l2 = lecturer("Officer He", &["traffic_safety"]).await;
    let course = client
        .create_course(with_bearer(
            pb::CreateCourseRequest {
                request_id: "c1".into(),
                title: "Legal aid for delivery workers".into(),
                format: CourseFormat::ThematicLecture as i32,
                theme: CourseTheme::LegalAid as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .course
        .unwrap();
    assert_eq!(
        course.duration_minutes, 60,
        "a thematic lecture's usual length"
    );
    Fixture {
        client,
        admin,
        site: site_a,
        other_site: site_b,
        lecturer: l1,
        other_lecturer: l2,
        course: course.id,
    }
}

fn booking(
    f: &Fixture,
    request_id: &str,
    site: &str,
    lecturer: &str,
    starts_in_minutes: i64,
    capacity: i32,
) -> pb::ScheduleSessionRequest {
    pb::ScheduleSessionRequest {
        request_id: request_id.into(),
        course_id: f.course.clone(),
        site_id: site.into(),
        lecturer_id: lecturer.into(),
        starts_at: Some(to_timestamp(
            Utc::now() + Duration::minutes(starts_in_minutes),
        )),
        ends_at: None,
        capacity,
        series_id: String::new(),
    }
}

async fn schedule(
    f: &Fixture,
    req: pb::ScheduleSessionRequest,
) -> Result<pb::Session, tonic::Status> {
    f.client
        .clone()
        .schedule_session(with_bearer(req, &f.admin))
        .await
        .map(|r| r.into_inner().session.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lecturer_or_a_site_booked_twice_at_once_is_refused_naming_the_clash() {
    let app = TestApp::spawn().await;
    let mut f = fixture(&app).await;
    let (site, other_site) = (f.site.clone(), f.other_site.clone());
    let (lecturer, other_lecturer) = (f.lecturer.clone(), f.other_lecturer.clone());
    let first = schedule(&f, booking(&f, "s1", &site, &lecturer, 600, 0))
        .await
        .unwrap();
    assert_eq!(first.capacity, 40, "the site's seats by default");
    let again = schedule(&f, booking(&f, "s1", &site, &lecturer, 600, 0))
        .await
        .unwrap();
    assert_eq!(again.id, first.id, "a retry is not a clash with itself");

    let err = schedule(&f, booking(&f, "s2", &other_site, &lecturer, 630, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let v = &err.get_details_precondition_failure().unwrap().violations[0];
    assert_eq!(v.r#type, "LECTURER_BOOKED");
    assert_eq!(v.subject, format!("sessions/{}", first.id));

    let err = schedule(&f, booking(&f, "s3", &site, &other_lecturer, 599, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].r#type,
        "SITE_BOOKED"
    );

    // Back to back is fine: the first ends when this one starts.
    schedule(&f, booking(&f, "s4", &site, &lecturer, 660, 0))
        .await
        .unwrap();

    let err = schedule(&f, booking(&f, "s5", &other_site, &other_lecturer, 600, 41))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "more seats than the site has"
    );

    let admin = f.admin.clone();
    f.client
        .set_lecturer_availability(with_bearer(
            pb::SetLecturerAvailabilityRequest {
                lecturer_id: other_lecturer.clone(),
                available: false,
            },
            &admin,
        ))
        .await
        .unwrap();
    let err = schedule(&f, booking(&f, "s6", &other_site, &other_lecturer, 2000, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let pool_of_legal_aid = f
        .client
        .list_lecturers(with_bearer(
            pb::ListLecturersRequest {
                expertise: "legal_aid".into(),
                available_only: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .lecturers;
    assert_eq!(pool_of_legal_aid.len(), 1);
    assert_eq!(pool_of_legal_aid[0].id, lecturer);

    let err = schedule(
        &f,
        pb::ScheduleSessionRequest {
            course_id: Uuid::now_v7().to_string(),
            ..booking(&f, "s7", &other_site, &lecturer, 5000, 0)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_checks_in_once_with_a_code_of_that_session_within_its_window() {
    let app = TestApp::spawn().await;
    let mut f = fixture(&app).await;
    let (site, other_site, lecturer, other_lecturer) = (
        f.site.clone(),
        f.other_site.clone(),
        f.lecturer.clone(),
        f.other_lecturer.clone(),
    );
    let now = schedule(&f, booking(&f, "now", &site, &lecturer, -5, 0))
        .await
        .unwrap();
    let later = schedule(
        &f,
        booking(&f, "later", &other_site, &other_lecturer, 24 * 60, 0),
    )
    .await
    .unwrap();
    let admin = f.admin.clone();
    let codes = |session: String| {
        let mut c = f.client.clone();
        let admin = admin.clone();
        async move {
            c.issue_check_in_codes(with_bearer(
                pb::IssueCheckInCodesRequest {
                    session_id: session,
                    count: 3,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .codes
        }
    };
    let now_codes = codes(now.id.clone()).await;
    let later_codes = codes(later.id.clone()).await;
    // Check-ins are for registered workers.
    let (w1, t1) = app.register_worker("Li Wei").await;
    let (w2, t2) = app.register_worker("Wang Fang").await;
    let check_in = |session: &str, worker: Uuid, code: &str, token: &str| {
        let mut c = f.client.clone();
        let req = with_bearer(
            pb::CheckInRequest {
                session_id: session.into(),
                code: code.into(),
                worker_id: worker.to_string(),
            },
            token,
        );
        async move {
            c.check_in(req)
                .await
                .map(|r| r.into_inner().attendance.unwrap())
        }
    };

    let a = check_in(&now.id, w1, &now_codes[0].to_lowercase(), &t1)
        .await
        .unwrap();
    let retry = check_in(&now.id, w1, &now_codes[0], &t1).await.unwrap();
    assert_eq!(a.id, retry.id, "a retry returns the same attendance");

    let used = check_in(&now.id, w2, &now_codes[0], &t2).await.unwrap_err();
    assert_eq!(used.code(), Code::FailedPrecondition, "{used:?}");
    let foreign = check_in(&now.id, w2, &later_codes[0], &t2)
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::InvalidArgument);
    assert_eq!(
        foreign.get_details_bad_request().unwrap().field_violations[0].field,
        "code"
    );
    let early = check_in(&later.id, w2, &later_codes[1], &t2)
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("open from"), "{}", early.message());
    let for_someone_else = check_in(&now.id, w1, &now_codes[1], &t2).await.unwrap_err();
    assert_eq!(for_someone_else.code(), Code::PermissionDenied);

    let attendance = f
        .client
        .list_attendance(with_bearer(
            pb::ListAttendanceRequest {
                session_id: now.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .attendances;
    assert_eq!(attendance.len(), 1);
    assert_eq!(attendance[0].worker_id, w1.to_string());
    let record = f
        .client
        .get_learning_record(with_bearer(
            pb::GetLearningRecordRequest {
                worker_id: w1.to_string(),
                ..Default::default()
            },
            &t1,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].session.as_ref().unwrap().id, now.id);
    assert_eq!(record[0].session.as_ref().unwrap().attendance_count, 1);

    // Stations awards the attendance.
    let points = app.points().await;
    let entry = eventually("points for the training", || {
        let mut points = points.clone();
        let t1 = t1.clone();
        async move {
            points
                .list_ledger_entries(with_bearer(
                    ListLedgerEntriesRequest {
                        worker_id: w1.to_string(),
                        ..Default::default()
                    },
                    &t1,
                ))
                .await
                .ok()?
                .into_inner()
                .entries
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(
        (entry.reason.as_str(), entry.points),
        ("training_attended", 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_holds_when_50_workers_check_in_at_once() {
    let app = TestApp::spawn().await;
    let mut f = fixture(&app).await;
    let (site, lecturer) = (f.site.clone(), f.lecturer.clone());
    let session = schedule(&f, booking(&f, "busy", &site, &lecturer, -1, 10))
        .await
        .unwrap();
    let codes = f
        .client
        .issue_check_in_codes(with_bearer(
            pb::IssueCheckInCodesRequest {
                session_id: session.id.clone(),
                count: 50,
            },
            &f.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .codes;
    assert_eq!(codes.len(), 50);
    let mut riders = Vec::with_capacity(codes.len());
    for i in 0..codes.len() {
        riders.push(app.register_worker(&format!("Rider {i}")).await);
    }
    let attempts = codes
        .into_iter()
        .zip(riders)
        .map(|(code, (worker, token))| {
            let mut c = f.client.clone();
            let session = session.id.clone();
            async move {
                c.check_in(with_bearer(
                    pb::CheckInRequest {
                        session_id: session,
                        code,
                        worker_id: worker.to_string(),
                    },
                    &token,
                ))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
            }
        });
    let results = join_all(attempts).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    let refused_full = results
        .iter()
        .filter(|r| **r == Err(Code::FailedPrecondition))
        .count();
    assert_eq!((admitted, refused_full), (10, 40), "{results:?}");
    let s = f
        .client
        .get_session(with_bearer(
            pb::GetSessionRequest {
                id: session.id.clone(),
            },
            &f.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    assert_eq!(s.attendance_count, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_county_reports_its_8_trainings_and_3_legal_lectures() {
    let app = TestApp::spawn().await;
    let seeded = redsupply::seed::demo_county(&app.settings).await.unwrap();
    assert_eq!(seeded.trainings, 8);
    redsupply::seed::demo_county(&app.settings).await.unwrap();
    let stats = app
        .education()
        .await
        .get_education_stats(with_bearer(
            pb::GetEducationStatsRequest::default(),
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.sessions, 8, "8 trainings held");
    assert_eq!(stats.legal_lectures, 3, "3 legal lectures");
    assert_eq!(stats.learning_sites, 9);
    assert!(stats.lecturers >= 30, "30+ lecturers: {}", stats.lecturers);
    assert_eq!(stats.attendances, 8 * 4);
    assert_eq!(stats.seats, 8 * 30);
    assert!((stats.attendance_rate - 32.0 / 240.0).abs() < 1e-9);
    let theory = stats
        .by_theme
        .iter()
        .find(|t| t.theme == CourseTheme::PoliticalTheory as i32)
        .unwrap();
    assert_eq!(theory.sessions, 2);
    let sum: i32 = stats.by_format.iter().map(|f| f.sessions).sum();
    assert_eq!(sum, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn education_refuses_bad_input_wrong_roles_and_unknown_ids() {
    let app = TestApp::spawn().await;
    let mut c = app.education().await;
    let admin = app.admin_token();
    let worker = Uuid::now_v7();
    let worker_token = app.token(roles::WORKER, &worker.to_string());

    let err = c
        .add_lecturer(with_bearer(
            pb::AddLecturerRequest {
                request_id: "x".into(),
                name: "Someone".into(),
                department: "police".into(),
                expertise: vec![],
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let err = c
        .add_lecturer(with_bearer(
            pb::AddLecturerRequest {
                request_id: "x".into(),
                name: "".into(),
                department: "police".into(),
                expertise: vec!["Traffic Safety".into()],
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["name", "expertise[0]"]);

    let err = c
        .create_course(with_bearer(
            pb::CreateCourseRequest {
                request_id: "c".into(),
                title: "Untitled".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("format") && err.message().contains("theme"));

    let err = c
        .issue_check_in_codes(with_bearer(
            pb::IssueCheckInCodesRequest {
                session_id: Uuid::now_v7().to_string(),
                count: 0,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .get_session(with_bearer(
            pb::GetSessionRequest {
                id: Uuid::now_v7().to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_learning_record(with_bearer(
            pb::GetLearningRecordRequest {
                worker_id: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "only one's own record");
}
