//! The tip's path under failure: a consumer that dies between its effect and its ack, NATS
//! going away while tips keep arriving, and the database going away under the probes.

use std::time::Duration;

use kit::auth::with_bearer;
use redsupply::ServiceName;
use redsupply_proto::governance::v1::{SubmitTipRequest, TipCategory, TipStatus};
use redsupply_tests::{TestApp, eventually, tip_in_grid};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use uuid::Uuid;

fn new_tip(reporter: Uuid, request_id: &str) -> SubmitTipRequest {
    tip_in_grid(
        reporter,
        request_id,
        TipCategory::SafetyHazard,
        "Manhole cover missing",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_dies_after_its_effect_but_before_its_ack_changes_nothing_on_redelivery() {
    let mut app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Liu Yang").await;
    // Both consumers of the tip die right after committing, without acknowledging.
    app.rt
        .faults
        .crash_after_commit(governance::DISPATCH_CONSUMER, 1);
    app.rt
        .faults
        .crash_after_commit(stations::POINTS_CONSUMER, 1);

    let t = app.submit_tip(new_tip(worker, "once"), &token).await;
    eventually("both effects to commit", || {
        let app = &app;
        async move {
            let cases = app.count("SELECT count(*) FROM governance.cases").await;
            let entries = app
                .count("SELECT count(*) FROM stations.ledger_entries")
                .await;
            (cases == 1 && entries == 1).then_some(())
        }
    })
    .await;
    // A consumer that stopped only comes back with a restart: liveness asks for one.
    for service in [ServiceName::Governance, ServiceName::Stations] {
        let health = app.health(service).await;
        eventually("liveness to turn NOT_SERVING", || {
            let mut health = health.clone();
            async move {
                (entry_status(&mut health, kit::grpc::LIVENESS_HEALTH).await
                    == Some(ServingStatus::NotServing))
                .then_some(())
            }
        })
        .await;
    }

    // The processes restart; JetStream redelivers the unacknowledged event after ack_wait.
    app.stop_service(ServiceName::Governance).await;
    app.stop_service(ServiceName::Stations).await;
    app.start_service(ServiceName::Governance).await;
    app.start_service(ServiceName::Stations).await;
    let dispatch = app
        .consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    let points = app
        .consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(
        dispatch.delivered.consumer_sequence, 2,
        "the tip event delivered twice"
    );
    // The points consumer takes every governance event: each once, the tip event twice.
    let events_in_stream = app
        .rt
        .bus
        .jetstream
        .get_stream(kit::bus::stream_name("governance"))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert!(
        points.delivered.consumer_sequence > events_in_stream,
        "the tip event was redelivered: {} deliveries of {events_in_stream} events",
        points.delivered.consumer_sequence
    );

    assert_eq!(app.count("SELECT count(*) FROM governance.cases").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM stations.ledger_entries")
            .await,
        1
    );
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.pending, 5, "pending until the case is taken on");
    let tip = app.tip_as(&t.id, &token).await;
    assert_eq!(tip.status(), TipStatus::Routed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_keep_coming_in_while_nats_is_down_and_none_is_lost_when_it_returns() {
    // Every tip earns its points and opens its own case here: no daily cap, no merging.
    let mut app = TestApp::spawn_with(|s| {
        s.stations.points.daily_cap.clear();
        s.governance.merge.distance_meters = 0.0;
        s.governance.tips_per_minute = 0;
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Chen Jie").await;

    app.nats.stop();
    let mut health = app.health(ServiceName::Governance).await;
    eventually("the nats health entry to turn NOT_SERVING", || {
        let mut health = health.clone();
        async move {
            let s = health
                .check(HealthCheckRequest {
                    service: kit::grpc::NATS_HEALTH.into(),
                })
                .await
                .ok()?
                .into_inner()
                .status();
            (s == ServingStatus::NotServing).then_some(())
        }
    })
    .await;

    const TIPS: usize = 20;
    let mut gov = app.governance().await;
    let mut ids = Vec::new();
    for i in 0..TIPS {
        let t = tokio::time::timeout(
            Duration::from_secs(5),
            gov.submit_tip(with_bearer(new_tip(worker, &format!("outage-{i}")), &token)),
        )
        .await
        .expect("intake does not wait on NATS")
        .expect("intake keeps accepting tips")
        .into_inner()
        .tip
        .unwrap();
        ids.push(t.id);
    }
    let overall = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(overall, ServingStatus::Serving, "the service stays ready");
    assert_eq!(app.count("SELECT count(*) FROM governance.cases").await, 0);

    app.nats.resume().await;
    eventually("every tip to be routed and awarded", || {
        let app = &app;
        async move {
            let routed = app
                .count("SELECT count(*) FROM governance.tips WHERE status = 2")
                .await;
            let entries = app
                .count("SELECT count(*) FROM stations.ledger_entries")
                .await;
            (routed == TIPS as i64 && entries == TIPS as i64).then_some(())
        }
    })
    .await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM governance.cases").await,
        TIPS as i64
    );
    assert_eq!(
        app.count("SELECT count(DISTINCT case_id) FROM governance.tips")
            .await,
        TIPS as i64
    );
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.pending, 5 * TIPS as i64);
    for id in ids {
        let tip = app.tip_as(&id, &token).await;
        assert_eq!(tip.status(), TipStatus::Routed);
    }
}

/// The status of one health entry (None: no answer).
async fn entry_status(
    health: &mut tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>,
    entry: &str,
) -> Option<ServingStatus> {
    health
        .check(HealthCheckRequest {
            service: entry.into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status())
}

/// What the probes see of a database outage: the overall entry (readiness) turns NOT_SERVING and
/// back, while the liveness entry stays SERVING throughout, so no pod is restarted for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_makes_pods_unready_but_leaves_them_alive() {
    let app = TestApp::spawn().await;
    let mut health = app.health(ServiceName::Organization).await;
    assert_eq!(
        entry_status(&mut health, kit::grpc::LIVENESS_HEALTH).await,
        Some(ServingStatus::Serving)
    );
    app.db.cut_off().await;
    eventually("readiness to turn NOT_SERVING", || {
        let mut health = health.clone();
        async move {
            (entry_status(&mut health, "").await == Some(ServingStatus::NotServing)).then_some(())
        }
    })
    .await;
    assert_eq!(
        entry_status(&mut health, kit::grpc::LIVENESS_HEALTH).await,
        Some(ServingStatus::Serving),
        "alive while the database is away"
    );
    app.db.reopen().await;
    eventually("readiness to return", || {
        let mut health = health.clone();
        async move {
            (entry_status(&mut health, "").await == Some(ServingStatus::Serving)).then_some(())
        }
    })
    .await;
}
