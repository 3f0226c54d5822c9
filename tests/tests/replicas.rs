//! Several replicas of every service are safe: two instances of each consumer and of each outbox
//! relay, fed from two intake instances at once, still give one case and one award per tip.

use std::collections::HashSet;

use futures::future::join_all;
use kit::auth::with_bearer;
use redsupply::ServiceName;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        SubmitTipRequest, TipCategory, governance_service_client::GovernanceServiceClient,
    },
};
use redsupply_tests::{TestApp, connect, eventually};

const TIPS: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_everything_give_one_case_and_one_award_per_tip() {
    let mut app = TestApp::spawn_with(|s| {
        // Small batches so that both replicas take part in draining the work.
        s.common.nats.consumer_batch = 4;
        s.common.nats.relay_batch = 8;
        // Every tip earns its points and opens its own case here: no daily cap, no merging.
        s.stations.points.daily_cap.clear();
        s.governance.merge.distance_meters = 0.0;
        s.governance.tips_per_minute = 0;
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let second_governance = app.start_replica(ServiceName::Governance).await;
    app.start_replica(ServiceName::Stations).await;

    // Both pull consumers have two instances fetching.
    for (producer, durable) in [
        ("governance", governance::DISPATCH_CONSUMER),
        ("governance", stations::POINTS_CONSUMER),
    ] {
        let js = app.rt.bus.jetstream.clone();
        eventually(&format!("two instances pulling from {durable}"), || {
            let js = js.clone();
            async move {
                let mut c: async_nats::jetstream::consumer::PullConsumer = js
                    .get_stream(kit::bus::stream_name(producer))
                    .await
                    .ok()?
                    .get_consumer(durable)
                    .await
                    .ok()?;
                (c.info().await.ok()?.num_waiting >= 2).then_some(())
            }
        })
        .await;
    }

    let first = app.governance().await;
    let second = GovernanceServiceClient::new(connect(second_governance).await);
    let submits = (0..TIPS).map(|i| {
        let mut client = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let token = token.clone();
        async move {
            client
                .submit_tip(with_bearer(
                    SubmitTipRequest {
                        request_id: format!("replica-{i}"),
                        reporter_id: worker.to_string(),
                        category: TipCategory::PublicFacility as i32,
                        description: format!("Street lamp {i} out"),
                        location: Some(LatLng {
                            latitude: 29.731 + (i as f64) * 0.00005,
                            longitude: 103.565,
                        }),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .expect("accepted")
                .into_inner()
                .tip
                .unwrap()
                .id
        }
    });
    let ids: HashSet<String> = join_all(submits).await.into_iter().collect();
    assert_eq!(ids.len(), TIPS);

    let pool = app.db.pool().await;
    eventually("every tip routed and awarded", || {
        let pool = pool.clone();
        async move {
            let routed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM governance.tips WHERE case_id IS NOT NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            let awards: i64 = sqlx::query_scalar("SELECT count(*) FROM stations.ledger_entries")
                .fetch_one(&pool)
                .await
                .ok()?;
            (routed == TIPS as i64 && awards == TIPS as i64).then_some(())
        }
    })
    .await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;

    let cases = app.count("SELECT count(*) FROM governance.cases").await;
    let linked = app
        .count("SELECT count(DISTINCT case_id) FROM governance.tips")
        .await;
    let awards = app
        .count("SELECT count(*) FROM stations.ledger_entries")
        .await;
    assert_eq!(
        (cases, linked, awards),
        (TIPS as i64, TIPS as i64, TIPS as i64)
    );
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.pending, 5 * TIPS as i64);
}
