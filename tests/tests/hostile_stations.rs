//! Hostile input to stations' two services, against the real stack: text with NUL or control
//! characters, over-long request ids, repeated fields of 100,000 elements, undefined enums, numbers
//! a database CHECK would refuse and malformed months or windows are refused naming the field, and
//! nothing is stored; a second station of the same name answers ALREADY_EXISTS; a write naming a
//! worker or community that does not exist answers FAILED_PRECONDITION naming the field; a read of
//! an unknown id answers NOT_FOUND.

use kit::auth::with_bearer;
use prost_types::Timestamp;
use redsupply_proto::{
    common::v1::LatLng,
    roles,
    stations::v1::{
        self as pb, Amenity, AmenityStatus, StationHost, StationTier,
        points_service_client::PointsServiceClient, stations_service_client::StationsServiceClient,
    },
};
use redsupply_tests::{TestApp, field_violations as fields};
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

/// The call was refused as INVALID_ARGUMENT naming exactly `expected`, with a trailer any client
/// reads (default clients stop at 8 KiB of metadata).
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, expected: &[&str]) {
    let err = result.expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), expected, "{}", err.message());
    assert!(
        err.message().len() + err.details().len() < 4_096,
        "a trailer of {} bytes",
        err.message().len() + err.details().len()
    );
}

/// FAILED_PRECONDITION, the message naming `field` first.
#[track_caller]
fn precondition<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let err = result.expect_err("refused");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().starts_with(&format!("{field}: ")),
        "{field} not named: {}",
        err.message()
    );
}

#[track_caller]
fn not_found<T: std::fmt::Debug>(result: Result<T, Status>, what: &str) {
    let err = result.expect_err("refused");
    assert_eq!(err.code(), Code::NotFound, "{what}: {err:?}");
}

fn station(name: &str) -> pb::Station {
    pb::Station {
        name: name.into(),
        tier: StationTier::Community as i32,
        host: StationHost::CommunityCentre as i32,
        location: Some(LatLng {
            latitude: 29.74,
            longitude: 103.57,
        }),
        amenities: vec![Amenity::Rest as i32, Amenity::Charging as i32],
        ..Default::default()
    }
}

async fn upsert(
    c: &mut StationsServiceClient<Channel>,
    token: &str,
    request_id: &str,
    s: pb::Station,
) -> Result<pb::Station, Status> {
    c.upsert_station(with_bearer(
        pb::UpsertStationRequest {
            request_id: request_id.into(),
            station: Some(s),
            expected_version: 0,
            update_mask: None,
        },
        token,
    ))
    .await
    .map(|r| r.into_inner().station.unwrap())
}

async fn reward(p: &mut PointsServiceClient<Channel>, token: &str) -> pb::Reward {
    p.upsert_reward(with_bearer(
        pb::UpsertRewardRequest {
            request_id: "rice".into(),
            reward: Some(pb::Reward {
                name: "5 kg of rice".into(),
                points_cost: 5,
                ..Default::default()
            }),
            update_mask: None,
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .reward
    .unwrap()
}

/// The rows of one of stations' tables.
async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = match table {
        "stations" => "SELECT count(*) FROM stations.stations",
        "rewards" => "SELECT count(*) FROM stations.rewards",
        "visits" => "SELECT count(*) FROM stations.visits",
        "stock" => "SELECT count(*) FROM stations.stock",
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar(sql)
        .fetch_one(&app.db.pool().await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_text_ids_lists_enums_and_numbers_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut c = app.stations().await;
    let mut p = app.points().await;
    let huge_id = "r".repeat(1 << 20);

    // Text: NUL, a line break in a one-line field, a control character; a 1 MB request_id.
    refused(
        upsert(&mut c, &admin, "s1", station("Main\0")).await,
        &["station.name"],
    );
    let mut s = station("Main");
    s.address = "Renmin Road 1\nsecond line".into();
    refused(upsert(&mut c, &admin, "s1", s).await, &["station.address"]);
    refused(
        upsert(&mut c, &admin, &huge_id, station("Main")).await,
        &["request_id"],
    );
    refused(
        upsert(&mut c, &admin, "bell\u{7}", station("Main")).await,
        &["request_id"],
    );
    // Lists: 100,000 amenities is one violation, not 100,000.
    let mut s = station("Main");
    s.amenities = vec![Amenity::Rest as i32; 100_000];
    refused(
        upsert(&mut c, &admin, "s1", s).await,
        &["station.amenities"],
    );
    // Enums.
    let mut s = station("Main");
    s.tier = 999;
    s.amenities = vec![999];
    refused(
        upsert(&mut c, &admin, "s1", s).await,
        &["station.tier", "station.amenities[0]"],
    );
    refused(
        c.list_stations(with_bearer(
            pb::ListStationsRequest {
                tier: 70_000,
                ..Default::default()
            },
            &admin,
        ))
        .await,
        &["tier"],
    );
    refused(
        c.find_nearest_stations(with_bearer(
            pb::FindNearestStationsRequest {
                location: Some(LatLng {
                    latitude: 29.74,
                    longitude: 103.57,
                }),
                amenity: -1,
                limit: 101,
                open_now: false,
            },
            &admin,
        ))
        .await,
        &["amenity", "limit"],
    );
    assert_eq!(
        count(&app, "stations").await,
        0,
        "no refused station stored"
    );

    // Rewards: a 1 MB request_id, a name with a control character, a cost beyond the bound.
    let bad_reward = |request_id: &str, name: &str, points_cost: i64| {
        let mut p = p.clone();
        let req = with_bearer(
            pb::UpsertRewardRequest {
                request_id: request_id.into(),
                reward: Some(pb::Reward {
                    name: name.into(),
                    points_cost,
                    ..Default::default()
                }),
                update_mask: None,
            },
            &admin,
        );
        async move { p.upsert_reward(req).await }
    };
    refused(bad_reward(&huge_id, "Rice", 5).await, &["request_id"]);
    refused(bad_reward("r1", "Rice\u{1b}[2J", 5).await, &["reward.name"]);
    refused(
        bad_reward("r1", "Rice", 1 << 62).await,
        &["reward.points_cost"],
    );
    refused(bad_reward("r1", "Rice", 0).await, &["reward.points_cost"]);
    assert_eq!(count(&app, "rewards").await, 0, "no refused reward stored");

    // Against a real station and reward: notes, visits, usage windows, quantities.
    let main = upsert(&mut c, &admin, "s1", station("Main")).await.unwrap();
    let rice = reward(&mut p, &admin).await;
    refused(
        c.report_amenity_status(with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: main.id.clone(),
                amenity: Amenity::Charging as i32,
                status: AmenityStatus::Broken as i32,
                note: "cable\0cut".into(),
            },
            &admin,
        ))
        .await,
        &["note"],
    );
    let (worker, token) = app.register_worker("Li Wei").await;
    refused(
        c.record_visit(with_bearer(
            pb::RecordVisitRequest {
                request_id: "v1".into(),
                station_id: main.id.clone(),
                worker_id: worker.to_string(),
                amenities_used: vec![Amenity::Rest as i32; 100_000],
                location: main.location,
            },
            &token,
        ))
        .await,
        &["amenities_used"],
    );
    refused(
        c.get_coverage(with_bearer(
            pb::GetCoverageRequest {
                grid_ids: vec![Uuid::now_v7().to_string(); 20_000],
                ..Default::default()
            },
            &admin,
        ))
        .await,
        &["grid_ids"],
    );
    assert_eq!(count(&app, "visits").await, 0, "no refused visit stored");
    let at = |seconds| Some(Timestamp { seconds, nanos: 0 });
    refused(
        c.get_station_usage(with_bearer(
            pb::GetStationUsageRequest {
                station_id: main.id.clone(),
                from: at(1_800_000_060),
                until: at(1_800_000_000),
            },
            &admin,
        ))
        .await,
        &["until"],
    );
    refused(
        c.get_station_usage(with_bearer(
            pb::GetStationUsageRequest {
                station_id: main.id.clone(),
                from: at(-300_000_000_000),
                until: None,
            },
            &admin,
        ))
        .await,
        &["from"],
    );
    let community = app.create_community("Yingchun").await;
    let supply = |quantity: i64| {
        let mut p = p.clone();
        let req = with_bearer(
            pb::SupplyStockRequest {
                request_id: "st1".into(),
                station_id: main.id.clone(),
                community_id: community.to_string(),
                reward_id: rice.id.clone(),
                quantity,
            },
            &admin,
        );
        async move { p.supply_stock(req).await }
    };
    refused(supply(0).await, &["quantity"]);
    refused(supply(i64::MAX).await, &["quantity"]);
    let redeem = |quantity: i64| {
        let mut p = p.clone();
        let req = with_bearer(
            pb::RedeemRequest {
                request_id: "rd1".into(),
                worker_id: worker.to_string(),
                community_id: community.to_string(),
                reward_id: rice.id.clone(),
                quantity,
            },
            &token,
        );
        async move { p.redeem(req).await }
    };
    refused(redeem(-1).await, &["quantity"]);
    refused(redeem(101).await, &["quantity"]);

    // Leaderboards: months spelled otherwise or out of range, a platform with NUL.
    let board = |month: &str, platform: &str| {
        let mut p = p.clone();
        let req = with_bearer(
            pb::GetLeaderboardRequest {
                month: month.into(),
                community_id: String::new(),
                platform: platform.into(),
                limit: 0,
            },
            &admin,
        );
        async move { p.get_leaderboard(req).await }
    };
    for month in [
        "-2026-01", "+2026-01", "2026-1", "9999-01", "2026-13", "02026-01",
    ] {
        refused(board(month, "Meituan").await, &["month"]);
    }
    refused(board("2026-01", "Mei\0tuan").await, &["platform"]);
    board("2026-01", "Meituan")
        .await
        .expect("a well-formed month is answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_station_of_the_same_name_already_exists() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut c = app.stations().await;
    let main = upsert(&mut c, &admin, "s1", station("Main")).await.unwrap();
    let again = upsert(&mut c, &admin, "s1", station("Main")).await.unwrap();
    assert_eq!(again.id, main.id, "a retry answers the first station");

    let err = upsert(&mut c, &admin, "s2", station("Main"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(
        err.message().starts_with("station.name: "),
        "{}",
        err.message()
    );
    assert_eq!(fields(&err), ["station.name"]);

    // Renaming another station to a taken name is refused the same way, and changes nothing.
    let other = upsert(&mut c, &admin, "s3", station("Other"))
        .await
        .unwrap();
    let mut renamed = station("Main");
    renamed.id = other.id.clone();
    let err = upsert(&mut c, &admin, "", renamed).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    let still = c
        .get_station(with_bearer(
            pb::GetStationRequest {
                id: other.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert_eq!(
        (still.name.as_str(), still.version),
        ("Other", other.version)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_naming_a_worker_or_community_that_does_not_exist_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut c = app.stations().await;
    let mut p = app.points().await;
    let main = upsert(&mut c, &admin, "s1", station("Main")).await.unwrap();
    let rice = reward(&mut p, &admin).await;
    let nobody = Uuid::now_v7();
    let nowhere = Uuid::now_v7();

    let visit = |worker: Uuid, token: String| {
        let mut c = c.clone();
        let req = with_bearer(
            pb::RecordVisitRequest {
                request_id: "v1".into(),
                station_id: main.id.clone(),
                worker_id: worker.to_string(),
                amenities_used: vec![Amenity::Rest as i32],
                location: main.location,
            },
            &token,
        );
        async move { c.record_visit(req).await }
    };
    // A visit for a worker nobody registered, by staff and by a token claiming to be them.
    precondition(visit(nobody, admin.clone()).await, "worker_id");
    precondition(
        visit(nobody, app.token(roles::WORKER, &nobody.to_string())).await,
        "worker_id",
    );
    assert_eq!(count(&app, "visits").await, 0);
    // Stock and stations for a community that does not exist.
    let supply = |community: Uuid| {
        let mut p = p.clone();
        let req = with_bearer(
            pb::SupplyStockRequest {
                request_id: Uuid::now_v7().to_string(),
                station_id: main.id.clone(),
                community_id: community.to_string(),
                reward_id: rice.id.clone(),
                quantity: 10,
            },
            &admin,
        );
        async move { p.supply_stock(req).await }
    };
    precondition(supply(nowhere).await, "community_id");
    assert_eq!(count(&app, "stock").await, 0);
    let mut elsewhere = station("Elsewhere");
    elsewhere.community_id = nowhere.to_string();
    let err = upsert(&mut c.clone(), &admin, "s2", elsewhere)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().starts_with("station.community_id: "),
        "{}",
        err.message()
    );
    // A redemption by a worker nobody registered.
    precondition(
        p.clone()
            .redeem(with_bearer(
                pb::RedeemRequest {
                    request_id: "rd1".into(),
                    worker_id: nobody.to_string(),
                    community_id: nowhere.to_string(),
                    reward_id: rice.id.clone(),
                    quantity: 1,
                },
                &app.token(roles::WORKER, &nobody.to_string()),
            ))
            .await,
        "worker_id",
    );

    // Once organization has told stations of them, the same writes go through.
    let community = app.create_community("Yingchun").await;
    let (worker, token) = app.register_worker_in(Some(community), "Li Wei").await;
    app.stations_know_worker(worker).await;
    app.stations_know_community(community).await;
    visit(worker, token)
        .await
        .expect("a registered worker's visit");
    let stock = supply(community).await.expect("stock for a real community");
    assert_eq!(stock.into_inner().stock.unwrap().quantity, 10);
    let mut there = station("There");
    there.community_id = community.to_string();
    upsert(&mut c.clone(), &admin, "s3", there)
        .await
        .expect("a station of a real community");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_unknown_ids_answer_not_found_and_a_registered_worker_reads_zero() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut c = app.stations().await;
    let mut p = app.points().await;
    let unknown = Uuid::now_v7();

    not_found(
        p.get_balance(with_bearer(
            pb::GetBalanceRequest {
                worker_id: unknown.to_string(),
            },
            &admin,
        ))
        .await,
        "GetBalance",
    );
    not_found(
        p.list_ledger_entries(with_bearer(
            pb::ListLedgerEntriesRequest {
                worker_id: unknown.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "ListLedgerEntries",
    );
    not_found(
        c.get_station_usage(with_bearer(
            pb::GetStationUsageRequest {
                station_id: unknown.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "GetStationUsage",
    );
    not_found(
        p.list_rewards(with_bearer(
            pb::ListRewardsRequest {
                community_id: unknown.to_string(),
            },
            &admin,
        ))
        .await,
        "ListRewards",
    );
    not_found(
        p.get_leaderboard(with_bearer(
            pb::GetLeaderboardRequest {
                month: "2026-01".into(),
                community_id: unknown.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "GetLeaderboard",
    );
    not_found(
        c.list_stations(with_bearer(
            pb::ListStationsRequest {
                community_id: unknown.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "ListStations",
    );
    not_found(
        c.get_coverage(with_bearer(
            pb::GetCoverageRequest {
                grid_ids: vec![unknown.to_string()],
                ..Default::default()
            },
            &admin,
        ))
        .await,
        "GetCoverage",
    );

    // A registered worker without a single entry reads 0 and an empty ledger, not NOT_FOUND;
    // a community organization announced has a catalog.
    let community = app.create_community("Yingchun").await;
    let (worker, token) = app.register_worker("Li Wei").await;
    app.stations_know_worker(worker).await;
    app.stations_know_community(community).await;
    let balance = app.balance_as(worker, &token).await;
    assert_eq!(balance.points, 0);
    let entries = app.ledger_entries(worker, &token).await;
    assert!(entries.is_empty());
    reward(&mut p, &admin).await;
    let catalog = p
        .list_rewards(with_bearer(
            pb::ListRewardsRequest {
                community_id: community.to_string(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .rewards;
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].quantity, 0);
}
