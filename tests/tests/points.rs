//! Points against the real stack: the rules per source with their daily caps, reversal of a
//! rejected tip's award, a ledger that replays to every balance, points supermarkets that never
//! oversell or overspend under 50 concurrent redemptions, and monthly honours.

use chrono::Utc;
use futures::future::join_all;
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        CaseStatus, ConfirmResolutionRequest, RejectTipRequest, SubmitTipRequest, TipCategory,
        TipStatus, UpdateCaseRequest,
    },
    organization::v1::{Community, RegisterWorkerRequest, UpsertCommunityRequest},
    roles,
    stations::v1::{self as pb, GetLeaderboardRequest},
};
use redsupply_tests::TestApp;
use tonic::Code;
use uuid::Uuid;

/// A tip at its own spot (`spot` × ~110 m north of the others), so that none merges into
/// another's case.
async fn tip(app: &TestApp, worker: Uuid, token: &str, request_id: &str, spot: u32) -> String {
    app.submit_tip(
        SubmitTipRequest {
            request_id: request_id.into(),
            reporter_id: worker.to_string(),
            category: TipCategory::Dispute as i32,
            description: "Shop refuses riders the toilet".into(),
            location: Some(LatLng {
                latitude: 29.735 + 0.001 * f64::from(spot),
                longitude: 103.565,
            }),
            ..Default::default()
        },
        token,
    )
    .await
    .id
}

async fn volunteer(app: &TestApp, worker: Uuid, hours: f64) {
    app.confirmed_volunteer_hours(worker, hours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_tip_takes_its_award_back_and_the_ledger_replays_to_every_balance() {
    let app = TestApp::spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let kept = tip(&app, worker, &token, "kept", 0).await;
    let false_tip = tip(&app, worker, &token, "false", 1).await;
    // Both tips' points are pending until their cases are taken on.
    let b = app
        .await_balance_where(worker, "10 pending", |b| b.pending == 10)
        .await;
    assert_eq!((b.points, b.debt), (0, 0));

    let officer = app.scoped_token(roles::GRID_OFFICER, "officer", &[], &[grid]);
    let app_ref = &app;
    let reject = || {
        let id = false_tip.clone();
        let officer = officer.clone();
        let app = app_ref;
        async move {
            app.governance()
                .await
                .reject_tip(with_bearer(
                    RejectTipRequest {
                        tip_id: id,
                        reason: "the photo is from another county".into(),
                    },
                    &officer,
                ))
                .await
                .unwrap()
                .into_inner()
                .tip
                .unwrap()
        }
    };
    assert_eq!(reject().await.status(), TipStatus::Rejected);
    app.await_standing(worker, 5).await;
    assert_eq!(
        reject().await.status(),
        TipStatus::Rejected,
        "a retry changes nothing"
    );
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let b = app.balance_parts(worker).await;
    assert_eq!((b.points, b.pending, b.debt), (0, 5, 0));

    let entries = app.ledger_entries(worker, &token).await;
    let mut reasons: Vec<(String, i64)> = entries
        .iter()
        .map(|e| (e.reason.clone(), e.points))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("tip_rejected:tip_submitted".to_string(), -5),
            ("tip_submitted".to_string(), 5),
            ("tip_submitted".to_string(), 5)
        ]
    );
    // A worker may not reject tips.
    let err = app
        .governance()
        .await
        .reject_tip(with_bearer(
            RejectTipRequest {
                tip_id: kept.clone(),
                reason: "mine".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let still = app.tip_as(&kept, &token).await;
    assert_ne!(still.status(), TipStatus::Rejected);
    app.assert_ledger_replays().await;
}

/// Once governance's outbox is empty its events are on the stream; then the points consumer drains.
async fn points_settled(app: &TestApp) {
    app.await_count(
        "governance's outbox to drain",
        "SELECT count(*) FROM governance.outbox",
        0,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_and_resolved_cases_credit_their_reporters_and_caps_hold_per_day() {
    let app = TestApp::spawn_with(|s| {
        s.stations
            .points
            .daily_cap
            .insert("tip_submitted".into(), 12);
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Wang Fang").await;
    let first = tip(&app, worker, &token, "t0", 0).await;
    for i in 1..4 {
        tip(&app, worker, &token, &format!("t{i}"), i).await;
    }
    app.await_standing(worker, 12).await; // 5 + 5 + 2, then the cap
    // Every tip dispatched means every tip event is on the stream; then let the points consumer
    // finish before counting.
    app.await_count(
        "all four tips dispatched",
        "SELECT count(*) FROM governance.tips WHERE status <> 1",
        4,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let entries = app
        .count("SELECT count(*) FROM stations.ledger_entries")
        .await;
    assert_eq!(entries, 3, "the capped-out tip earns no entry");

    let case_id = app
        .await_tip("the first tip's case", &first, &token, |t| {
            !t.case_id.is_empty()
        })
        .await
        .case_id;
    let system = app.platform_token("city").await;
    for status in [CaseStatus::Accepted, CaseStatus::Resolved] {
        app.update_case(
            UpdateCaseRequest {
                case_id: case_id.clone(),
                status: status as i32,
                ..Default::default()
            },
            &system,
        )
        .await;
    }
    // Accepting earns nothing more but confirms the tip: its 5 become available (the other
    // tips' 7 stay pending); resolving earns case_resolved.
    let b = app
        .await_balance_where(worker, "8 available", |b| b.points == 5 + 3)
        .await;
    assert_eq!((b.pending, b.debt), (7, 0));
    // New notes, a reopening and a second resolution earn nothing more: once per case and reason.
    for (status, note) in [
        (CaseStatus::Resolved, "photo of the fix attached"),
        (CaseStatus::InProgress, "reopened: the light failed again"),
        (CaseStatus::Resolved, "fixed for good"),
    ] {
        app.update_case(
            UpdateCaseRequest {
                case_id: case_id.clone(),
                status: status as i32,
                note: note.into(),
                ..Default::default()
            },
            &system,
        )
        .await;
    }
    // Once governance's outbox is empty its events are on the stream; then the consumer drains.
    points_settled(&app).await;
    assert_eq!(app.standing(worker).await, 12 + 3);

    // The reporter confirms the fix: tip_confirmed, once, however often they say so.
    for _ in 0..2 {
        app.governance()
            .await
            .confirm_resolution(with_bearer(
                ConfirmResolutionRequest {
                    tip_id: first.clone(),
                    fixed: true,
                    comment: String::new(),
                },
                &token,
            ))
            .await
            .unwrap();
    }
    app.await_balance(worker, 5 + 3 + 2).await;
    points_settled(&app).await;
    assert_eq!(app.standing(worker).await, 12 + 3 + 2);
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redemptions_never_oversell_nor_overspend() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut points = app.points().await;
    let station = app.create_station("Main", 29.74, 103.57).await;
    let reward = app.create_reward("5 kg of rice", 5).await;
    // Stock goes to a community that exists, and only registered workers redeem.
    let community_id = app.create_community("Yingchun").await;
    let (rich, _) = app.register_worker_in(Some(community_id), "Rich").await;
    let (poor, _) = app.register_worker_in(Some(community_id), "Poor").await;
    app.stations_know_community(community_id).await;
    app.stations_know_worker(rich).await;
    app.stations_know_worker(poor).await;
    let community = community_id.to_string();
    let supply = |request_id: &str, quantity: i64| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::SupplyStockRequest {
                request_id: request_id.into(),
                station_id: station.id.clone(),
                community_id: community.clone(),
                reward_id: reward.id.clone(),
                quantity,
            },
            &admin,
        );
        async move {
            points
                .supply_stock(req)
                .await
                .unwrap()
                .into_inner()
                .stock
                .unwrap()
                .quantity
        }
    };
    assert_eq!(supply("s1", 1).await, 1);
    assert_eq!(supply("s1", 1).await, 1, "a retried supply adds nothing");

    volunteer(&app, rich, 10.0).await;
    volunteer(&app, poor, 0.5).await;
    app.await_balance(rich, 80).await; // 100 earned, the daily cap of volunteer service is 80
    app.await_balance(poor, 5).await;

    let burst = |worker: Uuid, tag: &'static str| {
        let token = app.token(roles::WORKER, &worker.to_string());
        let attempts = (0..50).map(|i| {
            let mut points = points.clone();
            let req = with_bearer(
                pb::RedeemRequest {
                    request_id: format!("{tag}-{i}"),
                    worker_id: worker.to_string(),
                    community_id: community.clone(),
                    reward_id: reward.id.clone(),
                    quantity: 1,
                },
                &token,
            );
            async move { points.redeem(req).await.map(|_| ()).map_err(|s| s.code()) }
        });
        join_all(attempts)
    };
    // The last item: one of 50 gets it.
    let results = burst(rich, "last-item").await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(Code::FailedPrecondition))
    );
    assert_eq!(app.balance(rich).await, 75);

    // Plenty of stock, points for one.
    assert_eq!(supply("s2", 100).await, 100);
    let results = burst(poor, "one-balance").await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(app.balance(poor).await, 0);
    let stock = points
        .list_rewards(with_bearer(
            pb::ListRewardsRequest {
                community_id: community.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .rewards;
    assert_eq!(stock[0].quantity, 99);

    // The same request id again: the same redemption, charged once.
    let token = app.token(roles::WORKER, &rich.to_string());
    let again = |request_id: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::RedeemRequest {
                request_id: request_id.into(),
                worker_id: rich.to_string(),
                community_id: community.clone(),
                reward_id: reward.id.clone(),
                quantity: 1,
            },
            &token,
        );
        async move { points.redeem(req).await.unwrap().into_inner() }
    };
    let a = again("repeat").await;
    let b = again("repeat").await;
    assert_eq!(a.redemption.unwrap().id, b.redemption.unwrap().id);
    assert_eq!(app.balance(rich).await, 70);
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_leaderboard_ranks_by_points_and_breaks_ties_by_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let community = app
        .organization()
        .await
        .upsert_community(with_bearer(
            UpsertCommunityRequest {
                community: Some(Community {
                    name: "Yingchun".into(),
                    township: "Yancheng Street".into(),
                    ..Default::default()
                }),
                request_id: "c".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .community
        .unwrap();
    let mut workers = Vec::new();
    for (name, platform) in [("A", "Meituan"), ("B", "Meituan"), ("C", "SF Express")] {
        let (w, _) = app
            .register_worker_with(RegisterWorkerRequest {
                request_id: name.into(),
                name: name.into(),
                phone: redsupply_tests::unique_phone(),
                platform: platform.into(),
                community_id: Some(community.id.clone()),
                ..Default::default()
            })
            .await;
        workers.push(w);
    }
    app.await_count(
        "stations to know the workers",
        "SELECT count(*) FROM stations.workers",
        3,
    )
    .await;
    for (w, hours) in workers.iter().zip([3.0, 3.0, 1.0]) {
        volunteer(&app, *w, hours).await;
    }
    for (w, points) in workers.iter().zip([30, 30, 10]) {
        app.await_balance(*w, points).await;
    }
    let month = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m")
        .to_string();
    let board = |community_id: String, platform: &str| {
        let points = app.points();
        let req = with_bearer(
            GetLeaderboardRequest {
                month: month.clone(),
                community_id,
                platform: platform.into(),
                limit: 0,
            },
            &admin,
        );
        async move { points.await.get_leaderboard(req).await }
    };
    let by_community = board(community.id.clone(), "")
        .await
        .unwrap()
        .into_inner()
        .entries;
    let mut tied = [workers[0], workers[1]];
    tied.sort();
    let ranked: Vec<(i32, String, i64)> = by_community
        .iter()
        .map(|e| (e.rank, e.worker_id.clone(), e.points))
        .collect();
    assert_eq!(
        ranked,
        [
            (1, tied[0].to_string(), 30),
            (2, tied[1].to_string(), 30),
            (3, workers[2].to_string(), 10)
        ]
    );
    let riders = board(String::new(), "Meituan")
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(riders.len(), 2);
    let err = board(community.id.clone(), "Meituan").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
