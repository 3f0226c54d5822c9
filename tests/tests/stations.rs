//! Stations against the real stack: amenities that break and get repaired (and what the nearest
//! search makes of it), opening hours, optimistic versions, visits and usage, and the coverage of
//! grids by the 5-minute circle.

use chrono::{Timelike, Utc};
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    roles,
    stations::v1::{
        self as pb, Amenity, AmenityStatus, StationHost, StationTier,
        stations_service_client::StationsServiceClient,
    },
};
use redsupply_tests::TestApp;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;
use uuid::Uuid;

fn station(
    name: &str,
    lat: f64,
    lng: f64,
    amenities: &[Amenity],
    hours: Option<pb::OpeningHours>,
) -> pb::Station {
    pb::Station {
        name: name.into(),
        tier: StationTier::Community as i32,
        host: StationHost::CommunityCentre as i32,
        location: Some(LatLng {
            latitude: lat,
            longitude: lng,
        }),
        amenities: amenities.iter().map(|a| *a as i32).collect(),
        opening_hours: hours,
        ..Default::default()
    }
}

async fn create(
    c: &mut StationsServiceClient<Channel>,
    admin: &str,
    s: pb::Station,
) -> pb::Station {
    c.upsert_station(with_bearer(
        pb::UpsertStationRequest {
            request_id: s.name.clone(),
            station: Some(s),
            expected_version: 0,
            update_mask: None,
        },
        admin,
    ))
    .await
    .unwrap()
    .into_inner()
    .station
    .unwrap()
}

async fn nearest(
    c: &mut StationsServiceClient<Channel>,
    token: &str,
    amenity: Amenity,
    open_now: bool,
) -> Vec<String> {
    c.find_nearest_stations(with_bearer(
        pb::FindNearestStationsRequest {
            location: Some(LatLng {
                latitude: 29.7400,
                longitude: 103.5700,
            }),
            amenity: amenity as i32,
            limit: 10,
            open_now,
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .stations
    .into_iter()
    .map(|n| n.station.unwrap().name)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_charger_is_reported_shown_and_repaired_and_closed_stations_drop_out() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let worker = Uuid::now_v7();
    let token = app.token(roles::WORKER, &worker.to_string());
    let mut c = app.stations().await;
    // Local (UTC+8) minute now; the far station opens an hour from now.
    let local = (Utc::now() + chrono::Duration::hours(8)).time();
    let minute = (local.hour() * 60 + local.minute()) as i32;
    let closed_now = pb::OpeningHours {
        always_open: false,
        opens_minute: (minute + 60) % 1440,
        closes_minute: (minute + 120) % 1440,
    };
    let near = create(
        &mut c,
        &admin,
        station(
            "Near",
            29.7401,
            103.5701,
            &[Amenity::Rest, Amenity::Charging],
            None,
        ),
    )
    .await;
    create(
        &mut c,
        &admin,
        station(
            "Far",
            29.7450,
            103.5750,
            &[Amenity::Charging],
            Some(closed_now),
        ),
    )
    .await;
    create(
        &mut c,
        &admin,
        station("Farthest", 29.7600, 103.5900, &[Amenity::Charging], None),
    )
    .await;
    assert_eq!(
        nearest(&mut c, &token, Amenity::Charging, false).await,
        ["Near", "Far", "Farthest"]
    );
    assert_eq!(
        nearest(&mut c, &token, Amenity::Charging, true).await,
        ["Near", "Farthest"]
    );

    // A rider finds the charger broken: it is shown as reported, and still counts.
    let reporter = c.clone();
    let report = |token: String, note: &'static str| {
        let mut c = reporter.clone();
        let req = with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: near.id.clone(),
                amenity: Amenity::Charging as i32,
                status: AmenityStatus::Broken as i32,
                note: note.into(),
            },
            &token,
        );
        async move {
            let shown = c
                .report_amenity_status(req)
                .await
                .unwrap()
                .into_inner()
                .station
                .unwrap();
            shown
                .amenity_states
                .into_iter()
                .find(|s| s.amenity == Amenity::Charging as i32)
                .unwrap()
        }
    };
    let charging = report(token.clone(), "socket sparks").await;
    assert_eq!(
        (charging.status(), charging.note.as_str(), charging.reports),
        (AmenityStatus::ReportedBroken, "socket sparks", 1)
    );
    assert_eq!(
        nearest(&mut c, &token, Amenity::Charging, true).await,
        ["Near", "Farthest"],
        "one unconfirmed report takes nothing out"
    );
    // The same rider again is still one reporter; two more riders make three.
    assert_eq!(report(token.clone(), "still sparks").await.reports, 1);
    let second = app.token(roles::WORKER, &Uuid::now_v7().to_string());
    assert_eq!(report(second.clone(), "no power").await.reports, 2);
    let third = app.token(roles::WORKER, &Uuid::now_v7().to_string());
    let charging = report(third, "dead socket").await;
    assert_eq!(
        (charging.status(), charging.reports),
        (AmenityStatus::Broken, 3)
    );
    assert_eq!(
        nearest(&mut c, &token, Amenity::Charging, true).await,
        ["Farthest"]
    );
    assert_eq!(
        nearest(&mut c, &token, Amenity::Rest, true).await,
        ["Near"],
        "its other amenities still count"
    );

    // Only staff mark repairs.
    let err = c
        .report_amenity_status(with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: near.id.clone(),
                amenity: Amenity::Charging as i32,
                status: AmenityStatus::Working as i32,
                note: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    c.report_amenity_status(with_bearer(
        pb::ReportAmenityStatusRequest {
            station_id: near.id.clone(),
            amenity: Amenity::Charging as i32,
            status: AmenityStatus::Working as i32,
            note: "socket replaced".into(),
        },
        &admin,
    ))
    .await
    .unwrap();
    assert_eq!(
        nearest(&mut c, &token, Amenity::Charging, true).await,
        ["Near", "Farthest"]
    );
    // After the repair the earlier reports no longer count, and a report older than the window
    // (two hours by default) does not either.
    let again = report(token.clone(), "sparks again").await;
    assert_eq!(
        (again.status(), again.reports),
        (AmenityStatus::ReportedBroken, 1)
    );
    let pool = app.db.pool().await;
    sqlx::query(
        "UPDATE stations.amenity_reports SET reported_at = now() - interval '3 hours'
         WHERE note = 'sparks again'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(report(second, "flickers").await.reports, 1);
    // Staff of another community saying "broken" file a report too; nobody sets the reported
    // state by hand.
    let elsewhere = app.scoped_token(
        roles::COMMUNITY_ADMIN,
        "clerk-elsewhere",
        &[Uuid::now_v7()],
        &[],
    );
    let clerk = report(elsewhere.clone(), "seen broken").await;
    assert_eq!(
        (clerk.status(), clerk.reports),
        (AmenityStatus::ReportedBroken, 2)
    );
    let by_hand = c
        .report_amenity_status(with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: near.id.clone(),
                amenity: Amenity::Charging as i32,
                status: AmenityStatus::ReportedBroken as i32,
                note: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_hand.code(), Code::InvalidArgument, "{by_hand:?}");

    let err = c
        .report_amenity_status(with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: near.id.clone(),
                amenity: Amenity::Reading as i32,
                status: AmenityStatus::Broken as i32,
                note: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "the station has no reading corner"
    );

    // Versions guard concurrent edits.
    let mut renamed = near.clone();
    renamed.name = "Near (renamed)".into();
    let stale = c
        .upsert_station(with_bearer(
            pb::UpsertStationRequest {
                station: Some(renamed.clone()),
                request_id: String::new(),
                expected_version: near.version + 5,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let saved = c
        .upsert_station(with_bearer(
            pb::UpsertStationRequest {
                station: Some(renamed),
                request_id: String::new(),
                expected_version: near.version,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert_eq!(
        (saved.name.as_str(), saved.version),
        ("Near (renamed)", near.version + 1)
    );

    let err = c
        .upsert_station(with_bearer(
            pb::UpsertStationRequest {
                request_id: "bad".into(),
                station: Some(pb::Station {
                    name: "Bad".into(),
                    ..Default::default()
                }),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert!(
        fields.contains(&"station.tier".to_string())
            && fields.contains(&"station.location".to_string()),
        "{fields:?}"
    );
    let err = c
        .upsert_station(with_bearer(pb::UpsertStationRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_give_usage_per_station_amenity_and_hour() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut c = app.stations().await;
    let s = create(
        &mut c,
        &admin,
        station(
            "Main",
            29.74,
            103.57,
            &[Amenity::Rest, Amenity::DrinkingWater, Amenity::Charging],
            None,
        ),
    )
    .await;
    // Visits are for registered workers.
    let (w1, _) = app.register_worker("Li Wei").await;
    let (w2, _) = app.register_worker("Wang Fang").await;
    app.stations_know_worker(w1).await;
    app.stations_know_worker(w2).await;
    // A worker checks in from a few steps away (about 55 m north of the station).
    let here = LatLng {
        latitude: 29.7405,
        longitude: 103.57,
    };
    let visit_from = |worker: Uuid, request_id: &str, used: &[Amenity], at: Option<LatLng>| {
        let mut c = c.clone();
        let req = with_bearer(
            pb::RecordVisitRequest {
                request_id: request_id.into(),
                station_id: s.id.clone(),
                worker_id: worker.to_string(),
                amenities_used: used.iter().map(|a| *a as i32).collect(),
                location: at,
            },
            &app.token(roles::WORKER, &worker.to_string()),
        );
        async move { c.record_visit(req).await }
    };
    let visit = |worker: Uuid, request_id: &str, used: &[Amenity]| {
        visit_from(worker, request_id, used, Some(here))
    };
    let first = visit(w1, "v1", &[Amenity::Rest, Amenity::Charging])
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    let retry = visit(w1, "v1", &[Amenity::Rest, Amenity::Charging])
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(first.id, retry.id);
    assert_eq!(first.proof(), pb::VisitProof::Location);
    assert!(
        (first.distance_meters - 55.6).abs() < 1.0,
        "{}",
        first.distance_meters
    );
    // A check-in needs where the worker stands, and near the station.
    let err = visit_from(w2, "nowhere", &[], None).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("location"), "{err:?}");
    let across_town = LatLng {
        latitude: 29.75,
        longitude: 103.57,
    };
    let err = visit_from(w2, "far", &[], Some(across_town))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("1112 m from the station"), "{err:?}");
    visit(w1, "v2", &[Amenity::DrinkingWater]).await.unwrap();
    visit(w2, "v1", &[Amenity::Charging]).await.unwrap();
    let err = visit(w2, "v2", &[Amenity::Reading]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut someone_else = c.clone();
    let err = someone_else
        .record_visit(with_bearer(
            pb::RecordVisitRequest {
                request_id: "x".into(),
                station_id: s.id.clone(),
                worker_id: w2.to_string(),
                amenities_used: vec![],
                location: Some(here),
            },
            &app.token(roles::WORKER, &w1.to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let usage = c
        .get_station_usage(with_bearer(
            pb::GetStationUsageRequest {
                station_id: s.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((usage.visits, usage.workers), (3, 2));
    let by_amenity: Vec<(i32, i64)> = usage
        .by_amenity
        .iter()
        .map(|u| (u.amenity, u.visits))
        .collect();
    assert_eq!(
        by_amenity,
        [
            (Amenity::Rest as i32, 1),
            (Amenity::DrinkingWater as i32, 1),
            (Amenity::Charging as i32, 2)
        ]
    );
    let local_hour = (Utc::now() + chrono::Duration::hours(8)).hour() as i32;
    let hours: i64 = usage.by_hour.iter().map(|h| h.visits).sum();
    assert_eq!(hours, 3);
    assert!(
        usage
            .by_hour
            .iter()
            .any(|h| h.hour == local_hour || h.hour == (local_hour + 23) % 24)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_shows_the_parts_of_a_grid_beyond_five_minutes_of_a_station() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    // ~3.3 km square with one station at its south-west corner.
    let grid = app.create_grid("Big grid", 29.70, 103.50, 0.03).await;
    app.await_count(
        "stations to learn the grid",
        "SELECT count(*) FROM stations.grids",
        1,
    )
    .await;
    let mut c = app.stations().await;
    create(
        &mut c,
        &admin,
        station("Corner", 29.70, 103.50, &[Amenity::Rest], None),
    )
    .await;
    let coverage = |amenity: Amenity| {
        let mut c = c.clone();
        let req = with_bearer(
            pb::GetCoverageRequest {
                amenity: amenity as i32,
                max_minutes: 5,
                cell_meters: 100,
                at: None,
                grid_ids: vec![grid.to_string()],
                ..Default::default()
            },
            &admin,
        );
        async move { c.get_coverage(req).await.unwrap().into_inner() }
    };
    let rest = coverage(Amenity::Rest).await;
    assert_eq!(rest.reach_meters, 1_250.0);
    let g = &rest.grids[0];
    assert!(g.cells > 900, "{}", g.cells);
    // A quarter circle of 1.25 km covers about 12% of a 3.3 km square.
    assert!(
        (0.80..0.95).contains(&g.uncovered_fraction),
        "{}",
        g.uncovered_fraction
    );
    for gap in &g.gaps {
        let d = stations::domain::distance_meters(29.70, 103.50, gap.latitude, gap.longitude);
        assert!(d > 1_250.0, "a gap {d:.0} m from the station");
    }
    let reading = coverage(Amenity::Reading).await;
    assert_eq!(
        reading.grids[0].uncovered_cells, reading.grids[0].cells,
        "no station has a reading corner"
    );
}
