//! Points that cannot be gamed, against the real stack: a tip's points are pending until its case
//! is taken on (or `pending_days` pass), only available points are redeemed, a rejection takes
//! back everything that flowed from the tip (submitted, resolved, confirmed) even when it was
//! spent, the debt is repaid by the next award, a merged tip earns less, honours count only what
//! still stands, and every part of every balance replays from the ledger.

use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    governance::v1::{
        CaseStatus, ConfirmResolutionRequest, RejectTipRequest, SubmitTipRequest, TipCategory,
        UpdateCaseRequest,
    },
    roles,
    stations::v1 as pb,
};
use redsupply_tests::TestApp;
use tonic::Code;
use uuid::Uuid;

async fn tip_at(app: &TestApp, worker: Uuid, token: &str, request_id: &str, lat: f64) -> String {
    app.submit_tip(
        SubmitTipRequest {
            request_id: request_id.into(),
            reporter_id: worker.to_string(),
            category: TipCategory::Traffic as i32,
            description: "Traffic light dark at the crossing".into(),
            location: Some(LatLng {
                latitude: lat,
                longitude: 103.565,
            }),
            ..Default::default()
        },
        token,
    )
    .await
    .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_tip_whose_points_were_spent_ends_in_a_debt_that_the_next_award_repays() {
    let app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let community = app.create_community("Yingchun").await;
    let (rider, token) = app.register_worker_in(Some(community), "Li Wei").await;
    app.stations_know_community(community).await;
    app.stations_know_worker(rider).await;
    let station = app.create_station("Main", 29.74, 103.57).await;
    let reward = app.create_reward("A bottle of water", 5).await;
    app.supply(&station, community, &reward, 10).await;
    let points = app.points().await;
    let redeem = |request_id: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::RedeemRequest {
                request_id: request_id.into(),
                worker_id: rider.to_string(),
                community_id: community.to_string(),
                reward_id: reward.id.clone(),
                quantity: 1,
            },
            &token,
        );
        async move { points.redeem(req).await }
    };

    let tip = tip_at(&app, rider, &token, "the tip", 29.735).await;
    let b = app
        .await_balance_where(rider, "5 pending", |b| b.pending == 5)
        .await;
    assert_eq!((b.points, b.debt), (0, 0));
    // Pending points are not spent.
    let refused = redeem("too soon").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("0 available"), "{refused:?}");

    // The grid office takes the case on: the tip is confirmed and its points become available;
    // resolving pays case_resolved, the reporter's "fixed" pays tip_confirmed.
    let case_id = app
        .await_tip("the tip's case", &tip, &token, |t| !t.case_id.is_empty())
        .await
        .case_id;
    let city = app.platform_token("city").await;
    for status in [CaseStatus::Accepted, CaseStatus::Resolved] {
        app.update_case(
            UpdateCaseRequest {
                case_id: case_id.clone(),
                status: status as i32,
                ..Default::default()
            },
            &city,
        )
        .await;
    }
    app.await_balance(rider, 5 + 3).await;
    app.governance()
        .await
        .confirm_resolution(with_bearer(
            ConfirmResolutionRequest {
                tip_id: tip.clone(),
                fixed: true,
                comment: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    app.await_balance(rider, 5 + 3 + 2).await;
    // The rider spends half of it.
    let spent = redeem("water").await.unwrap().into_inner();
    assert_eq!(spent.balance, 5);

    // The tip turns out false: all 10 points it brought are taken back; 5 were spent and are
    // owed.
    let officer = app.admin_token();
    app.governance()
        .await
        .reject_tip(with_bearer(
            RejectTipRequest {
                tip_id: tip.clone(),
                reason: "the photo is from another county".into(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let b = app
        .await_balance_where(rider, "5 owed", |b| b.debt == 5)
        .await;
    assert_eq!((b.points, b.pending), (0, 0));
    let mut taken: Vec<(String, i64)> = app
        .ledger_entries(rider, &token)
        .await
        .into_iter()
        .filter(|e| e.reason.starts_with("tip_rejected:"))
        .map(|e| (e.reason, e.points))
        .collect();
    taken.sort();
    assert_eq!(
        taken,
        [
            ("tip_rejected:case_resolved".to_string(), -3),
            ("tip_rejected:tip_confirmed".to_string(), -2),
            ("tip_rejected:tip_submitted".to_string(), -5),
        ]
    );
    let reversed: Vec<ev::PointsReversed> = app
        .published("stations", "redsupply.stations.points.reversed")
        .await;
    assert_eq!(reversed.iter().map(|r| r.into_debt).sum::<i64>(), 5);
    // Honours count nothing of a false tip, although it was earned this month.
    assert!(app.leaderboard(community).await.is_empty());

    // The next award repays the debt before anything is available again.
    app.confirmed_volunteer_hours(rider, 0.5).await;
    let b = app
        .await_balance_where(rider, "no debt", |b| b.debt == 0)
        .await;
    assert_eq!((b.points, b.pending), (0, 0));
    app.confirmed_volunteer_hours(rider, 0.3).await;
    app.await_balance(rider, 3).await;
    let awarded: Vec<ev::PointsAwarded> = app
        .published("stations", "redsupply.stations.points.awarded")
        .await;
    assert!(awarded.iter().any(|a| a.repaid == 5 && a.balance == 0));
    assert_eq!(
        app.leaderboard(community).await,
        [(rider.to_string(), 5 + 3)],
        "only the volunteer hours stand"
    );
    let refused = redeem("with 3").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    app.assert_ledger_replays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_tip_earns_less_and_pending_points_wait_their_days_unless_rejected() {
    let app = TestApp::spawn_with(|s| s.stations.points.release_sweep_secs = 1).await;
    let rules = app.settings.stations.points.clone();
    assert!(rules.tip_merged < rules.tip_submitted);
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (first, first_token) = app.register_worker("First").await;
    let (second, second_token) = app.register_worker("Second").await;
    let (liar, liar_token) = app.register_worker("Liar").await;
    tip_at(&app, first, &first_token, "first", 29.735).await;
    app.await_standing(first, rules.tip_submitted).await;
    // The same light, reported again: merged into the first tip's case.
    tip_at(&app, second, &second_token, "again", 29.735).await;
    let false_tip = tip_at(&app, liar, &liar_token, "false", 29.738).await;
    let pool = app.db.pool().await;
    app.await_count(
        "both tips in one case",
        "SELECT count(*) FROM governance.tips WHERE status = 3",
        1,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let b = app
        .await_balance_where(second, "the merged tip's points", |b| {
            b.pending == rules.tip_merged
        })
        .await;
    assert_eq!(b.points, 0);
    app.await_standing(liar, rules.tip_submitted).await;

    // Nothing is released before its time.
    assert_eq!(app.balance_parts(first).await.points, 0);
    // A week passes (the queue's clock moved back): the sweep releases what was not rejected.
    app.governance()
        .await
        .reject_tip(with_bearer(
            RejectTipRequest {
                tip_id: false_tip,
                reason: "no such light".into(),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap();
    app.await_standing(liar, 0).await;
    sqlx::query("UPDATE stations.pending_awards SET release_after = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    app.await_balance(first, rules.tip_submitted).await;
    app.await_balance(second, rules.tip_merged).await;
    assert_eq!(
        app.balance_parts(liar).await,
        pb::Balance {
            worker_id: liar.to_string(),
            ..Default::default()
        }
    );
    app.await_count(
        "the queue to empty",
        "SELECT count(*) FROM stations.pending_awards",
        0,
    )
    .await;
    let released: Vec<ev::PointsReleased> = app
        .published("stations", "redsupply.stations.points.released")
        .await;
    assert_eq!(
        released.len(),
        2,
        "one release per award, none for the rejected tip"
    );
    let entries = app.ledger_entries(first, &first_token).await;
    let release = entries
        .iter()
        .find(|e| e.reason == "tip_released")
        .expect("a release entry");
    assert_eq!(
        (release.points, release.pending_change, release.debt_change),
        (0, -rules.tip_submitted, 0)
    );
    app.assert_ledger_replays().await;
    // A worker reads their own parts; another worker may not.
    let own = app.balance_as(first, &first_token).await;
    assert_eq!(own.points, rules.tip_submitted);
    let err = app
        .points()
        .await
        .get_balance(with_bearer(
            pb::GetBalanceRequest {
                worker_id: first.to_string(),
            },
            &app.token(roles::WORKER, &second.to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Governance's events may reach stations in another order than they were written (replicas,
/// redeliveries): a tip's case taken on before its award arrives, a rejection before the
/// resolution of the case. The rules hold either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_that_arrives_before_the_award_or_after_the_rejection_is_applied_all_the_same() {
    use redsupply_proto::subjects::governance as g;
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let (rider, token) = app.register_worker_in(Some(community), "Li Wei").await;
    app.stations_know_community(community).await;
    app.stations_know_worker(rider).await;
    let station = app.create_station("Main", 29.74, 103.57).await;
    let reward = app.create_reward("Water", 5).await;
    app.supply(&station, community, &reward, 1).await;
    let mut points = app.points().await;
    let (first, second, case) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let submitted = |tip: Uuid| ev::TipSubmitted {
        tip_id: tip.to_string(),
        reporter_id: rider.to_string(),
        ..Default::default()
    };
    // The first tip is taken on, spent, then found false: 5 owed.
    app.publish_event(g::TIP_SUBMITTED, &submitted(first)).await;
    app.await_balance_where(rider, "5 pending", |b| b.pending == 5)
        .await;
    app.publish_event(
        g::CASE_STATUS_CHANGED,
        &ev::CaseStatusChanged {
            case_id: case.to_string(),
            status: CaseStatus::Accepted as i32,
            previous_status: CaseStatus::Assigned as i32,
            reporter_ids: vec![rider.to_string()],
            tip_ids: vec![first.to_string()],
            ..Default::default()
        },
    )
    .await;
    app.await_balance(rider, 5).await;
    points
        .redeem(with_bearer(
            pb::RedeemRequest {
                request_id: "water".into(),
                worker_id: rider.to_string(),
                community_id: community.to_string(),
                reward_id: reward.id.clone(),
                quantity: 1,
            },
            &token,
        ))
        .await
        .unwrap();
    app.publish_event(
        g::TIP_REJECTED,
        &ev::TipRejected {
            tip_id: first.to_string(),
            reporter_id: rider.to_string(),
            case_id: case.to_string(),
            reporter_keeps_case: false,
            ..Default::default()
        },
    )
    .await;
    app.await_balance_where(rider, "5 owed", |b| b.debt == 5)
        .await;
    // The case is resolved after the rejection: the false tip's reporter is not paid for it.
    app.publish_event(
        g::CASE_STATUS_CHANGED,
        &ev::CaseStatusChanged {
            case_id: case.to_string(),
            status: CaseStatus::Resolved as i32,
            previous_status: CaseStatus::Accepted as i32,
            reporter_ids: vec![rider.to_string()],
            ..Default::default()
        },
    )
    .await;
    // A second tip joins a case already taken on before its own award arrives: the award is
    // confirmed at once and repays the debt.
    app.publish_event(
        g::CASE_ASSIGNED,
        &ev::CaseAssigned {
            case_id: Uuid::now_v7().to_string(),
            tip_id: second.to_string(),
            reporter_id: rider.to_string(),
            case_status: CaseStatus::InProgress as i32,
            ..Default::default()
        },
    )
    .await;
    app.publish_event(g::TIP_SUBMITTED, &submitted(second))
        .await;
    let b = app
        .await_balance_where(rider, "the debt repaid", |b| b.debt == 0)
        .await;
    assert_eq!((b.points, b.pending), (0, 0));
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let reasons: Vec<String> = app
        .ledger_entries(rider, &token)
        .await
        .into_iter()
        .map(|e| e.reason)
        .collect();
    assert!(!reasons.iter().any(|r| r == "case_resolved"), "{reasons:?}");
    assert_eq!(app.balance_parts(rider).await.debt, 0);
    app.assert_ledger_replays().await;
}
