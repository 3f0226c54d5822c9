//! Retiring and restoring a station, as community and county staff would: a retired station leaves
//! searches and lists, takes no visit, report or stock, keeps its record, and comes back when
//! restored; each change is in its history with its reason and who made it.

use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    events::v1::StationUpserted,
    stations::v1::{
        self as pb, Amenity, AmenityStatus, FindNearestStationsRequest, ListStationsRequest,
        StationChange,
    },
};
use redsupply_tests::{TestApp, eventually};
use tonic::Code;

const AT: (f64, f64) = (29.74, 103.57);

async fn nearest(app: &TestApp) -> Vec<String> {
    app.stations()
        .await
        .find_nearest_stations(with_bearer(
            FindNearestStationsRequest {
                location: Some(LatLng {
                    latitude: AT.0,
                    longitude: AT.1,
                }),
                limit: 10,
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .stations
        .into_iter()
        .filter_map(|s| s.station.map(|s| s.id))
        .collect()
}

async fn listed(app: &TestApp, include_retired: bool) -> Vec<String> {
    app.stations()
        .await
        .list_stations(with_bearer(
            ListStationsRequest {
                include_retired,
                page_size: 100,
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .stations
        .into_iter()
        .map(|s| s.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_station_leaves_searches_and_takes_nothing_until_it_is_restored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let community = app.create_community("Mucheng").await;
    let (worker, worker_token) = app.register_worker_in(Some(community), "Rider").await;
    app.stations_know_community(community).await;
    app.stations_know_worker(worker).await;
    let station = app.create_station("Mucheng rest stop", AT.0, AT.1).await;
    let mut stations = app.stations().await;
    assert!(nearest(&app).await.contains(&station.id));

    let retire = |reason: &str, expected_version: i64, token: &str| {
        let mut stations = stations.clone();
        let req = with_bearer(
            pb::RetireStationRequest {
                station_id: station.id.clone(),
                reason: reason.into(),
                expected_version,
            },
            token,
        );
        async move { stations.retire_station(req).await }
    };
    // A worker may not; a reason is required; a stale version is refused.
    assert_eq!(
        retire("closing", 0, &worker_token)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let no_reason = retire("", 0, &admin).await.unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    assert!(no_reason.message().contains("reason"), "{no_reason:?}");
    assert_eq!(
        retire("closing", station.version + 5, &admin)
            .await
            .unwrap_err()
            .code(),
        Code::Aborted
    );

    let retired = retire("the landlord ended the lease", station.version, &admin)
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert!(retired.retired_at.is_some());
    assert_eq!(retired.retired_reason, "the landlord ended the lease");
    assert!(!retired.open_now);
    assert_eq!(retired.version, station.version + 1);
    // Retiring again changes nothing.
    let again = retire("twice", 0, &admin)
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert_eq!(again.version, retired.version);
    assert_eq!(again.retired_reason, "the landlord ended the lease");

    assert!(!nearest(&app).await.contains(&station.id));
    assert!(!listed(&app, false).await.contains(&station.id));
    assert!(listed(&app, true).await.contains(&station.id));
    // Its record stays readable.
    let read = stations
        .get_station(with_bearer(
            pb::GetStationRequest {
                id: station.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert!(read.retired_at.is_some());
    // No visit, report or stock at a retired station.
    let visit = stations
        .record_visit(with_bearer(
            pb::RecordVisitRequest {
                request_id: "v1".into(),
                station_id: station.id.clone(),
                worker_id: worker.to_string(),
                amenities_used: vec![Amenity::Rest as i32],
                location: station.location,
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(visit.code(), Code::FailedPrecondition, "{visit:?}");
    let report = stations
        .report_amenity_status(with_bearer(
            pb::ReportAmenityStatusRequest {
                station_id: station.id.clone(),
                amenity: Amenity::Rest as i32,
                status: AmenityStatus::Broken as i32,
                note: String::new(),
            },
            &worker_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(report.code(), Code::FailedPrecondition, "{report:?}");
    let reward = app.create_reward("Water", 1).await;
    let stock = app
        .points()
        .await
        .supply_stock(with_bearer(
            pb::SupplyStockRequest {
                request_id: "lot".into(),
                station_id: station.id.clone(),
                community_id: community.to_string(),
                reward_id: reward.id.clone(),
                quantity: 3,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stock.code(), Code::FailedPrecondition, "{stock:?}");

    let restored = stations
        .restore_station(with_bearer(
            pb::RestoreStationRequest {
                station_id: station.id.clone(),
                reason: "a new lease".into(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert!(restored.retired_at.is_none() && restored.retired_reason.is_empty());
    assert!(nearest(&app).await.contains(&station.id));
    stations
        .record_visit(with_bearer(
            pb::RecordVisitRequest {
                request_id: "v2".into(),
                station_id: station.id.clone(),
                worker_id: worker.to_string(),
                amenities_used: vec![Amenity::Rest as i32],
                location: station.location,
            },
            &worker_token,
        ))
        .await
        .unwrap();

    let history = stations
        .list_station_history(with_bearer(
            pb::ListStationHistoryRequest {
                station_id: station.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let lines: Vec<(i32, &str, i64)> = history
        .iter()
        .map(|h| (h.change, h.reason.as_str(), h.version))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                StationChange::Restored as i32,
                "a new lease",
                restored.version
            ),
            (
                StationChange::Retired as i32,
                "the landlord ended the lease",
                retired.version
            ),
        ]
    );
    assert!(
        history.iter().all(|h| h.actor == "test-admin"),
        "{history:?}"
    );
    // What other services hear: the retirement and the restoration, each with its flag.
    let heard = eventually("both announcements", || async {
        let mine: Vec<(i64, bool)> = app
            .published::<StationUpserted>("stations", "redsupply.stations.station.upserted")
            .await
            .into_iter()
            .filter(|e| e.station_id == station.id)
            .map(|e| (e.version, e.retired))
            .collect();
        mine.iter()
            .any(|(v, _)| *v == restored.version)
            .then_some(mine)
    })
    .await;
    assert!(heard.contains(&(retired.version, true)), "{heard:?}");
    assert!(heard.contains(&(restored.version, false)), "{heard:?}");
}
