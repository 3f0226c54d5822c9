//! A bus that trusts no stranger: the NATS server runs with the authorization the product ships
//! (`deploy/nats/redsupply-auth.conf`). Nobody connects anonymously or with a wrong password; a
//! service publishes only its own subjects; an event whose `ce-source` contradicts its subject is
//! parked, not applied. (Every other test runs each service with its own NATS user, so the
//! permissions each one needs are exercised by the whole suite.)

use std::time::Duration;

use kit::bus::dead_letters;
use redsupply_proto::{common::v1::LatLng, events::v1 as ev};
use redsupply_tests::{Nats, TestApp, eventually};
use uuid::Uuid;

async fn connect_as(nats: &Nats, user: &str, password: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(kit::bus::inbox_prefix(user))
        .connection_timeout(Duration::from_secs(2))
        .connect(nats.url())
        .await
        .map_err(|e| e.to_string())
}

/// Messages in a stream, as the operator sees them.
async fn stored(app: &TestApp, stream: &str) -> u64 {
    app.rt
        .bus
        .jetstream
        .get_stream(stream)
        .await
        .expect("stream")
        .info()
        .await
        .expect("stream info")
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_and_a_service_publishes_only_its_own_subjects() {
    let app = TestApp::spawn().await;
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(app.nats.url())
        .await;
    assert!(anonymous.is_err(), "an anonymous client connected");
    let wrong = connect_as(&app.nats, "stations", "guessed").await;
    assert!(wrong.is_err(), "a wrong password connected");

    // Organization's credentials: its own subject lands in its stream, stations' does not.
    let org = connect_as(&app.nats, "organization", &Nats::password("organization"))
        .await
        .unwrap();
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(org);
    let before = stored(&app, "REDSUPPLY_STATIONS").await;
    let forged = js
        .publish("redsupply.stations.points.awarded", "999 points".into())
        .await;
    let refused = match forged {
        Err(_) => true,
        Ok(ack) => ack.await.is_err(),
    };
    assert!(refused, "JetStream acknowledged a forged stations event");
    assert_eq!(stored(&app, "REDSUPPLY_STATIONS").await, before);
    let own_before = stored(&app, "REDSUPPLY_ORGANIZATION").await;
    js.publish("redsupply.organization.probe", "hello".into())
        .await
        .expect("publish")
        .await
        .expect("its own subject is acknowledged");
    assert_eq!(stored(&app, "REDSUPPLY_ORGANIZATION").await, own_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_claiming_another_sender_is_parked_and_pays_nothing() {
    let app = TestApp::spawn().await;
    let (worker, _) = app.register_worker("Li Wei").await;
    let tip = ev::TipSubmitted {
        tip_id: Uuid::now_v7().to_string(),
        reporter_id: worker.to_string(),
        category: 1,
        location: Some(LatLng {
            latitude: 29.74,
            longitude: 103.57,
        }),
        ..Default::default()
    };
    let id = app
        .publish_event_as(
            "redsupply.governance.tip.submitted",
            "redsupply/stations",
            &tip,
        )
        .await;
    let pool = stations::pool(&app.settings.common).unwrap();
    let letter = eventually("the forged event parked by the points consumer", || async {
        dead_letters::list(&pool, false)
            .await
            .ok()?
            .into_iter()
            .find(|l| l.event_id == Some(id))
    })
    .await;
    assert_eq!(letter.consumer, stations::POINTS_CONSUMER);
    assert!(letter.error.contains("ce-source"), "{}", letter.error);
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(app.standing(worker).await, 0, "a forged tip paid points");
}
