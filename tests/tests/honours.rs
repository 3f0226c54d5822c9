//! Honours against the real stack: the county opens a selection; staff of the worker's community
//! nominate with a reason, once per category, and see only their communities' nominations; each
//! candidate's record is assembled from what stations was told (points that stand, confirmed tips,
//! volunteer hours, trainings attended, whatever points those earned); the county shortlists, then
//! awards or declines, each with a reason; an award takes one of its category's places, is on the
//! worker's record, is announced and credits the selection's points once; a closed selection takes
//! nothing more.

use chrono::{Datelike, Duration, Utc};
use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1 as ev,
    governance::v1::{CaseStatus, RejectTipRequest, TipCategory, UpdateCaseRequest},
    roles,
    stations::v1::{
        self as pb, HonourCategory, NominationStatus, ReviewDecision, SelectionStatus,
        honours_service_client::HonoursServiceClient,
    },
    subjects,
};
use redsupply_tests::{TestApp, assert_invalid, eventually, rid, tip_in_grid};
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;
use uuid::Uuid;

type Honours = HonoursServiceClient<Channel>;

/// This year in the county's time (UTC+8), as a period.
fn this_year() -> String {
    (Utc::now() + Duration::hours(8)).year().to_string()
}

fn selection_request(title: &str, award_points: i64) -> pb::OpenSelectionRequest {
    pb::OpenSelectionRequest {
        request_id: rid(),
        title: title.into(),
        period: this_year(),
        categories: vec![
            HonourCategory::BestRider as i32,
            HonourCategory::JiajiangGoodPerson as i32,
        ],
        places: 1,
        award_points,
    }
}

async fn open(
    client: &mut Honours,
    token: &str,
    r: pb::OpenSelectionRequest,
) -> Result<pb::Selection, Status> {
    client
        .open_selection(with_bearer(r, token))
        .await
        .map(|r| r.into_inner().selection.unwrap())
}

fn nomination(selection: &str, worker: Uuid, category: HonourCategory) -> pb::NominateRequest {
    pb::NominateRequest {
        request_id: rid(),
        selection_id: selection.into(),
        category: category as i32,
        worker_id: worker.to_string(),
        reason: "Rides the night shift and reported 12 broken street lights".into(),
        ..Default::default()
    }
}

async fn nominate(
    client: &mut Honours,
    token: &str,
    r: pb::NominateRequest,
) -> Result<pb::Nomination, Status> {
    client
        .nominate(with_bearer(r, token))
        .await
        .map(|r| r.into_inner().nomination.unwrap())
}

async fn review(
    client: &mut Honours,
    token: &str,
    nomination: &str,
    decision: ReviewDecision,
    reason: &str,
) -> Result<pb::Nomination, Status> {
    client
        .review_nomination(with_bearer(
            pb::ReviewNominationRequest {
                nomination_id: nomination.into(),
                decision: decision as i32,
                reason: reason.into(),
                expected_version: 0,
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().nomination.unwrap())
}

/// The kind of the precondition a refusal names (`CLOSED`, `NOT_ALLOWED`, `PLACES_TAKEN`, …).
fn precondition(err: &Status) -> String {
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    err.get_details_precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .unwrap_or_default()
}

/// A tip of `worker`'s at its own `spot` whose case the city accepts: a confirmed tip, its points
/// available (`available` in all once it is). Returns its id.
async fn confirmed_tip(
    app: &TestApp,
    worker: Uuid,
    token: &str,
    spot: u32,
    available: i64,
) -> String {
    let mut request = tip_in_grid(
        worker,
        &rid(),
        TipCategory::Dispute,
        "Shop refuses riders the toilet",
    );
    if let Some(at) = request.location.as_mut() {
        at.latitude += 0.001 * f64::from(spot);
    }
    let tip = app.submit_tip(request, token).await;
    let case = app
        .await_tip("the tip's case", &tip.id, token, |t| !t.case_id.is_empty())
        .await
        .case_id;
    let system = app.platform_token("city").await;
    app.update_case(
        UpdateCaseRequest {
            case_id: case,
            status: CaseStatus::Accepted as i32,
            ..Default::default()
        },
        &system,
    )
    .await;
    // Accepting the case releases the tip's pending points.
    app.await_balance_where(worker, "the tip's points released", |b| {
        b.pending == 0 && b.points == available
    })
    .await;
    tip.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nominee_is_shortlisted_and_awarded_on_a_record_from_data_and_the_points_come_once() {
    // A training earns no points under these rules: it still counts on the record.
    let app = TestApp::spawn_with(|s| s.stations.points.training_attended = 0).await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let community = app.create_community("Yingchun").await;
    let other = app.create_community("Muchéng").await;
    let (worker, worker_token) = app.register_worker_in(Some(community), "Li Ming").await;
    let (neighbour, _) = app.register_worker_in(Some(community), "Zhao Lei").await;
    let (stranger, _) = app.register_worker_in(Some(other), "Sun Yue").await;
    for w in [worker, neighbour, stranger] {
        app.stations_know_worker(w).await;
    }
    let admin = app.admin_token();
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "yingchun-staff", &[community], &[]);
    let mut honours = app.honours().await;

    // The record's inputs: two confirmed tips, one of them rejected later as false, 2.5 confirmed
    // volunteer hours (told twice: the hours count once), a training attended.
    confirmed_tip(&app, worker, &worker_token, 0, 5).await;
    let false_tip = confirmed_tip(&app, worker, &worker_token, 3, 10).await;
    let shift = ev::VolunteerServiceConfirmed {
        record_id: Uuid::now_v7().to_string(),
        worker_id: worker.to_string(),
        hours: 2.5,
        recorded_hours: 2.5,
        confirmed_by: "county-admin".into(),
        ..Default::default()
    };
    for _ in 0..2 {
        app.publish_event(subjects::governance::VOLUNTEER_SERVICE_CONFIRMED, &shift)
            .await;
    }
    app.await_balance_where(worker, "the volunteer hours' points", |b| b.points >= 35)
        .await;
    app.governance()
        .await
        .reject_tip(with_bearer(
            RejectTipRequest {
                tip_id: false_tip,
                reason: "the photo is from another county".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    app.publish_event(
        subjects::education::ATTENDANCE_RECORDED,
        &ev::AttendanceRecorded {
            attendance_id: Uuid::now_v7().to_string(),
            session_id: Uuid::now_v7().to_string(),
            worker_id: worker.to_string(),
            ..Default::default()
        },
    )
    .await;
    let standing = app
        .await_balance_where(worker, "the false tip's points taken back", |b| {
            b.pending == 0 && b.points < 35
        })
        .await
        .points;
    assert_eq!(
        standing,
        5 + 25,
        "one tip stands, and the shift told twice earns once"
    );
    app.await_count(
        "the training on the record",
        "SELECT count(*) FROM stations.worker_deeds WHERE deed = 'training_attended'",
        1,
    )
    .await;

    // Only county staff open a selection; its period is a year or a quarter.
    let title = format!("{} 最美骑手 · 夹江好人", this_year());
    let err = open(&mut honours, &staff, selection_request(&title, 50))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut bad = selection_request(&title, 50);
    bad.period = format!("{}-Q5", this_year());
    assert_invalid(open(&mut honours, &admin, bad).await.unwrap_err(), "period");
    assert_invalid(
        open(&mut honours, &admin, selection_request(&title, 501))
            .await
            .unwrap_err(),
        "award_points",
    );
    let first = selection_request(&title, 50);
    let selection = open(&mut honours, &admin, first.clone()).await.unwrap();
    assert_eq!(selection.status(), SelectionStatus::Open);
    assert_eq!(selection.period, this_year());
    // A retry answers the same selection; the same title again in the period is refused.
    let again = open(&mut honours, &admin, first).await.unwrap();
    assert_eq!(again.id, selection.id);
    let err = open(&mut honours, &admin, selection_request(&title, 50))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Community staff nominate their community's workers, with a reason.
    let request = nomination(&selection.id, worker, HonourCategory::BestRider);
    let nominated = nominate(&mut honours, &staff, request.clone())
        .await
        .unwrap();
    assert_eq!(nominated.status(), NominationStatus::Nominated);
    assert_eq!(nominated.community_id, community.to_string());
    let record = nominated.record.unwrap();
    assert_eq!(
        record.confirmed_tips, 1,
        "the rejected one is not: {record:?}"
    );
    assert_eq!(record.volunteer_shifts, 1);
    assert!((record.volunteer_hours - 2.5).abs() < 1e-9, "{record:?}");
    assert_eq!(record.trainings_attended, 1);
    assert_eq!(record.points_standing, standing);
    assert_eq!(record.honours_before, 0);
    let retried = nominate(&mut honours, &staff, request.clone())
        .await
        .unwrap();
    assert_eq!(retried.id, nominated.id);
    let mut reused = request.clone();
    reused.worker_id = neighbour.to_string();
    assert_invalid(
        nominate(&mut honours, &staff, reused).await.unwrap_err(),
        "request_id",
    );
    let err = nominate(
        &mut honours,
        &admin,
        nomination(&selection.id, worker, HonourCategory::BestRider),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        Code::AlreadyExists,
        "one nomination per category"
    );
    assert_invalid(
        nominate(
            &mut honours,
            &staff,
            nomination(&selection.id, worker, HonourCategory::BestCourier),
        )
        .await
        .unwrap_err(),
        "category",
    );
    let mut enterprise = nomination(&selection.id, worker, HonourCategory::JiajiangGoodPerson);
    enterprise.enterprise_id = Uuid::now_v7().to_string();
    assert_invalid(
        nominate(&mut honours, &staff, enterprise)
            .await
            .unwrap_err(),
        "enterprise_id",
    );
    let mut no_reason = nomination(&selection.id, neighbour, HonourCategory::BestRider);
    no_reason.reason = " ".into();
    assert_invalid(
        nominate(&mut honours, &staff, no_reason).await.unwrap_err(),
        "reason",
    );
    let err = nominate(
        &mut honours,
        &staff,
        nomination(&selection.id, stranger, HonourCategory::BestRider),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "another community's worker"
    );
    let rival = nominate(
        &mut honours,
        &staff,
        nomination(&selection.id, neighbour, HonourCategory::BestRider),
    )
    .await
    .unwrap();
    let stranger_nomination = nominate(
        &mut honours,
        &admin,
        nomination(&selection.id, stranger, HonourCategory::BestRider),
    )
    .await
    .unwrap();
    // Workers do not nominate.
    let err = nominate(
        &mut honours,
        &worker_token,
        nomination(&selection.id, worker, HonourCategory::JiajiangGoodPerson),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Community staff see their community's nominations, not another's.
    let listed = honours
        .list_nominations(with_bearer(
            pb::ListNominationsRequest {
                selection_id: selection.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .nominations;
    let ids: Vec<&str> = listed.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec![nominated.id.as_str(), rival.id.as_str()]);
    let err = honours
        .get_nomination(with_bearer(
            pb::GetNominationRequest {
                nomination_id: stranger_nomination.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Only the county reviews: shortlist first, then award, each with a reason.
    let err = review(
        &mut honours,
        &staff,
        &nominated.id,
        ReviewDecision::Shortlist,
        "x",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = review(
        &mut honours,
        &admin,
        &nominated.id,
        ReviewDecision::Award,
        "straight to the award",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_invalid(
        review(
            &mut honours,
            &admin,
            &nominated.id,
            ReviewDecision::Shortlist,
            "",
        )
        .await
        .unwrap_err(),
        "reason",
    );
    let shortlisted = review(
        &mut honours,
        &admin,
        &nominated.id,
        ReviewDecision::Shortlist,
        "The committee's first round",
    )
    .await
    .unwrap();
    assert_eq!(shortlisted.status(), NominationStatus::Shortlisted);
    review(
        &mut honours,
        &admin,
        &rival.id,
        ReviewDecision::Shortlist,
        "The committee's first round",
    )
    .await
    .unwrap();
    let reason = "Chosen by the working committee, the market supervision committee and the union";
    let awarded = review(
        &mut honours,
        &admin,
        &nominated.id,
        ReviewDecision::Award,
        reason,
    )
    .await
    .unwrap();
    assert_eq!(awarded.status(), NominationStatus::Awarded);
    assert_eq!(awarded.points_awarded, 50);
    assert_eq!(awarded.review_reason, reason);
    // A retried award answers the award; the points come once.
    let retried = review(
        &mut honours,
        &admin,
        &nominated.id,
        ReviewDecision::Award,
        reason,
    )
    .await
    .unwrap();
    assert_eq!(retried.version, awarded.version);
    app.await_balance_where(worker, "the honour's 50 points", |b| {
        b.points == standing + 50
    })
    .await;
    let honour_entries: Vec<_> = app
        .ledger_entries(worker, &worker_token)
        .await
        .into_iter()
        .filter(|e| e.reason == "honour_awarded")
        .collect();
    assert_eq!(honour_entries.len(), 1);
    assert_eq!(honour_entries[0].points, 50);
    // The category's one place is taken; a decided nomination stays decided.
    let err = review(
        &mut honours,
        &admin,
        &rival.id,
        ReviewDecision::Award,
        "A second best rider",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&err), "PLACES_TAKEN", "{err:?}");
    let err = review(
        &mut honours,
        &admin,
        &nominated.id,
        ReviewDecision::Decline,
        "changed our minds",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&err), "NOT_ALLOWED", "{err:?}");
    let declined = review(
        &mut honours,
        &admin,
        &rival.id,
        ReviewDecision::Decline,
        "One place only this year",
    )
    .await
    .unwrap();
    assert_eq!(declined.status(), NominationStatus::Declined);
    assert_eq!(declined.points_awarded, 0);

    // The award is on the worker's record, for them and their community's staff, and announced.
    let on_record = honours
        .list_worker_honours(with_bearer(
            pb::ListWorkerHonoursRequest {
                worker_id: worker.to_string(),
            },
            &worker_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .honours;
    assert_eq!(on_record.len(), 1);
    assert_eq!(on_record[0].category(), HonourCategory::BestRider);
    assert_eq!(on_record[0].selection_title, title);
    let err = honours
        .list_worker_honours(with_bearer(
            pb::ListWorkerHonoursRequest {
                worker_id: neighbour.to_string(),
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let announced = eventually("the award announced", || async {
        let events: Vec<ev::NominationChanged> = app
            .published("stations", subjects::stations::NOMINATION_CHANGED)
            .await;
        events
            .into_iter()
            .find(|e| e.nomination_id == nominated.id && e.status == awarded.status)
    })
    .await;
    assert_eq!(announced.points_awarded, 50);
    assert_eq!(announced.reason, reason);
    assert_eq!(announced.version, awarded.version);

    // A worker's next nomination shows the honour before.
    let next = nominate(
        &mut honours,
        &staff,
        nomination(&selection.id, worker, HonourCategory::JiajiangGoodPerson),
    )
    .await
    .unwrap();
    assert_eq!(next.record.unwrap().honours_before, 1);

    // Closed, the selection takes no more nominations or reviews.
    let closed = honours
        .close_selection(with_bearer(
            pb::CloseSelectionRequest {
                selection_id: selection.id.clone(),
                expected_version: selection.version,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .selection
        .unwrap();
    assert_eq!(closed.status(), SelectionStatus::Closed);
    assert_eq!((closed.nominations, closed.awards), (4, 1));
    let err = review(
        &mut honours,
        &admin,
        &next.id,
        ReviewDecision::Shortlist,
        "too late",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&err), "CLOSED", "{err:?}");
    let err = nominate(
        &mut honours,
        &staff,
        nomination(&selection.id, neighbour, HonourCategory::JiajiangGoodPerson),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&err), "CLOSED", "{err:?}");
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_awards_at_once_never_overfill_a_category() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Huatou").await;
    let admin = app.admin_token();
    let mut honours = app.honours().await;
    let mut request = selection_request("最美快递员", 20);
    request.categories = vec![HonourCategory::BestCourier as i32];
    request.places = 2;
    let selection = open(&mut honours, &admin, request).await.unwrap();
    let mut shortlisted = Vec::new();
    for i in 0..5 {
        let (w, _) = app
            .register_worker_in(Some(community), &format!("Courier {i}"))
            .await;
        app.stations_know_worker(w).await;
        let n = nominate(
            &mut honours,
            &admin,
            nomination(&selection.id, w, HonourCategory::BestCourier),
        )
        .await
        .unwrap();
        review(&mut honours, &admin, &n.id, ReviewDecision::Shortlist, "ok")
            .await
            .unwrap();
        shortlisted.push(n.id);
    }
    let results = futures::future::join_all(shortlisted.iter().map(|id| {
        let mut client = honours.clone();
        let admin = admin.clone();
        async move { review(&mut client, &admin, id, ReviewDecision::Award, "the best").await }
    }))
    .await;
    let awarded = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(awarded, 2, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(precondition(r), "PLACES_TAKEN", "{r:?}");
    }
    // Each award carries its points once; nobody else got any.
    for r in results.iter().flatten() {
        assert_eq!(r.points_awarded, 20);
    }
    let entries = app
        .count(
            "SELECT count(*) FROM stations.ledger_entries
             WHERE reason = 'honour_awarded' AND points = 20",
        )
        .await;
    assert_eq!(entries, 2);
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_s_nomination_names_the_worker_s_own_and_retries_at_once_make_one() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Ganjiang").await;
    let outlet = app
        .create_enterprise(redsupply_proto::organization::v1::Enterprise {
            name: "SF Express Ganjiang outlet".into(),
            kind: redsupply_proto::organization::v1::EnterpriseKind::ExpressOutlet as i32,
            community_id: community.to_string(),
            ..Default::default()
        })
        .await;
    let (courier, _) = app
        .register_worker_with(redsupply_proto::organization::v1::RegisterWorkerRequest {
            request_id: rid(),
            name: "Courier Tang".into(),
            phone: redsupply_tests::unique_phone(),
            platform: "SF Express".into(),
            community_id: Some(community.to_string()),
            enterprise_id: Some(outlet.id.clone()),
            ..Default::default()
        })
        .await;
    app.stations_know_worker(courier).await;
    let admin = app.admin_token();
    let nobody = app.scoped_token(roles::COMMUNITY_ADMIN, "no-communities", &[], &[]);
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "ganjiang-staff", &[community], &[]);
    let mut honours = app.honours().await;
    let mut request = selection_request("最美快递员 · 企业推荐", 0);
    request.categories = vec![HonourCategory::BestCourier as i32];
    let selection = open(&mut honours, &admin, request).await.unwrap();
    let mut by_outlet = nomination(&selection.id, courier, HonourCategory::BestCourier);
    by_outlet.enterprise_id = outlet.id.clone();
    // Sent twice at once (a client retrying a slow call): one nomination, both answered with it.
    let (mut first, mut second) = (honours.clone(), honours.clone());
    let (a, b) = tokio::join!(
        nominate(&mut first, &staff, by_outlet.clone()),
        nominate(&mut second, &staff, by_outlet.clone()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(a.enterprise_id, outlet.id);
    // Staff serving no community reach none of it; an unknown community is NOT_FOUND.
    let err = nominate(
        &mut honours,
        &nobody,
        nomination(&selection.id, courier, HonourCategory::BestCourier),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let none = honours
        .list_nominations(with_bearer(
            pb::ListNominationsRequest {
                selection_id: selection.id.clone(),
                ..Default::default()
            },
            &nobody,
        ))
        .await
        .unwrap()
        .into_inner()
        .nominations;
    assert!(none.is_empty());
    let err = honours
        .list_nominations(with_bearer(
            pb::ListNominationsRequest {
                selection_id: selection.id.clone(),
                community_id: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Workers read no nominations.
    let worker_token = app.token(roles::WORKER, &courier.to_string());
    let err = honours
        .get_nomination(with_bearer(
            pb::GetNominationRequest {
                nomination_id: a.id.clone(),
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Nobody reviews their own nomination, whatever their role.
    let own = app
        .auth
        .issue(&courier.to_string(), &[roles::COUNTY_ADMIN], None)
        .unwrap();
    let err = review(&mut honours, &own, &a.id, ReviewDecision::Shortlist, "me!")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}
