//! The cluster shape production runs: a three-node JetStream cluster, every stream replicated on
//! all three. Killing the node that leads the tips' stream, between two rounds of tips, loses no
//! tip, makes no second case and pays no award twice.

use redsupply_proto::governance::v1::{SubmitTipRequest, TipCategory};
use redsupply_tests::{TestApp, eventually, tip_in_grid};
use uuid::Uuid;

fn new_tip(reporter: Uuid, request_id: &str) -> SubmitTipRequest {
    tip_in_grid(
        reporter,
        request_id,
        TipCategory::SafetyHazard,
        "Loose paving stones on the cycle lane",
    )
}

/// The node that leads `stream` (its cluster info, once a leader is elected).
async fn leader_of(app: &TestApp, stream: &str) -> String {
    eventually("the stream to have a leader", || async move {
        let mut s = app.rt.bus.jetstream.get_stream(stream).await.ok()?;
        let info = s.info().await.ok()?;
        let cluster = info.cluster.as_ref()?;
        assert_eq!(
            info.config.num_replicas, 3,
            "the stream is replicated three ways"
        );
        assert_eq!(cluster.replicas.len(), 2, "two followers beside the leader");
        cluster.leader.clone().filter(|l| !l.is_empty())
    })
    .await
}

async fn await_routed_and_awarded(app: &TestApp, tips: i64) {
    eventually("every tip to be routed and awarded", || async move {
        let routed = app
            .count("SELECT count(*) FROM governance.tips WHERE status = 2")
            .await;
        let awards = app
            .count("SELECT count(*) FROM stations.ledger_entries WHERE reason = 'tip_submitted'")
            .await;
        (routed == tips && awards == tips).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_survive_the_loss_of_the_node_that_leads_their_stream() {
    // Every tip earns its points and opens its own case here: no daily cap, no merging.
    let mut app = TestApp::spawn_on_cluster(|s| {
        s.stations.points.daily_cap.clear();
        s.governance.merge.distance_meters = 0.0;
        s.governance.tips_per_minute = 0;
    })
    .await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Wu Fang").await;
    const ROUND: i64 = 10;
    for i in 0..ROUND {
        app.submit_tip(new_tip(worker, &format!("before-{i}")), &token)
            .await;
    }
    await_routed_and_awarded(&app, ROUND).await;

    let stream = kit::bus::stream_name("governance");
    let leader = leader_of(&app, &stream).await;
    assert!(app.nats.node_names().contains(&leader), "{leader}");
    app.nats.kill_node(&leader);

    for i in 0..ROUND {
        app.submit_tip(new_tip(worker, &format!("after-{i}")), &token)
            .await;
    }
    await_routed_and_awarded(&app, 2 * ROUND).await;
    // Another node took the stream over (its replicas: the survivor and the dead node).
    leader_of(&app, &stream).await;
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;

    assert_eq!(
        app.count("SELECT count(*) FROM governance.cases").await,
        2 * ROUND,
        "one case per tip, none twice"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM (SELECT 1 FROM stations.ledger_entries WHERE reason = 'tip_submitted' GROUP BY subject_ref HAVING count(*) > 1) d"
        )
        .await,
        0,
        "no tip awarded twice"
    );
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.pending, 5 * 2 * ROUND);
}
