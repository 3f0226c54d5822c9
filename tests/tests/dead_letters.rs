//! Events a consumer cannot apply end as dead letters, visible to operators; once the cause is
//! fixed, a replay applies them where they failed and nowhere else.

use async_nats::jetstream::message::PublishMessage;
use kit::bus::{dead_letters, headers};
use prost::Message;
use redsupply_proto::{
    common::v1::LatLng,
    events::v1::TipSubmitted,
    governance::v1::{TipCategory, TipStatus},
};
use redsupply_tests::{TestApp, eventually};
use uuid::Uuid;

async fn publish_raw(app: &TestApp, subject: &str, payload: Vec<u8>) -> Uuid {
    let id = Uuid::now_v7();
    let mut h = async_nats::HeaderMap::new();
    h.insert(headers::ID, id.to_string().as_str());
    h.insert(headers::MSG_ID, id.to_string().as_str());
    let producer = subject.split('.').nth(1).unwrap_or_default();
    h.insert(headers::SOURCE, format!("redsupply/{producer}").as_str());
    app.rt
        .bus
        .jetstream
        .send_publish(
            subject.to_owned(),
            PublishMessage::build().payload(payload.into()).headers(h),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_decoded_is_parked_by_each_consumer() {
    let app = TestApp::spawn().await;
    let id = publish_raw(
        &app,
        "redsupply.governance.tip.submitted",
        vec![0xff, 0xff, 0xff],
    )
    .await;
    let gov = governance::pool(&app.settings.common).unwrap();
    let sta = stations::pool(&app.settings.common).unwrap();
    for (pool, consumer) in [
        (&gov, governance::DISPATCH_CONSUMER),
        (&sta, stations::POINTS_CONSUMER),
    ] {
        let letter = eventually("the dead letter", || async {
            dead_letters::list(pool, false)
                .await
                .ok()?
                .into_iter()
                .next()
        })
        .await;
        assert_eq!(letter.consumer, consumer);
        assert_eq!(letter.event_id, Some(id));
        assert!(letter.error.contains("decode"), "{}", letter.error);
    }
    // Parked events are acknowledged: nothing is left pending.
    app.consumer_idle("governance", governance::DISPATCH_CONSUMER)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_applies_the_event_only_where_it_failed() {
    let app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Li Wei").await;
    // A tip event arrives before its tip exists (say, a restore lost the row): dispatch parks it,
    // while the points consumer awards it.
    let tip_id = Uuid::now_v7();
    let event = TipSubmitted {
        tip_id: tip_id.to_string(),
        reporter_id: worker.to_string(),
        category: TipCategory::Traffic as i32,
        location: Some(LatLng {
            latitude: 29.735,
            longitude: 103.565,
        }),
        ..Default::default()
    };
    publish_raw(
        &app,
        "redsupply.governance.tip.submitted",
        event.encode_to_vec(),
    )
    .await;
    let gov = governance::pool(&app.settings.common).unwrap();
    let letter = eventually("dispatch to park the event", || async {
        dead_letters::list(&gov, false)
            .await
            .ok()?
            .into_iter()
            .next()
    })
    .await;
    assert!(letter.error.contains("does not exist"), "{}", letter.error);
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;

    // The operator restores the tip, then replays.
    sqlx::query(
        "INSERT INTO governance.tips (id, request_id, reporter_id, submitted_by, category, description,
             latitude, longitude, observed_at, status)
         VALUES ($1, 'restored', $2, 'ops', 2, 'restored tip', 29.735, 103.565, now(), 1)",
    )
    .bind(tip_id)
    .bind(worker)
    .execute(&app.db.pool().await)
    .await
    .unwrap();
    dead_letters::replay(&gov, &app.rt.bus, letter.id)
        .await
        .unwrap();
    assert!(matches!(
        dead_letters::replay(&gov, &app.rt.bus, letter.id).await,
        Err(dead_letters::ReplayError::AlreadyReplayed(_))
    ));

    app.await_tip(
        "the replayed tip to be routed",
        &tip_id.to_string(),
        &token,
        |t| t.status() == TipStatus::Routed,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.pending, 5, "the points consumer skipped the replay");
    assert!(dead_letters::list(&gov, false).await.unwrap().is_empty());
}
