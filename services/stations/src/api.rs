//! `StationsService` (nearest stations) and `PointsService` (balance and ledger).

use kit::{
    api::{Violations, internal, not_found, page_after, page_size, parse_id},
    auth::require,
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, GRID_SYSTEM, WORKER},
    stations::v1::{
        self as pb, Amenity, points_service_server::PointsService,
        stations_service_server::StationsService,
    },
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{distance_meters, travel_minutes},
    store::{self, StationRow},
};

const ANYONE: &[&str] = &[
    WORKER,
    GRID_OFFICER,
    COMMUNITY_ADMIN,
    COUNTY_ADMIN,
    GRID_SYSTEM,
];
const LEDGER_READERS: &[&str] = &[WORKER, COMMUNITY_ADMIN, COUNTY_ADMIN];

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub riding_speed_kmh: f64,
}

fn station_to_pb(s: StationRow) -> pb::Station {
    pb::Station {
        id: s.id.to_string(),
        name: s.name,
        tier: i32::from(s.tier),
        host: i32::from(s.host),
        location: Some(LatLng {
            latitude: s.latitude,
            longitude: s.longitude,
        }),
        address: s.address,
        amenities: s.amenities.into_iter().map(i32::from).collect(),
    }
}

/// A worker reads only their own points; staff read anyone's.
fn check_ledger_access(caller: &kit::auth::Caller, worker: Uuid) -> Result<(), Status> {
    if caller.is_only(WORKER) && caller.subject != worker.to_string() {
        return Err(Status::permission_denied(
            "a worker may read only their own points",
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl StationsService for Api {
    #[tracing::instrument(name = "FindNearestStations", skip_all)]
    async fn find_nearest_stations(
        &self,
        request: Request<pb::FindNearestStationsRequest>,
    ) -> Result<Response<pb::FindNearestStationsResponse>, Status> {
        require(&request, ANYONE)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let (lat, lng) = match &r.location {
            None => {
                v.add("location", "is required");
                (0.0, 0.0)
            }
            Some(l) => {
                v.check(
                    l.latitude.is_finite() && (-90.0..=90.0).contains(&l.latitude),
                    "location.latitude",
                    "must be within -90..90",
                )
                .check(
                    l.longitude.is_finite() && (-180.0..=180.0).contains(&l.longitude),
                    "location.longitude",
                    "must be within -180..180",
                );
                (l.latitude, l.longitude)
            }
        };
        let amenity = match Amenity::try_from(r.amenity) {
            Ok(Amenity::Unspecified) => None,
            Ok(a) => Some(a as i16),
            Err(_) => {
                v.add("amenity", format!("{} is not an Amenity", r.amenity));
                None
            }
        };
        v.check(
            (0..=100).contains(&r.limit),
            "limit",
            "must be within 0..100",
        );
        v.into_result()?;
        let limit = if r.limit == 0 { 5 } else { r.limit as usize };

        // Widen a box around the point (an index range scan) until it holds enough stations.
        let mut radius_m = 2_000.0_f64;
        let found = loop {
            let dlat = radius_m / 111_195.0;
            let dlng = dlat / lat.to_radians().cos().max(0.01);
            let rows = store::stations_in_box(
                &self.pool,
                amenity,
                lat - dlat,
                lat + dlat,
                lng - dlng,
                lng + dlng,
            )
            .await
            .map_err(|e| internal("finding stations", e))?;
            let mut near: Vec<(f64, StationRow)> = rows
                .into_iter()
                .map(|s| (distance_meters(lat, lng, s.latitude, s.longitude), s))
                .filter(|(d, _)| *d <= radius_m)
                .collect();
            if near.len() >= limit || radius_m >= 400_000.0 {
                near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
                near.truncate(limit);
                break near;
            }
            radius_m *= 4.0;
        };
        Ok(Response::new(pb::FindNearestStationsResponse {
            stations: found
                .into_iter()
                .map(|(d, s)| pb::NearbyStation {
                    station: Some(station_to_pb(s)),
                    distance_meters: d,
                    travel_minutes: travel_minutes(d, self.riding_speed_kmh),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetStation", skip_all)]
    async fn get_station(
        &self,
        request: Request<pb::GetStationRequest>,
    ) -> Result<Response<pb::GetStationResponse>, Status> {
        require(&request, ANYONE)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let s = store::station(&self.pool, id)
            .await
            .map_err(|e| internal("loading the station", e))?
            .ok_or_else(|| not_found("station", id))?;
        Ok(Response::new(pb::GetStationResponse {
            station: Some(station_to_pb(s)),
        }))
    }
}

#[tonic::async_trait]
impl PointsService for Api {
    #[tracing::instrument(name = "GetBalance", skip_all)]
    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let caller = require(&request, LEDGER_READERS)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        check_ledger_access(&caller, worker)?;
        let points = store::balance(&self.pool, worker)
            .await
            .map_err(|e| internal("loading the balance", e))?;
        Ok(Response::new(pb::GetBalanceResponse {
            balance: Some(pb::Balance {
                worker_id: worker.to_string(),
                points,
            }),
        }))
    }

    #[tracing::instrument(name = "ListLedgerEntries", skip_all)]
    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let caller = require(&request, LEDGER_READERS)?;
        let r = request.into_inner();
        let worker = parse_id("worker_id", &r.worker_id)?;
        check_ledger_access(&caller, worker)?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::entries(&self.pool, worker, after, size)
            .await
            .map_err(|e| internal("listing ledger entries", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            entries: rows
                .into_iter()
                .map(|e| pb::LedgerEntry {
                    id: e.id.to_string(),
                    worker_id: e.worker_id.to_string(),
                    points: e.points,
                    reason: e.reason,
                    source_event_id: e.source_event_id.to_string(),
                    created_at: Some(to_timestamp(e.created_at)),
                })
                .collect(),
        }))
    }
}
