//! The tip's path through the real services, NATS and PostgreSQL: a tip becomes a case in its grid
//! and points for its reporter; grid systems see the case on `WatchCases` and resume without gaps.

use std::collections::HashSet;

use futures::StreamExt;
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        CaseStatus, ListCasesRequest, SubmitTipRequest, TipCategory, TipStatus, UpdateCaseRequest,
        WatchCasesRequest, WatchCasesResponse,
    },
};
use redsupply_tests::{TestApp, eventually};
use uuid::Uuid;

fn new_tip(reporter: Uuid, request_id: &str, lat: f64, lng: f64) -> SubmitTipRequest {
    SubmitTipRequest {
        request_id: request_id.into(),
        reporter_id: reporter.to_string(),
        category: TipCategory::Traffic as i32,
        description: "Traffic light out at the crossing".into(),
        location: Some(LatLng {
            latitude: lat,
            longitude: lng,
        }),
        photo_urls: vec!["https://photos.example/1.jpg".into()],
        observed_at: None,
    }
}

async fn routed_tip(
    app: &TestApp,
    token: &str,
    tip_id: &str,
) -> redsupply_proto::governance::v1::Tip {
    app.await_tip("the tip to be routed", tip_id, token, |t| {
        t.status() != TipStatus::Received
    })
    .await;
    app.tip_as(tip_id, token).await
}

/// What the worker has earned and kept, as they read it (a tip's points are pending until its
/// case is taken on).
async fn balance(app: &TestApp, token: &str, worker: Uuid) -> i64 {
    let b = app.balance_as(worker, token).await;
    b.points + b.pending - b.debt
}

async fn next_change(stream: &mut tonic::Streaming<WatchCasesResponse>) -> WatchCasesResponse {
    redsupply_tests::next_case_change(stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tip_becomes_a_case_in_its_grid_and_points_for_its_reporter() {
    let app = TestApp::spawn().await;
    let grid = app
        .create_grid("Yingchun Grid 1", 29.73, 103.56, 0.01)
        .await;
    let other_grid = app.create_grid("Qingyi Grid 1", 29.75, 103.56, 0.01).await;
    let (worker, worker_token) = app.register_worker("Li Wei").await;
    let grid_system = app.platform_token("municipal-platform").await;

    let mut watch = app
        .watch_cases(
            WatchCasesRequest {
                cursor: String::new(),
                grid_ids: vec![grid.to_string()],
                statuses: vec![],
            },
            &grid_system,
        )
        .await;

    let accepted = app
        .submit_tip(new_tip(worker, "r-1", 29.735, 103.565), &worker_token)
        .await;
    assert_eq!(accepted.status(), TipStatus::Received);

    let tip = routed_tip(&app, &worker_token, &accepted.id).await;
    assert_eq!(tip.status(), TipStatus::Routed);
    let case = app.case_as(&tip.case_id, &grid_system).await;
    assert_eq!(case.grid_id, grid.to_string());
    assert_eq!(case.department, "traffic_police");
    assert_eq!(case.status(), CaseStatus::Assigned);
    assert_eq!(case.tip_ids, vec![accepted.id.clone()]);
    assert!(case.due_at.is_some());

    // The reporter's points: one entry, naming the event that earned it.
    let points = eventually("the award", || {
        let app = &app;
        let token = worker_token.clone();
        async move { Some(balance(app, &token, worker).await).filter(|p| *p > 0) }
    })
    .await;
    assert_eq!(points, 5);
    let entries = app.ledger_entries(worker, &worker_token).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].points, 5);
    assert!(Uuid::parse_str(&entries[0].source_event_id).is_ok());

    // The grid system sees the new case.
    let first = next_change(&mut watch).await;
    assert_eq!(first.case.as_ref().unwrap().id, case.id);
    let cursor = first.cursor.clone();
    drop(watch);

    // While it is away: two more tips (one in another grid) and a status change.
    let second = app
        .submit_tip(new_tip(worker, "r-2", 29.736, 103.566), &worker_token)
        .await;
    let elsewhere = app
        .submit_tip(new_tip(worker, "r-3", 29.755, 103.565), &worker_token)
        .await;
    let second = routed_tip(&app, &worker_token, &second.id).await;
    let elsewhere = routed_tip(&app, &worker_token, &elsewhere.id).await;
    let accepted_case = app
        .update_case(
            UpdateCaseRequest {
                case_id: case.id.clone(),
                status: CaseStatus::Accepted as i32,
                note: "JJ-GRID-0042".into(),
                ..Default::default()
            },
            &grid_system,
        )
        .await;
    assert_eq!(accepted_case.status(), CaseStatus::Accepted);
    assert_eq!(accepted_case.version, 2);

    // Reconnecting with the last cursor gives exactly what happened in its grid since, in order.
    let mut resumed = app
        .watch_cases(
            WatchCasesRequest {
                cursor,
                grid_ids: vec![grid.to_string()],
                statuses: vec![],
            },
            &grid_system,
        )
        .await;
    let a = next_change(&mut resumed).await.case.unwrap();
    let b = next_change(&mut resumed).await.case.unwrap();
    assert_eq!(
        (a.id.as_str(), a.status()),
        (second.case_id.as_str(), CaseStatus::Assigned)
    );
    assert_eq!(
        (b.id.as_str(), b.status()),
        (case.id.as_str(), CaseStatus::Accepted)
    );
    assert_eq!(b.note, "JJ-GRID-0042");

    // The other grid's case never shows on this filter; it is listed under its own grid.
    let listed = app
        .governance()
        .await
        .list_cases(with_bearer(
            ListCasesRequest {
                grid_id: other_grid.to_string(),
                ..Default::default()
            },
            &grid_system,
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, elsewhere.case_id);
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(500), resumed.next()).await;
    assert!(quiet.is_err(), "no further change for this grid: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tip_outside_every_grid_waits_in_the_county_queue() {
    let app = TestApp::spawn().await;
    app.create_grid("Far Grid", 29.50, 103.35, 0.01).await;
    let (worker, token) = app.register_worker("Wang Fang").await;
    let t = app
        .submit_tip(new_tip(worker, "r-1", 29.90, 103.70), &token)
        .await;
    let routed = routed_tip(&app, &token, &t.id).await;
    let case = app.case(&routed.case_id).await;
    assert_eq!(case.grid_id, "", "no grid holds the tip");
    assert_eq!(case.department, "county_grid_office");
    assert_eq!(case.status(), CaseStatus::Assigned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_id_twice_gives_one_tip_one_case_one_award() {
    let app = TestApp::spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Zhang Qiang").await;
    let mut gov = app.governance().await;
    let first = app
        .submit_tip(new_tip(worker, "same", 29.735, 103.565), &token)
        .await;
    let again = app
        .submit_tip(new_tip(worker, "same", 29.735, 103.565), &token)
        .await;
    assert_eq!(first.id, again.id);
    routed_tip(&app, &token, &first.id).await;
    // Once both consumers have nothing left to do, count what happened.
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let cases = gov
        .list_cases(with_bearer(
            ListCasesRequest {
                grid_id: grid.to_string(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].tip_ids, vec![first.id.clone()]);
    assert_eq!(balance(&app, &token, worker).await, 5);
    let tips = app.count("SELECT count(*) FROM governance.tips").await;
    let entries = app
        .count("SELECT count(*) FROM stations.ledger_entries")
        .await;
    assert_eq!((tips, entries), (1, 1));
    let distinct: HashSet<_> = cases.iter().map(|c| c.id.clone()).collect();
    assert_eq!(distinct.len(), 1);
}

/// Concurrent calls share intake's transactions: a request id repeated within one batch, and tips
/// of many reporters stored together, still give one tip and one TipSubmitted event each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tips_share_commits_without_losing_or_doubling_any() {
    let app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let mut reporters = Vec::new();
    for i in 0..16 {
        reporters.push(app.register_worker(&format!("Rider {i}")).await);
    }
    let gov = app.governance().await;
    let mut calls = Vec::new();
    for i in 0..160 {
        // Ten calls per reporter (the per-minute limit); three of them repeat one request id.
        let (worker, token) = reporters[i % reporters.len()].clone();
        let request_id = if i / reporters.len() < 3 {
            format!("repeated-{worker}")
        } else {
            format!("tip-{i}")
        };
        let mut gov = gov.clone();
        calls.push(tokio::spawn(async move {
            gov.submit_tip(with_bearer(
                new_tip(worker, &request_id, 29.735, 103.565),
                &token,
            ))
            .await
            .map(|r| (request_id, r.into_inner().tip.unwrap().id))
        }));
    }
    let mut by_request: std::collections::HashMap<String, HashSet<String>> = Default::default();
    for call in calls {
        let (request_id, tip) = call.await.unwrap().expect("every tip is accepted");
        by_request.entry(request_id).or_default().insert(tip);
    }
    // 16 × 7 distinct tips + 16 repeated ids, each answered with one tip id.
    assert_eq!(by_request.len(), 128);
    assert!(by_request.values().all(|tips| tips.len() == 1));
    let pool = app.db.pool().await;
    let tips = app.count("SELECT count(*) FROM governance.tips").await;
    assert_eq!(tips, 128);
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    let (routed, linked): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE case_id IS NOT NULL), count(DISTINCT id) FROM governance.tips",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((routed, linked), (128, 128), "one case link per tip");
}
