//! How far a station reaches, against the real stack: a station's own riding speed, or its
//! area's, sets its travel minutes and its service circle; coverage asked for one community
//! covers that community's grids; and a worker's amenity reports are limited per minute over
//! every replica, not per replica.

use kit::auth::with_bearer;
use redsupply::ServiceName;
use redsupply_proto::{
    common::v1::LatLng,
    roles,
    stations::v1::{
        self as pb, Amenity, FindNearestStationsRequest, GetCoverageRequest, StationHost,
        StationTier, stations_service_client::StationsServiceClient,
    },
};
use redsupply_tests::TestApp;
use stations::domain::{SpeedArea, travel_minutes};
use tonic::Code;

fn station(name: &str, latitude: f64, longitude: f64, speed: f64) -> pb::UpsertStationRequest {
    pb::UpsertStationRequest {
        request_id: name.into(),
        station: Some(pb::Station {
            name: name.into(),
            tier: StationTier::Community as i32,
            host: StationHost::CommunityCentre as i32,
            location: Some(LatLng {
                latitude,
                longitude,
            }),
            amenities: vec![Amenity::Rest as i32],
            riding_speed_kmh: speed,
            ..Default::default()
        }),
        expected_version: 0,
        update_mask: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_reaches_as_far_as_its_riders_speed_and_coverage_follows_the_community() {
    let app = TestApp::spawn_with(|s| {
        s.stations.speed_areas = vec![SpeedArea {
            name: "Old town lanes".into(),
            riding_speed_kmh: 8.0,
            south: 29.75,
            west: 103.50,
            north: 29.80,
            east: 103.60,
        }];
    })
    .await;
    let admin = app.admin_token();
    let c = app.stations().await;
    // One station sets its own speed, one lies in the old town, one rides at the county's.
    let mut c = c;
    for (name, lat, speed) in [
        ("Hill road", 29.700, 6.0),
        ("Old town", 29.760, 0.0),
        ("Plain", 29.730, 0.0),
    ] {
        let s = c
            .upsert_station(with_bearer(station(name, lat, 103.55, speed), &admin))
            .await
            .unwrap()
            .into_inner()
            .station
            .unwrap();
        assert_eq!(s.riding_speed_kmh, speed);
    }
    let refused = c
        .upsert_station(with_bearer(station("Rocket", 29.71, 103.55, 300.0), &admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("station.riding_speed_kmh"));

    let token = app.register_worker("Li Wei").await.1;
    let near = |lat: f64| {
        let mut c = c.clone();
        let req = with_bearer(
            FindNearestStationsRequest {
                location: Some(LatLng {
                    latitude: lat,
                    longitude: 103.551,
                }),
                limit: 1,
                ..Default::default()
            },
            &token,
        );
        async move {
            let found = c.find_nearest_stations(req).await.unwrap().into_inner();
            let n = found.stations[0].clone();
            (
                n.station.unwrap().name,
                n.distance_meters,
                n.travel_minutes,
                n.riding_speed_kmh,
            )
        }
    };
    for (lat, name, speed) in [
        (29.700, "Hill road", 6.0),
        (29.760, "Old town", 8.0),
        (29.730, "Plain", 15.0),
    ] {
        let (found, d, minutes, kmh) = near(lat).await;
        assert_eq!((found.as_str(), kmh), (name, speed));
        assert!((minutes - travel_minutes(d, speed)).abs() < 1e-9);
    }

    // Two communities, a grid each around the hill-road station's spot: asked for one community,
    // coverage answers for its grid alone; the 6 km/h station reaches 500 m, not 1,250 m.
    let yingchun = app.create_community("Yingchun").await;
    let qingyi = app.create_community("Qingyi").await;
    let near_grid = app
        .create_grid_in(
            Some(yingchun),
            "Around the hill road",
            29.685,
            103.535,
            0.03,
        )
        .await;
    let other = app
        .create_grid_in(Some(qingyi), "Qingyi 1", 29.60, 103.45, 0.01)
        .await;
    for g in [near_grid, other] {
        app.await_row(
            "stations to learn the grid",
            "SELECT count(*) FROM stations.grids WHERE id = $1 AND community_id IS NOT NULL",
            g,
        )
        .await;
    }
    app.stations_know_community(yingchun).await;
    let coverage = c
        .get_coverage(with_bearer(
            GetCoverageRequest {
                max_minutes: 5,
                cell_meters: 50,
                community_id: yingchun.to_string(),
                ..Default::default()
            },
            &app.scoped_token(roles::COMMUNITY_ADMIN, "clerk", &[yingchun], &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = coverage.grids.iter().map(|g| g.grid_id.as_str()).collect();
    assert_eq!(ids, [near_grid.to_string().as_str()]);
    let g = &coverage.grids[0];
    // A 3.3 × 2.9 km square centred on the station: a 500 m circle covers 8% of it (a 1,250 m
    // one would cover half).
    assert!(
        (0.85..0.97).contains(&g.uncovered_fraction),
        "the slow station covers little: {}",
        g.uncovered_fraction
    );
    assert_eq!(coverage.reach_meters, 1_250.0, "the county's reach");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_amenity_reports_are_limited_over_every_replica() {
    let mut app = TestApp::spawn_with(|s| s.stations.amenity_reports_per_minute = 2).await;
    let admin = app.admin_token();
    let mut first = app.stations().await;
    let id = first
        .upsert_station(with_bearer(station("Dongda", 29.74, 103.57, 0.0), &admin))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap()
        .id;
    let addr = app.start_replica(ServiceName::Stations).await;
    let second = StationsServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let (_, worker) = app.register_worker("Li Wei").await;
    let (_, neighbour) = app.register_worker("Wang Fang").await;
    let report = |mut c: StationsServiceClient<tonic::transport::Channel>, token: String| {
        let id = id.clone();
        async move {
            c.report_amenity_status(with_bearer(
                pb::ReportAmenityStatusRequest {
                    station_id: id,
                    amenity: Amenity::Rest as i32,
                    status: pb::AmenityStatus::Broken as i32,
                    note: String::new(),
                },
                &token,
            ))
            .await
        }
    };
    report(first.clone(), worker.clone()).await.unwrap();
    report(first.clone(), worker.clone()).await.unwrap();
    // The other replica has not seen this worker yet; the stored reports have.
    let err = report(second.clone(), worker.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    report(second, neighbour).await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM stations.amenity_reports")
            .await,
        3,
        "the refused report is not kept"
    );
}
