//! The case lifecycle for a county's grid office and a municipal platform: numbers, merges of
//! near-duplicate tips (also when they race), reroutes seen on `WatchCases` by the grid that lost
//! the case and the one that gained it, the county queue routed when a grid appears, escalation of
//! overdue cases across a restart, the reporter's feedback, and the per-reporter rate limit.

use std::time::Duration;

use futures::future::join_all;
use kit::auth::with_bearer;
use redsupply::ServiceName;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        CaseStatus, ListCaseHistoryRequest, ListTipsRequest, RerouteCaseRequest, SubmitTipRequest,
        TipCategory, TipStatus, UpdateCaseRequest, WatchCasesRequest, WatchCasesResponse,
    },
    roles,
};
use redsupply_tests::{TestApp, eventually};
use tonic::Code;
use uuid::Uuid;

fn tip_at(
    reporter: Uuid,
    request_id: &str,
    category: TipCategory,
    lat: f64,
    lng: f64,
) -> SubmitTipRequest {
    SubmitTipRequest {
        request_id: request_id.into(),
        reporter_id: reporter.to_string(),
        category: category as i32,
        description: "Pothole in the bike lane".into(),
        location: Some(LatLng {
            latitude: lat,
            longitude: lng,
        }),
        ..Default::default()
    }
}

async fn submit(app: &TestApp, token: &str, req: SubmitTipRequest) -> String {
    app.submit_tip(req, token).await.id
}

async fn settled(app: &TestApp, tip: &str) -> redsupply_proto::governance::v1::Tip {
    app.await_tip("the tip to be dispatched", tip, &app.admin_token(), |t| {
        t.status() != TipStatus::Received
    })
    .await
}

/// Submits `req` and waits until it is dispatched.
async fn reported(
    app: &TestApp,
    token: &str,
    req: SubmitTipRequest,
) -> redsupply_proto::governance::v1::Tip {
    settled(app, &submit(app, token, req).await).await
}

async fn reroute(
    app: &TestApp,
    token: &str,
    req: RerouteCaseRequest,
) -> Result<redsupply_proto::governance::v1::Case, tonic::Status> {
    app.governance()
        .await
        .reroute_case(with_bearer(req, token))
        .await
        .map(|r| r.into_inner().case.unwrap())
}

async fn case(app: &TestApp, id: &str) -> redsupply_proto::governance::v1::Case {
    app.case(id).await
}

async fn next(
    stream: &mut tonic::Streaming<WatchCasesResponse>,
) -> redsupply_proto::governance::v1::Case {
    redsupply_tests::next_case_change(stream)
        .await
        .case
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_duplicate_tips_merge_into_one_numbered_case_even_when_they_race() {
    // Two dispatchers taking one event at a time, so that near-identical tips really race.
    let mut app = TestApp::spawn_with(|s| {
        s.common.nats.consumer_batch = 1;
        s.governance.tips_per_minute = 0;
    })
    .await;
    app.start_replica(ServiceName::Governance).await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (a, ta) = app.register_worker("A").await;
    let (b, tb) = app.register_worker("B").await;
    let (c, tc) = app.register_worker("C").await;

    let first = reported(
        &app,
        &ta,
        tip_at(a, "1", TipCategory::Traffic, 29.7350, 103.5650),
    )
    .await;
    let opened = case(&app, &first.case_id).await;
    // Case numbers follow the county's calendar (UTC+8).
    let year = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y")
        .to_string();
    assert_eq!(opened.number, format!("JJ-{year}-000001"));

    // 20 m away, same category: merged. 20 m away, other category: a case of its own.
    let close = reported(
        &app,
        &tb,
        tip_at(b, "1", TipCategory::Traffic, 29.73518, 103.5650),
    )
    .await;
    assert_eq!(close.status(), TipStatus::Merged);
    assert_eq!(close.case_id, first.case_id);
    let other = reported(
        &app,
        &tb,
        tip_at(b, "2", TipCategory::Environment, 29.73518, 103.5650),
    )
    .await;
    assert_eq!(other.status(), TipStatus::Routed);
    assert_ne!(other.case_id, first.case_id);
    let merged = case(&app, &first.case_id).await;
    assert_eq!((merged.reporter_count, merged.tip_ids.len()), (2, 2));
    assert_eq!(
        case(&app, &other.case_id).await.number,
        format!("JJ-{year}-000002")
    );

    // Ten pairs of near-identical tips at once, far from any case: one case per pair.
    let pairs: Vec<(f64, f64)> = (0..10)
        .map(|i| (29.7365 + f64::from(i) * 0.0008, 103.5615))
        .collect();
    let submits = pairs.iter().enumerate().flat_map(|(i, &(lat, lng))| {
        [
            submit(
                &app,
                &ta,
                tip_at(a, &format!("race-{i}"), TipCategory::SafetyHazard, lat, lng),
            ),
            submit(
                &app,
                &tc,
                tip_at(
                    c,
                    &format!("race-{i}"),
                    TipCategory::SafetyHazard,
                    lat + 0.00001,
                    lng + 0.00001,
                ),
            ),
        ]
    });
    let ids = join_all(submits).await;
    for pair in ids.chunks(2) {
        let (x, y) = (settled(&app, &pair[0]).await, settled(&app, &pair[1]).await);
        assert_eq!(x.case_id, y.case_id, "the race made one case");
        let mut statuses = [x.status(), y.status()];
        statuses.sort_by_key(|s| *s as i32);
        assert_eq!(statuses, [TipStatus::Routed, TipStatus::Merged]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reroute_is_seen_by_the_grid_that_lost_the_case_and_the_one_that_gained_it() {
    let app = TestApp::spawn().await;
    let west = app.create_grid("West", 29.73, 103.56, 0.01).await;
    let east = app.create_grid("East", 29.73, 103.58, 0.01).await;
    let (w, token) = app.register_worker("Li").await;
    let system = app.platform_token("city").await;
    let watch = |grid: Uuid| {
        app.watch_cases(
            WatchCasesRequest {
                cursor: String::new(),
                grid_ids: vec![grid.to_string()],
                statuses: vec![],
            },
            &system,
        )
    };
    let mut west_feed = watch(west).await;
    let mut east_feed = watch(east).await;
    let t = reported(
        &app,
        &token,
        tip_at(w, "1", TipCategory::FoodSafety, 29.735, 103.565),
    )
    .await;
    assert_eq!(next(&mut west_feed).await.grid_id, west.to_string());

    // The officer of the grid the case was routed to hands it over.
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-7", &[], &[west]);
    let moved = reroute(
        &app,
        &officer,
        RerouteCaseRequest {
            case_id: t.case_id.clone(),
            grid_id: east.to_string(),
            department: String::new(),
            category: TipCategory::Unspecified as i32,
            reason: "the stall is across the road, in East".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(moved.grid_id, east.to_string());
    let lost = next(&mut west_feed).await;
    assert_eq!(
        (lost.id.as_str(), lost.grid_id.as_str()),
        (t.case_id.as_str(), east.to_string().as_str()),
        "West learns it left"
    );
    let gained = next(&mut east_feed).await;
    assert_eq!(gained.id, t.case_id);

    // West's officer let the case go: it is East's now.
    let again = reroute(
        &app,
        &officer,
        RerouteCaseRequest {
            case_id: t.case_id.clone(),
            grid_id: west.to_string(),
            department: String::new(),
            category: TipCategory::Unspecified as i32,
            reason: "back".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), tonic::Code::PermissionDenied, "{again:?}");
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-8", &[], &[east]);

    // A wrong category re-dispatches: the department follows the routing table.
    let recat = reroute(
        &app,
        &officer,
        RerouteCaseRequest {
            case_id: t.case_id.clone(),
            grid_id: String::new(),
            department: String::new(),
            category: TipCategory::Dispute as i32,
            reason: "a quarrel, not food".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (recat.department.as_str(), recat.category()),
        ("mediation_centre", TipCategory::Dispute)
    );

    let history = app
        .governance()
        .await
        .list_case_history(with_bearer(
            ListCaseHistoryRequest {
                case_id: t.case_id.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .transitions;
    let who: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.actor.as_str(), h.to_grid_id.as_str()))
        .collect();
    assert_eq!(who[0].0, "system");
    assert_eq!(who[1], ("officer-7", east.to_string().as_str()));
    assert_eq!(history[1].reason, "the stall is across the road, in East");
    assert_eq!(history.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_queue_is_routed_once_a_grid_appears_and_the_platform_keeps_its_reference() {
    let app = TestApp::spawn().await;
    let (w, token) = app.register_worker("Zhao").await;
    let t = reported(
        &app,
        &token,
        tip_at(w, "1", TipCategory::PublicFacility, 29.755, 103.585),
    )
    .await;
    assert_eq!(case(&app, &t.case_id).await.grid_id, "");
    let grid = app.create_grid("New grid", 29.75, 103.58, 0.01).await;
    let routed = eventually("the queued case to reach the new grid", || async {
        let c = case(&app, &t.case_id).await;
        (c.grid_id == grid.to_string()).then_some(c)
    })
    .await;
    assert_eq!(routed.department, "housing_urban_rural");

    let system = app.platform_token("city").await;
    // A platform that follows only accepted cases, from the start of the feed.
    let mut accepted_only = app
        .watch_cases(
            WatchCasesRequest {
                cursor: "0.0".into(),
                grid_ids: vec![],
                statuses: vec![CaseStatus::Accepted as i32],
            },
            &system,
        )
        .await;
    let updated = app
        .update_case(
            UpdateCaseRequest {
                case_id: t.case_id.clone(),
                status: CaseStatus::Accepted as i32,
                note: "reporter known to the grid office".into(),
                external_ref: "SZ-2026-88812".into(),
                public_reply: "crew sent".into(),
                ..Default::default()
            },
            &system,
        )
        .await;
    assert_eq!(updated.external_ref, "SZ-2026-88812");
    let seen = next(&mut accepted_only).await;
    assert_eq!(
        (seen.id.as_str(), seen.status()),
        (t.case_id.as_str(), CaseStatus::Accepted),
        "earlier ASSIGNED changes are filtered out"
    );

    // The reporter sees their tip with the case's status and public reply, never its internal note.
    let mine = app
        .governance()
        .await
        .list_tips(with_bearer(
            ListTipsRequest {
                reporter_id: w.to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .tips;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].case_status(), mine[0].case_note.as_str()),
        (CaseStatus::Accepted, "crew sent")
    );
    let err = app
        .governance()
        .await
        .list_tips(with_bearer(
            ListTipsRequest {
                reporter_id: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_cases_are_escalated_once_across_a_restart() {
    let mut app = TestApp::spawn_with(|s| {
        s.governance
            .routing
            .deadline_hours
            .insert("traffic".into(), 0);
        s.governance.escalation_sweep_secs = 1;
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (w, token) = app.register_worker("Chen").await;
    // Due at once (a 0-hour deadline); the service restarts before or after its first sweep.
    let t = reported(
        &app,
        &token,
        tip_at(w, "1", TipCategory::Traffic, 29.735, 103.565),
    )
    .await;
    app.stop_service(ServiceName::Governance).await;
    app.start_service(ServiceName::Governance).await;
    let pool = app.db.pool().await;
    let c = eventually("the overdue case to be escalated", || async {
        let c = case(&app, &t.case_id).await;
        c.escalated_at.is_some().then_some(c)
    })
    .await;
    let first = c.escalated_at.unwrap();
    // Another restart, a second replica sweeping too, and a few sweeps later: still escalated once.
    app.stop_service(ServiceName::Governance).await;
    app.start_service(ServiceName::Governance).await;
    app.start_replica(ServiceName::Governance).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let again = case(&app, &t.case_id).await;
    assert_eq!(again.escalated_at.unwrap(), first);
    let escalations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM governance.case_transitions WHERE case_id = $1::uuid AND reason LIKE 'escalated%'",
    )
    .bind(&t.case_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(escalations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporter_over_the_rate_is_told_to_slow_down_and_retries_still_answer() {
    let app = TestApp::spawn_with(|s| s.governance.tips_per_minute = 3).await;
    let (w, token) = app.register_worker("Fast").await;
    for i in 0..3 {
        submit(
            &app,
            &token,
            tip_at(
                w,
                &format!("r{i}"),
                TipCategory::Other,
                29.46 + f64::from(i) * 0.01,
                103.32,
            ),
        )
        .await;
    }
    let err = app
        .try_submit_tip(tip_at(w, "r3", TipCategory::Other, 29.50, 103.35), &token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    // Copies of one refused request sent at once (they share intake batches) are all refused:
    // a repeat of a request id never gets the slot its first copy was refused.
    let copies = join_all((0..8).map(|_| {
        let app = &app;
        let token = &token;
        async move {
            app.try_submit_tip(tip_at(w, "r4", TipCategory::Other, 29.65, 103.38), token)
                .await
        }
    }))
    .await;
    for copy in &copies {
        assert_eq!(
            copy.as_ref().map(|_| ()).unwrap_err().code(),
            Code::ResourceExhausted,
            "{copy:?}"
        );
    }
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM governance.tips WHERE reporter_id = $1")
            .bind(w)
            .fetch_one(&app.db.pool().await)
            .await
            .unwrap();
    assert_eq!(stored, 3, "only the three tips within the limit are stored");
    // A retry of an accepted tip is not a new tip: it is answered.
    let retry = app
        .try_submit_tip(tip_at(w, "r0", TipCategory::Other, 29.55, 103.40), &token)
        .await;
    assert!(retry.is_ok(), "{retry:?}");
    // Another reporter is not affected.
    let (o, other) = app.register_worker("Calm").await;
    submit(
        &app,
        &other,
        tip_at(o, "r0", TipCategory::Other, 29.60, 103.45),
    )
    .await;
}
