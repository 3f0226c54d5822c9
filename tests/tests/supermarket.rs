//! A community points supermarket as its clerk runs it, against the real stack: the county's
//! default catalog and a community's own rewards, stock lots that keep the station that supplied
//! them, redemptions that wait at the counter until handed over or are cancelled with a reason
//! (points and goods go back), the clerk's list, and the events of each change.

use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1 as ev,
    roles,
    stations::v1::{self as pb, RedemptionStatus},
};
use redsupply_tests::TestApp;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_runs_the_community_supermarket_from_catalog_to_counter() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let yingchun = app.create_community("Yingchun").await;
    let qingyi = app.create_community("Qingyi").await;
    app.stations_know_community(yingchun).await;
    app.stations_know_community(qingyi).await;
    let clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-yc", &[yingchun], &[]);
    let other_clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-qy", &[qingyi], &[]);
    let points = app.points().await;

    // The county's default catalog, and Yingchun's own addition.
    let rice = app.create_reward("5 kg of rice", 5).await;
    let upsert = |community: &str, name: &str, token: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::UpsertRewardRequest {
                request_id: format!("{community}-{name}"),
                reward: Some(pb::Reward {
                    name: name.into(),
                    points_cost: 8,
                    community_id: community.into(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            token,
        );
        async move {
            points
                .upsert_reward(req)
                .await
                .map(|r| r.into_inner().reward.unwrap())
        }
    };
    let tea = upsert(&yingchun.to_string(), "Yingchun green tea", &clerk)
        .await
        .unwrap();
    assert_eq!(tea.community_id, yingchun.to_string());
    let denied = upsert(&yingchun.to_string(), "Not yours", &other_clerk)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = upsert("", "County-wide", &clerk).await.unwrap_err();
    assert_eq!(
        denied.code(),
        Code::PermissionDenied,
        "the county's catalog"
    );
    let catalog = |community: uuid::Uuid| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::ListRewardsRequest {
                community_id: community.to_string(),
            },
            &admin,
        );
        async move {
            points
                .list_rewards(req)
                .await
                .unwrap()
                .into_inner()
                .rewards
                .into_iter()
                .map(|s| (s.reward.unwrap().name, s.quantity))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        catalog(yingchun).await,
        [
            ("5 kg of rice".to_string(), 0),
            ("Yingchun green tea".to_string(), 0)
        ]
    );
    assert_eq!(catalog(qingyi).await, [("5 kg of rice".to_string(), 0)]);

    // Two stations supply rice in two lots; Yingchun's tea cannot go to Qingyi.
    let north = app.create_station("North", 29.74, 103.57).await;
    let south = app.create_station("South", 29.72, 103.57).await;
    let supply = |station: &str, community: uuid::Uuid, reward: &str, quantity: i64| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::SupplyStockRequest {
                request_id: format!("{station}-{community}-{reward}"),
                station_id: station.into(),
                community_id: community.to_string(),
                reward_id: reward.into(),
                quantity,
            },
            &admin,
        );
        async move { points.supply_stock(req).await.map(|r| r.into_inner()) }
    };
    let first = supply(&north.id, yingchun, &rice.id, 2).await.unwrap();
    let lot = first.lot.unwrap();
    assert_eq!(
        (lot.station_name.as_str(), lot.quantity, lot.remaining),
        ("North", 2, 2)
    );
    assert_eq!(
        supply(&south.id, yingchun, &rice.id, 3)
            .await
            .unwrap()
            .stock
            .unwrap()
            .quantity,
        5
    );
    supply(&north.id, yingchun, &tea.id, 1).await.unwrap();
    let refused = supply(&north.id, qingyi, &tea.id, 1).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("reward_id"), "{refused:?}");

    let (rider, token) = app.register_worker_in(Some(yingchun), "Li Wei").await;
    app.stations_know_worker(rider).await;
    app.confirmed_volunteer_hours(rider, 3.0).await;
    app.await_balance(rider, 30).await;
    let redeem = |request_id: &str, reward: &str, quantity: i64| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::RedeemRequest {
                request_id: request_id.into(),
                worker_id: rider.to_string(),
                community_id: yingchun.to_string(),
                reward_id: reward.into(),
                quantity,
            },
            &token,
        );
        async move { points.redeem(req).await.map(|r| r.into_inner()) }
    };
    let rice_order = redeem("rice", &rice.id, 3).await.unwrap();
    assert_eq!(rice_order.balance, 15);
    let rice_order = rice_order.redemption.unwrap();
    assert_eq!(rice_order.status(), RedemptionStatus::Pending);
    // The oldest lot goes first.
    let lots = |token: String| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::ListStockLotsRequest {
                community_id: yingchun.to_string(),
                reward_id: rice.id.clone(),
                ..Default::default()
            },
            &token,
        );
        async move { points.list_stock_lots(req).await }
    };
    let left: Vec<(String, i64)> = lots(clerk.clone())
        .await
        .unwrap()
        .into_inner()
        .lots
        .into_iter()
        .map(|l| (l.station_name, l.remaining))
        .collect();
    assert_eq!(left, [("South".to_string(), 2), ("North".to_string(), 0)]);
    assert_eq!(
        lots(other_clerk.clone()).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    // The clerk's list: pending first, with names beside the ids.
    let list = |status: RedemptionStatus, token: String| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::ListRedemptionsRequest {
                community_id: yingchun.to_string(),
                status: status as i32,
                ..Default::default()
            },
            &token,
        );
        async move { points.list_redemptions(req).await }
    };
    let pending = list(RedemptionStatus::Pending, clerk.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.total, 1);
    assert_eq!(pending.redemptions[0].reward_name, "5 kg of rice");
    assert_eq!(
        list(RedemptionStatus::Pending, other_clerk.clone())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // The rider changes their mind: the points and the rice go back where they came from.
    let cancel = |id: &str, token: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::CancelRedemptionRequest {
                redemption_id: id.into(),
                reason: "bought rice elsewhere".into(),
            },
            token,
        );
        async move { points.cancel_redemption(req).await.map(|r| r.into_inner()) }
    };
    let refused = cancel(&rice_order.id, &other_clerk).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let cancelled = cancel(&rice_order.id, &token).await.unwrap();
    assert_eq!(cancelled.balance, 30);
    let r = cancelled.redemption.unwrap();
    assert_eq!(
        (r.status(), r.cancel_reason.as_str()),
        (RedemptionStatus::Cancelled, "bought rice elsewhere")
    );
    assert_eq!(
        cancel(&rice_order.id, &token).await.unwrap().balance,
        30,
        "once"
    );
    let left: Vec<i64> = lots(clerk.clone())
        .await
        .unwrap()
        .into_inner()
        .lots
        .iter()
        .map(|l| l.remaining)
        .collect();
    assert_eq!(left, [3, 2]);

    // Tea, handed over at the counter: then it cannot be cancelled.
    let tea_order = redeem("tea", &tea.id, 1).await.unwrap().redemption.unwrap();
    let hand_over = |id: &str, token: &str| {
        let mut points = points.clone();
        let req = with_bearer(
            pb::HandOverRedemptionRequest {
                redemption_id: id.into(),
            },
            token,
        );
        async move {
            points
                .hand_over_redemption(req)
                .await
                .map(|r| r.into_inner())
        }
    };
    assert_eq!(
        hand_over(&tea_order.id, &other_clerk)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        hand_over(&tea_order.id, &token).await.unwrap_err().code(),
        Code::PermissionDenied,
        "a rider does not hand goods to themself"
    );
    let handed = hand_over(&tea_order.id, &clerk)
        .await
        .unwrap()
        .redemption
        .unwrap();
    assert_eq!(
        (handed.status(), handed.changed_by.as_str()),
        (RedemptionStatus::HandedOver, "clerk-yc")
    );
    assert_eq!(
        hand_over(&tea_order.id, &clerk)
            .await
            .unwrap()
            .redemption
            .unwrap()
            .changed_at,
        handed.changed_at,
        "twice is once"
    );
    let refused = cancel(&tea_order.id, &token).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        hand_over(&rice_order.id, &clerk).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "a cancelled redemption is not handed over"
    );
    let done = list(RedemptionStatus::Unspecified, clerk.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.total, 2);
    assert_eq!(app.balance(rider).await, 22);

    // Every change was announced.
    let catalog_events: Vec<ev::RewardChanged> = app
        .published("stations", "redsupply.stations.reward.changed")
        .await;
    assert_eq!(catalog_events.len(), 2, "rice and tea");
    let supplied: Vec<ev::StockSupplied> = app
        .published("stations", "redsupply.stations.stock.supplied")
        .await;
    assert_eq!(supplied.len(), 3);
    let changed: Vec<ev::RedemptionChanged> = app
        .published("stations", "redsupply.stations.redemption.changed")
        .await;
    let statuses: Vec<(i32, i64)> = changed
        .iter()
        .map(|c| (c.status, c.points_returned))
        .collect();
    assert_eq!(
        statuses,
        [
            (RedemptionStatus::Cancelled as i32, 15),
            (RedemptionStatus::HandedOver as i32, 0)
        ]
    );
    app.assert_ledger_replays().await;
}
