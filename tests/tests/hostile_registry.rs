//! Hostile input to the registry (organization) and to education, as a client meets it: search by
//! name takes `%` and `_` literally; a worker of an enterprise that does not exist is refused and
//! not stored; text with NUL or control characters, enums that would wrap, numbers a column would
//! refuse and repeated fields far too long are refused naming the field, with one violation for a
//! list too long (not one per element); creates need a `request_id`; lists filtered by an unknown
//! id answer NOT_FOUND, as a read of that id does.

use chrono::{Duration, Utc};
use kit::{auth::with_bearer, time::to_timestamp};
use redsupply_proto::{
    education::v1::{self as edu, CourseFormat},
    organization::v1::{self as org, EnterpriseKind},
};
use redsupply_tests::{TestApp, field_violations as fields, rid};
use tonic::Code;
use uuid::Uuid;

/// Asserts an INVALID_ARGUMENT naming exactly `expected`.
#[track_caller]
fn assert_fields<T: std::fmt::Debug>(result: Result<T, tonic::Status>, expected: &[&str]) {
    let status = result.expect_err("the request is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(fields(&status), expected, "{status:?}");
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, tonic::Status>, what: &str) {
    let status = result.expect_err("the request is refused");
    assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
}

fn register(name: &str, enterprise: Option<String>) -> org::RegisterWorkerRequest {
    org::RegisterWorkerRequest {
        request_id: rid(),
        name: name.into(),
        phone: redsupply_tests::unique_phone(),
        platform: "Meituan".into(),
        enterprise_id: enterprise,
        ..Default::default()
    }
}

async fn enterprise(app: &TestApp, name: &str) -> String {
    app.create_enterprise(org::Enterprise {
        name: name.into(),
        kind: EnterpriseKind::ExpressOutlet as i32,
        ..Default::default()
    })
    .await
    .id
}

async fn search_names(app: &TestApp, name: &str) -> Vec<String> {
    let mut names: Vec<String> = app
        .search_workers(
            org::SearchWorkersRequest {
                name: name.into(),
                ..Default::default()
            },
            &app.admin_token(),
        )
        .await
        .into_iter()
        .map(|w| w.name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_name_takes_wildcards_literally() {
    let app = TestApp::spawn().await;
    for name in ["Li Wei", "Wang_Fang", "100% Rider", r"Back\slash"] {
        app.register_worker(name).await;
    }
    assert_eq!(search_names(&app, "%").await, ["100% Rider"]);
    assert_eq!(search_names(&app, "_").await, ["Wang_Fang"]);
    assert_eq!(search_names(&app, r"\").await, [r"Back\slash"]);
    assert_eq!(
        search_names(&app, "wei").await,
        ["Li Wei"],
        "still a case-insensitive substring"
    );
    assert_eq!(search_names(&app, "").await.len(), 4, "no name: everyone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_an_enterprise_that_does_not_exist_is_refused_and_not_stored() {
    let app = TestApp::spawn().await;
    let mut o = app.organization().await;
    let admin = app.admin_token();
    assert_fields(
        o.register_worker(with_bearer(register("Ghost", Some(rid())), &admin))
            .await,
        &["enterprise_id"],
    );
    assert!(
        search_names(&app, "Ghost").await.is_empty(),
        "nothing stored"
    );

    let outlet = enterprise(&app, "SF Express Yingchun").await;
    let w = o
        .register_worker(with_bearer(
            register("Zhang Min", Some(outlet.clone())),
            &admin,
        ))
        .await
        .expect("a worker of a real enterprise")
        .into_inner()
        .worker
        .unwrap();
    assert_eq!(w.enterprise_id, outlet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_with_nul_or_control_characters_is_a_field_error() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (worker, worker_token) = app.register_worker("Li Wei").await;
    let mut o = app.organization().await;
    let mut e = app.enterprises().await;
    let mut care = app.care().await;
    let mut education = app.education().await;

    let mut escape = register("Li Wei", None);
    escape.platform = "Mei\u{1b}[31mtuan".into();
    assert_fields(
        o.register_worker(with_bearer(escape, &admin)).await,
        &["platform"],
    );
    let mut padded = register("Li Wei", None);
    padded.phone = " 139\x0000000000".into();
    assert_fields(
        o.register_worker(with_bearer(padded, &admin)).await,
        &["phone"],
    );
    assert_fields(
        o.upsert_community(with_bearer(
            org::UpsertCommunityRequest {
                community: Some(org::Community {
                    name: "Yingchun".into(),
                    township: "Ying\0chun".into(),
                    ..Default::default()
                }),
                request_id: "x".repeat(1_000_000),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await,
        &["request_id", "community.township"],
    );
    // A one-line field refuses a line break; a note keeps it.
    assert_fields(
        e.upsert_enterprise(with_bearer(
            org::UpsertEnterpriseRequest {
                enterprise: Some(org::Enterprise {
                    name: "Outlet".into(),
                    kind: EnterpriseKind::ExpressOutlet as i32,
                    address: "No. 1\nYingchun Road".into(),
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await,
        &["enterprise.address"],
    );
    let opened = care
        .open_hardship_file(with_bearer(
            org::OpenHardshipFileRequest {
                request_id: rid(),
                worker_id: worker.to_string(),
                difficulty: "  Injured in a fall.\nCannot ride for a month.  ".into(),
            },
            &admin,
        ))
        .await
        .expect("a multi-line difficulty")
        .into_inner()
        .file
        .unwrap();
    assert_eq!(
        opened.difficulty,
        "Injured in a fall.\nCannot ride for a month."
    );
    // Filters too.
    assert_fields(
        care.list_care_visits(with_bearer(
            org::ListCareVisitsRequest {
                occasion: "Spring\0Festival".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        &["occasion"],
    );
    assert_fields(
        o.list_personal_data_access(with_bearer(
            org::ListPersonalDataAccessRequest {
                accessor: "a".repeat(300),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        &["accessor"],
    );
    assert_fields(
        education
            .list_lecturers(with_bearer(
                edu::ListLecturersRequest {
                    expertise: "legal\0aid".into(),
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["expertise"],
    );
    assert_fields(
        education
            .check_in(with_bearer(
                edu::CheckInRequest {
                    session_id: rid(),
                    code: "ABCD\u{7}EFGH".into(),
                    worker_id: worker.to_string(),
                },
                &worker_token,
            ))
            .await,
        &["code"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enum_values_that_would_wrap_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    // 70000 and 65537 are 4464 and 1 as a SMALLINT.
    assert_fields(
        app.education()
            .await
            .list_courses(with_bearer(
                edu::ListCoursesRequest {
                    format: 70_000,
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["format"],
    );
    assert_fields(
        app.enterprises()
            .await
            .list_enterprises(with_bearer(
                org::ListEnterprisesRequest {
                    kind: 65_537,
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["kind"],
    );
    assert_fields(
        app.organization()
            .await
            .upsert_township(with_bearer(
                org::UpsertTownshipRequest {
                    township: Some(org::Township {
                        name: "Muyu".into(),
                        kind: 65_537,
                        ..Default::default()
                    }),
                    request_id: rid(),
                    expected_version: 0,
                    update_mask: None,
                },
                &admin,
            ))
            .await,
        &["township.kind"],
    );
    assert_fields(
        app.party()
            .await
            .list_organizations(with_bearer(
                org::ListOrganizationsRequest {
                    formation_mode: 65_539,
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["formation_mode"],
    );
    // Zero still means any.
    app.education()
        .await
        .list_courses(with_bearer(edu::ListCoursesRequest::default(), &admin))
        .await
        .expect("no filter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_fields_are_bounded_before_their_elements_are_read() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut party = app.party().await;

    let status = party
        .upsert_guide(with_bearer(
            org::UpsertGuideRequest {
                guide: Some(org::Guide {
                    name: "Instructor Wu".into(),
                    kind: org::GuideKind::Instructor as i32,
                    enterprise_ids: vec!["not an id".to_owned(); 100_000],
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["guide.enterprise_ids"], "one violation");
    assert!(status.details().len() < 1_024, "{}", status.details().len());

    let (member, _) = app.register_worker("Member Chen").await;
    assert_fields(
        party
            .link_contacts(with_bearer(
                org::LinkContactsRequest {
                    member_id: member.to_string(),
                    worker_ids: vec![Uuid::now_v7().to_string(); 201],
                },
                &admin,
            ))
            .await,
        &["worker_ids"],
    );
    assert_fields(
        app.education()
            .await
            .add_lecturer(with_bearer(
                edu::AddLecturerRequest {
                    request_id: rid(),
                    name: "Lawyer Wu".into(),
                    department: "justice_bureau".into(),
                    expertise: vec!["legal_aid".to_owned(); 21],
                },
                &admin,
            ))
            .await,
        &["expertise"],
    );
    let boundary = (0..2_001)
        .map(|i| redsupply_proto::common::v1::LatLng {
            latitude: 29.7 + f64::from(i) * 1e-6,
            longitude: 103.5,
        })
        .collect();
    assert_fields(
        app.organization()
            .await
            .upsert_grid(with_bearer(
                org::UpsertGridRequest {
                    grid: Some(org::Grid {
                        name: "Too detailed".into(),
                        boundary,
                        ..Default::default()
                    }),
                    request_id: rid(),
                    expected_version: 0,
                    update_mask: None,
                },
                &admin,
            ))
            .await,
        &["grid.boundary"],
    );

    // Within the bound, the same worker named three times is one link.
    let member = app
        .organization()
        .await
        .register_worker(with_bearer(
            org::RegisterWorkerRequest {
                party_member: true,
                ..register("Member Zhao", None)
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap()
        .id;
    let (w, _) = app.register_worker("Rider Sun").await;
    let linked = party
        .link_contacts(with_bearer(
            org::LinkContactsRequest {
                member_id: member,
                worker_ids: vec![w.to_string(); 3],
            },
            &admin,
        ))
        .await
        .expect("linked")
        .into_inner();
    assert_eq!(linked.contact_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_a_column_would_refuse_are_field_errors() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut education = app.education().await;
    let starts = Utc::now() + Duration::days(1);
    let booking = |capacity: i32, ends_at| edu::ScheduleSessionRequest {
        request_id: rid(),
        course_id: rid(),
        site_id: rid(),
        lecturer_id: rid(),
        starts_at: Some(to_timestamp(starts)),
        ends_at,
        capacity,
        series_id: String::new(),
    };
    assert_fields(
        education
            .schedule_session(with_bearer(booking(i32::MAX, None), &admin))
            .await,
        &["capacity"],
    );
    assert_fields(
        education
            .schedule_session(with_bearer(
                booking(0, Some(to_timestamp(starts + Duration::days(3)))),
                &admin,
            ))
            .await,
        &["ends_at"],
    );
    assert_fields(
        education
            .get_education_stats(with_bearer(
                edu::GetEducationStatsRequest {
                    from: Some(to_timestamp(starts)),
                    until: Some(to_timestamp(starts - Duration::days(30))),
                },
                &admin,
            ))
            .await,
        &["until"],
    );
    assert_fields(
        app.party()
            .await
            .get_contact_coverage(with_bearer(
                org::GetContactCoverageRequest {
                    community_id: String::new(),
                    load_limit: i32::MAX,
                },
                &admin,
            ))
            .await,
        &["load_limit"],
    );
    assert_fields(
        app.enterprises()
            .await
            .list_forums(with_bearer(
                org::ListForumsRequest {
                    quarter: "-2026-Q1".into(),
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["quarter"],
    );
    // A course of a format that does exist, but of an absurd length.
    assert_fields(
        education
            .create_course(with_bearer(
                edu::CreateCourseRequest {
                    request_id: rid(),
                    title: "Marathon".into(),
                    format: CourseFormat::ThematicLecture as i32,
                    theme: edu::CourseTheme::LegalAid as i32,
                    duration_minutes: 100_000,
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        &["duration_minutes"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_need_a_request_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut o = app.organization().await;
    assert_fields(
        o.upsert_community(with_bearer(
            org::UpsertCommunityRequest {
                community: Some(org::Community {
                    name: "Yingchun".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await,
        &["request_id"],
    );
    let communities = o
        .list_communities(with_bearer(org::ListCommunitiesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .communities;
    assert!(communities.is_empty(), "nothing stored: {communities:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filtered_by_an_unknown_id_answer_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let unknown = rid();
    let mut o = app.organization().await;
    let mut e = app.enterprises().await;
    let mut party = app.party().await;
    let mut education = app.education().await;

    assert_not_found(
        e.list_census_visits(with_bearer(
            org::ListCensusVisitsRequest {
                enterprise_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "census visits of no enterprise",
    );
    assert_not_found(
        o.list_grids(with_bearer(
            org::ListGridsRequest {
                community_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "grids of no community",
    );
    assert_not_found(
        o.search_workers(with_bearer(
            org::SearchWorkersRequest {
                enterprise_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "workers of no enterprise",
    );
    assert_not_found(
        o.list_personal_data_access(with_bearer(
            org::ListPersonalDataAccessRequest {
                worker_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "accesses to no worker",
    );
    assert_not_found(
        party
            .list_guides(with_bearer(
                org::ListGuidesRequest {
                    organization_id: unknown.clone(),
                    ..Default::default()
                },
                &admin,
            ))
            .await,
        "guides of no organization",
    );
    assert_not_found(
        e.list_enterprise_issues(with_bearer(
            org::ListEnterpriseIssuesRequest {
                forum_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "issues of no forum",
    );
    let status = education
        .list_sessions(with_bearer(
            edu::ListSessionsRequest {
                site_id: unknown.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "sessions at no site");
    assert!(status.message().contains("site_id"), "{}", status.message());

    // Known ids answer, with nothing in them yet.
    let outlet = enterprise(&app, "Outlet").await;
    let found = app
        .search_workers(
            org::SearchWorkersRequest {
                enterprise_id: outlet.clone(),
                ..Default::default()
            },
            &admin,
        )
        .await;
    assert!(found.is_empty());
    let visits = e
        .list_census_visits(with_bearer(
            org::ListCensusVisitsRequest {
                enterprise_id: outlet,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("visits of a real enterprise")
        .into_inner()
        .visits;
    assert!(visits.is_empty());
    let site = education
        .create_learning_site(with_bearer(
            edu::CreateLearningSiteRequest {
                request_id: rid(),
                name: "Xiao Ge Xue Ba".into(),
                capacity: 30,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    let sessions = education
        .list_sessions(with_bearer(
            edu::ListSessionsRequest {
                site_id: site.id,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("sessions of a real site")
        .into_inner()
        .sessions;
    assert!(sessions.is_empty());
}
