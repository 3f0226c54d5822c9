//! A worker staff deleted in the registry, as stations sees it: out of the leaderboard, unable to
//! redeem or to record a visit, while their ledger stays readable. Against the real stack: the
//! deletion travels from organization to stations as an event.

use kit::auth::with_bearer;
use redsupply_proto::{
    organization::v1::DeleteWorkerRequest,
    roles,
    stations::v1::{self as pb, Amenity},
};
use redsupply_tests::TestApp;
use tonic::Code;
use uuid::Uuid;

/// Ten points for `worker` (an hour of confirmed volunteer service, as governance would
/// announce it).
async fn earn(app: &TestApp, worker: Uuid) {
    app.confirmed_volunteer_hours(worker, 1.0).await;
}

async fn leaders(app: &TestApp, community: Uuid) -> Vec<String> {
    app.leaderboard(community)
        .await
        .into_iter()
        .map(|(w, _)| w)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_worker_leaves_the_leaderboard_and_can_no_longer_redeem_or_visit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut points = app.points().await;
    let community = app.create_community("Zhangping").await;
    let (gone, _) = app.register_worker_in(Some(community), "Leaving").await;
    let (stays, _) = app.register_worker_in(Some(community), "Staying").await;
    app.stations_know_community(community).await;
    app.stations_know_worker(gone).await;
    app.stations_know_worker(stays).await;

    let station = app
        .create_station("Zhangping rest stop", 29.74, 103.57)
        .await;
    let reward = app.create_reward("Soap", 2).await;
    points
        .supply_stock(with_bearer(
            pb::SupplyStockRequest {
                request_id: "lot".into(),
                station_id: station.id.clone(),
                community_id: community.to_string(),
                reward_id: reward.id.clone(),
                quantity: 5,
            },
            &admin,
        ))
        .await
        .unwrap();
    earn(&app, gone).await;
    earn(&app, stays).await;
    app.await_balance(gone, 10).await;
    app.await_balance(stays, 10).await;
    let both = leaders(&app, community).await;
    assert!(both.contains(&gone.to_string()) && both.contains(&stays.to_string()));

    app.organization()
        .await
        .delete_worker(with_bearer(
            DeleteWorkerRequest {
                worker_id: gone.to_string(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();
    app.await_row(
        "stations to learn the deletion",
        "SELECT count(*) FROM stations.workers WHERE id = $1 AND deleted",
        gone,
    )
    .await;

    assert_eq!(
        leaders(&app, community).await,
        vec![stays.to_string()],
        "a deleted worker is not ranked"
    );
    let redeem = |worker: Uuid, request_id: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::RedeemRequest {
                request_id: request_id.into(),
                worker_id: worker.to_string(),
                community_id: community.to_string(),
                reward_id: reward.id.clone(),
                quantity: 1,
            },
            &app.token(roles::WORKER, &worker.to_string()),
        );
        async move { points.redeem(req).await }
    };
    let refused = redeem(gone, "r1").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("worker_id"), "{refused:?}");
    let visit = app
        .stations()
        .await
        .record_visit(with_bearer(
            pb::RecordVisitRequest {
                request_id: "v1".into(),
                station_id: station.id.clone(),
                worker_id: gone.to_string(),
                amenities_used: vec![Amenity::Rest as i32],
                location: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(visit.code(), Code::FailedPrecondition, "{visit:?}");

    // Nothing was taken: the balance and the stock are as they were, and the history stays.
    app.await_balance(gone, 10).await;
    let ledger = app.ledger_entries(gone, &admin).await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    // The worker who stays still redeems, from the same stock.
    let kept = redeem(stays, "r2").await.unwrap().into_inner();
    assert_eq!(kept.balance, 8);
}

/// A worker deleted before stations kept the flag: its row says "not deleted" at the version the
/// deletion had. `redsupply republish` announces that version again, and stations takes the flag
/// from it; an older announcement changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republished_deletion_at_the_version_held_corrects_an_old_row() {
    use redsupply_proto::events::v1::WorkerUpdated;
    let app = TestApp::spawn().await;
    let community = app.create_community("Huangtu").await;
    let (worker, _) = app.register_worker_in(Some(community), "Old row").await;
    app.stations_know_worker(worker).await;
    let pool = app.db.pool().await;
    let version: i64 = sqlx::query_scalar("SELECT version FROM stations.workers WHERE id = $1")
        .bind(worker)
        .fetch_one(&pool)
        .await
        .unwrap();
    let announce = |version: i64, deleted: bool| WorkerUpdated {
        worker_id: worker.to_string(),
        community_id: community.to_string(),
        platform: "Meituan".into(),
        version,
        deleted,
        ..Default::default()
    };
    // An older version first: applied (its inbox row is written) but changes nothing.
    let older = app
        .publish_event(
            "redsupply.organization.worker.updated",
            &announce(version - 1, true),
        )
        .await;
    app.await_row(
        "stations to take the older announcement",
        "SELECT count(*) FROM stations.inbox WHERE consumer = 'stations-workers' AND event_id = $1",
        older,
    )
    .await;
    let deleted: bool = sqlx::query_scalar("SELECT deleted FROM stations.workers WHERE id = $1")
        .bind(worker)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!deleted, "an older version changed the row");
    app.publish_event(
        "redsupply.organization.worker.updated",
        &announce(version, true),
    )
    .await;
    app.await_row(
        "stations to take the flag at the version it holds",
        "SELECT count(*) FROM stations.workers WHERE id = $1 AND deleted",
        worker,
    )
    .await;
    let (held, deleted): (i64, bool) =
        sqlx::query_as("SELECT version, deleted FROM stations.workers WHERE id = $1")
            .bind(worker)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((held, deleted), (version, true));
}
