//! The county's world and its references, as staff and platforms meet them: locations outside
//! the county are refused naming the field; a deleted grid hands its open cases back to the
//! county queue (on the feed, too); references to workers nobody registered are refused; read
//! models that missed the registry are filled by `republish`; a caller holds a bounded number of
//! case streams; coverage is for staff and follows new stations.

use futures::StreamExt;
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{SubmitTipRequest, TipCategory, WatchCasesRequest},
    organization::v1::DeleteGridRequest,
    roles,
    stations::v1::{self as pb, Amenity, GetCoverageRequest, StationHost, StationTier},
};
use redsupply_tests::{TestApp, eventually, field_violations as fields};
use tonic::Code;
use uuid::Uuid;

fn tip(reporter: Uuid, latitude: f64, longitude: f64) -> SubmitTipRequest {
    SubmitTipRequest {
        request_id: Uuid::now_v7().to_string(),
        reporter_id: reporter.to_string(),
        category: TipCategory::Traffic as i32,
        description: "Traffic light out".into(),
        location: Some(LatLng {
            latitude,
            longitude,
        }),
        ..Default::default()
    }
}

fn station(name: &str, latitude: f64, longitude: f64) -> pb::UpsertStationRequest {
    pb::UpsertStationRequest {
        station: Some(pb::Station {
            name: name.into(),
            tier: StationTier::Community as i32,
            host: StationHost::CommunityCentre as i32,
            location: Some(LatLng {
                latitude,
                longitude,
            }),
            amenities: vec![Amenity::Rest as i32],
            ..Default::default()
        }),
        request_id: Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_and_stations_outside_the_county_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let mut gov = app.governance().await;
    // Null island, Chengdu (150 km away), and a point past the antimeridian.
    for (lat, lng) in [(0.0, 0.0), (30.66, 104.06), (29.7, -179.9)] {
        let err = gov
            .submit_tip(with_bearer(tip(worker, lat, lng), &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "({lat}, {lng}): {err:?}");
        assert_eq!(fields(&err), ["location"], "({lat}, {lng})");
    }
    let n = app.count("SELECT count(*) FROM governance.tips").await;
    assert_eq!(n, 0, "no refused tip stored");
    // Inside the county it is taken.
    gov.submit_tip(with_bearer(tip(worker, 29.74, 103.57), &token))
        .await
        .unwrap();

    let mut stations = app.stations().await;
    let err = stations
        .upsert_station(with_bearer(
            station("Nowhere", 0.0, 0.0),
            &app.admin_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), ["station.location"]);
    stations
        .upsert_station(with_bearer(
            station("Dongda Street", 29.74, 103.57),
            &app.admin_token(),
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_grid_hands_its_open_cases_back_to_the_county_queue_on_the_feed() {
    let app = TestApp::spawn().await;
    let grid = app.create_grid("Doomed", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let submitted = app
        .submit_tip_at(worker, &token, TipCategory::Traffic, (29.735, 103.565))
        .await;
    let routed = app.dispatched_tip(&submitted.id).await;
    assert_eq!(app.case(&routed.case_id).await.grid_id, grid.to_string());

    let admin = app.admin_token();
    let mut feed = app.watch_cases(WatchCasesRequest::default(), &admin).await;
    let first = feed.next().await.unwrap().unwrap();
    assert!(first.case.is_none(), "the stream opens with a heartbeat");

    app.organization()
        .await
        .delete_grid(with_bearer(
            DeleteGridRequest {
                id: grid.to_string(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();
    let change = redsupply_tests::next_case_change(&mut feed).await;
    let case = change.case.unwrap();
    assert_eq!(case.id, routed.case_id);
    assert_eq!(case.grid_id, "", "back in the county queue");
    assert_eq!(change.previous_grid_id, grid.to_string());
    let case = app.case(&routed.case_id).await;
    assert_eq!(case.grid_id, "");
    assert_eq!(
        case.department,
        app.settings.governance.routing.county_queue
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteers_and_staff_filed_tips_are_only_for_registered_workers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let stranger = Uuid::now_v7();
    let err = app.join_volunteer_team(stranger, &admin).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("worker_id: "), "{err:?}");
    let err = app
        .try_submit_tip(tip(stranger, 29.74, 103.57), &admin)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("reporter_id: "), "{err:?}");
    let volunteers_stored = app
        .count("SELECT count(*) FROM governance.volunteers")
        .await;
    assert_eq!(volunteers_stored, 0);

    // A worker registered a moment ago is taken at once (the call waits for the registration).
    let (worker, _) = app.register_worker("Wang Fang").await;
    app.join_volunteer_team(worker, &admin).await.unwrap();
    app.submit_tip(tip(worker, 29.74, 103.57), &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republishing_fills_read_models_that_missed_the_registry() {
    let app = TestApp::spawn().await;
    let (worker, _) = app.register_worker("Li Wei").await;
    let grid = app.create_grid("Yingchun", 29.73, 103.56, 0.01).await;
    app.stations_know_worker(worker).await;
    const GOVERNANCE_WORKER: &str = "SELECT count(*) FROM governance.workers WHERE id = $1";
    const STATIONS_WORKER: &str = "SELECT count(*) FROM stations.workers WHERE id = $1";
    const STATIONS_GRID: &str = "SELECT count(*) FROM stations.grids WHERE id = $1";
    app.await_row("governance to learn the worker", GOVERNANCE_WORKER, worker)
        .await;
    let pool = app.db.pool().await;
    // As on a deployment older than the stream's retention: the read models never heard of them.
    for sql in [
        "DELETE FROM governance.workers",
        "DELETE FROM stations.workers",
        "DELETE FROM stations.grids",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let org = organization::pool(&app.settings.common).unwrap();
    let done = organization::app::republish::republish(&org).await.unwrap();
    assert_eq!((done.workers, done.grids), (1, 1), "{done:?}");
    app.await_row(
        "governance to hear of the worker again",
        GOVERNANCE_WORKER,
        worker,
    )
    .await;
    app.await_row(
        "stations to hear of the worker again",
        STATIONS_WORKER,
        worker,
    )
    .await;
    app.await_row("stations to hear of the grid again", STATIONS_GRID, grid)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_holds_a_bounded_number_of_case_streams() {
    let app = TestApp::spawn_with(|s| s.governance.watch_streams_per_caller = 2).await;
    app.create_grid("Yingchun", 29.73, 103.56, 0.01).await;
    let token = app.platform_token("municipal-platform").await;
    let open = || async {
        app.gateway()
            .await
            .watch_cases(with_bearer(WatchCasesRequest::default(), &token))
            .await
    };
    let first = open().await.unwrap().into_inner();
    let _second = open().await.unwrap().into_inner();
    let err = open().await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Another platform is not affected.
    let other = app.platform_token("other-platform").await;
    app.gateway()
        .await
        .watch_cases(with_bearer(WatchCasesRequest::default(), &other))
        .await
        .unwrap();
    // Closing a stream gives its place back.
    drop(first);
    eventually("the closed stream's place to come back", || async {
        open().await.ok().map(drop)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_is_for_staff_and_follows_a_new_station() {
    let app = TestApp::spawn().await;
    let grid = app.create_grid("Big grid", 29.70, 103.50, 0.03).await;
    app.await_row(
        "stations to learn the grid",
        "SELECT count(*) FROM stations.grids WHERE id = $1",
        grid,
    )
    .await;
    let (_, worker_token) = app.register_worker("Li Wei").await;
    let request = || GetCoverageRequest {
        max_minutes: 5,
        cell_meters: 100,
        grid_ids: vec![grid.to_string()],
        ..Default::default()
    };
    let mut stations = app.stations().await;
    let err = stations
        .get_coverage(with_bearer(request(), &worker_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer", &[], &[grid]);
    let uncovered = |c: pb::GetCoverageResponse| c.grids[0].uncovered_fraction;
    let before = uncovered(
        stations
            .get_coverage(with_bearer(request(), &officer))
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(before, 1.0, "no station yet");
    // Asked again, the answer comes from the cache (unit-tested in stations::app::coverage); it must not
    // outlive the next station.
    let again = uncovered(
        stations
            .get_coverage(with_bearer(request(), &officer))
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(again, before);
    stations
        .upsert_station(with_bearer(
            station("Centre", 29.715, 103.515),
            &app.admin_token(),
        ))
        .await
        .unwrap();
    // A new station counts at once for the replica that stored it (and within a NOTIFY for
    // the others): the cached answer is not served again.
    let after = eventually("coverage to count the new station", || {
        let (mut stations, officer) = (stations.clone(), officer.clone());
        async move {
            let c = stations
                .get_coverage(with_bearer(request(), &officer))
                .await
                .ok()?
                .into_inner();
            let f = c.grids[0].uncovered_fraction;
            (f < 1.0).then_some(f)
        }
    })
    .await;
    assert!(after < 0.8, "a central station covers a good part: {after}");
}

fn square(lat: f64, lng: f64, size: f64) -> Vec<LatLng> {
    [
        (lat, lng),
        (lat, lng + size),
        (lat + size, lng + size),
        (lat + size, lng),
    ]
    .into_iter()
    .map(|(latitude, longitude)| LatLng {
        latitude,
        longitude,
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_boundaries_lie_in_the_county_and_not_over_another_grid() {
    use redsupply_proto::organization::v1::{Grid, UpsertGridRequest};
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let upsert = |id: &str, request_id: &str, boundary: Vec<LatLng>| {
        let (id, request_id, admin) = (id.to_owned(), request_id.to_owned(), admin.clone());
        let app = &app;
        async move {
            app.organization()
                .await
                .upsert_grid(with_bearer(
                    UpsertGridRequest {
                        grid: Some(Grid {
                            id,
                            name: "Grid".into(),
                            boundary,
                            ..Default::default()
                        }),
                        request_id,
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .map(|r| r.into_inner().grid.unwrap())
        }
    };
    let refused = |r: Result<_, tonic::Status>| {
        let err = r.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(fields(&err), ["grid.boundary"], "{err:?}");
        err.message().to_owned()
    };
    let planet = [
        (-89.0, -179.0),
        (-89.0, 179.0),
        (89.0, 179.0),
        (89.0, -179.0),
    ]
    .into_iter()
    .map(|(latitude, longitude)| LatLng {
        latitude,
        longitude,
    })
    .collect();
    refused(upsert("", "planet", planet).await);
    refused(upsert("", "null-island", square(0.0, 0.0, 0.01)).await);
    // Across the 180° meridian, each corner a valid longitude: read as a band round the globe.
    let across = [(29.7, 179.9), (29.7, -179.9), (29.8, -179.9), (29.8, 179.9)]
        .into_iter()
        .map(|(latitude, longitude)| LatLng {
            latitude,
            longitude,
        })
        .collect();
    refused(upsert("", "antimeridian", across).await);
    refused(upsert("", "huge", square(29.5, 103.35, 0.4)).await);

    let first = upsert("", "first", square(29.73, 103.56, 0.01))
        .await
        .unwrap();
    let message = refused(upsert("", "over", square(29.73, 103.565, 0.01)).await);
    assert!(
        message.contains(&first.id),
        "names the other grid: {message}"
    );
    // A neighbour sharing an edge, a retried create and a change of the grid itself are fine.
    upsert("", "east", square(29.73, 103.57, 0.01))
        .await
        .unwrap();
    let again = upsert("", "first", square(29.73, 103.56, 0.01))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    upsert(&first.id, "", square(29.731, 103.56, 0.0095))
        .await
        .unwrap();
    // Nor may a change move a grid over its neighbour.
    let message = refused(upsert(&first.id, "", square(29.73, 103.565, 0.01)).await);
    assert!(message.contains("overlaps grid"), "{message}");
    // Two grids drawn at once over the same streets: one is taken.
    let (a, b) = tokio::join!(
        upsert("", "race-a", square(29.80, 103.60, 0.01)),
        upsert("", "race-b", square(29.80, 103.605, 0.01)),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    let grids = app.count("SELECT count(*) FROM organization.grids").await;
    assert_eq!(grids, 3, "no refused grid stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_by_phone_and_reporting_amenities_are_rate_limited_per_caller() {
    use redsupply_proto::organization::v1::SearchWorkersRequest;
    let app = TestApp::spawn_with(|s| {
        s.organization.phone_searches_per_minute = 3;
        s.stations.amenity_reports_per_minute = 2;
    })
    .await;
    let admin = app.admin_token();
    let search = |phone: &str| {
        let (phone, admin) = (phone.to_owned(), admin.clone());
        let app = &app;
        async move {
            app.organization()
                .await
                .search_workers(with_bearer(
                    SearchWorkersRequest {
                        phone,
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
        }
    };
    for n in 0..3 {
        search(&format!("1380000000{n}")).await.unwrap();
    }
    let err = search("13800000009").await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Searching by name is not a lookup of numbers.
    search("").await.unwrap();

    let station = app
        .stations()
        .await
        .upsert_station(with_bearer(station("Dongda Street", 29.74, 103.57), &admin))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    let (_, worker) = app.register_worker("Li Wei").await;
    let report = || {
        let (id, worker) = (station.id.clone(), worker.clone());
        let app = &app;
        async move {
            app.stations()
                .await
                .report_amenity_status(with_bearer(
                    pb::ReportAmenityStatusRequest {
                        station_id: id,
                        amenity: Amenity::Rest as i32,
                        status: pb::AmenityStatus::Broken as i32,
                        note: String::new(),
                    },
                    &worker,
                ))
                .await
        }
    };
    report().await.unwrap();
    report().await.unwrap();
    let err = report().await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn education_refuses_unknown_workers_and_communities() {
    use redsupply_proto::education::v1::{
        CheckInRequest, CreateLearningSiteRequest, GetLearningRecordRequest,
    };
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut education = app.education().await;
    let site = |community: Uuid| CreateLearningSiteRequest {
        request_id: Uuid::now_v7().to_string(),
        name: "Rider home".into(),
        community_id: community.to_string(),
        address: "Dongda Street 1".into(),
        capacity: 30,
    };
    let err = education
        .create_learning_site(with_bearer(site(Uuid::now_v7()), &admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("community_id: "), "{err:?}");
    let community = app.create_community("Yingchun").await;
    education
        .create_learning_site(with_bearer(site(community), &admin))
        .await
        .unwrap();

    // A check-in names a worker organization registered; a learning record one education knows.
    let stranger = Uuid::now_v7();
    let err = education
        .check_in(with_bearer(
            CheckInRequest {
                session_id: Uuid::now_v7().to_string(),
                code: "ABCDEFGH".into(),
                worker_id: stranger.to_string(),
            },
            &app.token(roles::WORKER, &stranger.to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("worker_id: "), "{err:?}");
    let err = education
        .get_learning_record(with_bearer(
            GetLearningRecordRequest {
                worker_id: stranger.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let (worker, _) = app.register_worker("Li Wei").await;
    app.await_row(
        "education to learn the worker",
        "SELECT count(*) FROM education.workers WHERE id = $1",
        worker,
    )
    .await;
    let record = education
        .get_learning_record(with_bearer(
            GetLearningRecordRequest {
                worker_id: worker.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(record.entries.is_empty(), "registered, no training yet");
}
