//! `StationsService` (`stations.rs`: stations, the 5-minute circle, visits, coverage),
//! `PointsService` (`points.rs`: balance, ledger, supermarkets, the leaderboard) and
//! `HonoursService` (`honours.rs`: selections, nominations, reviews) in and out; here the
//! shared state, the scope checks and the station announcement. Field checks are `validate`, the
//! ids a request names `references`.

mod honours;
mod points;
pub mod policy;
mod references;
mod stations;
mod supermarket;
mod validate;

use std::collections::HashMap;

use chrono::Utc;
use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::{Caller, caller},
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    roles::WORKER,
    stations::v1::{
        self as pb, AmenityStatus, StationTier, points_service_server::PointsService,
        stations_service_server::StationsService,
    },
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use self::validate::MAX_LIMIT;
use crate::{
    app::{self, index::Stations},
    domain::{self, LocalClock, travel_minutes},
    store::{self, StationRow},
};

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    /// Riding speeds: the county's, its areas', each station's own.
    pub speeds: domain::Speeds,
    pub clock: LocalClock,
    pub stations: Stations,
    /// Coverage answers until a station or grid changes.
    pub coverage: crate::app::coverage::CoverageCache,
    /// Where the county lies: stations outside it are refused.
    pub county: kit::geo::Extent,
    /// Amenity reports per caller and minute: this replica's first guard (the count every
    /// replica shares is the stored reports', `app::stations::report_amenity`).
    pub amenity_reports: kit::limit::RateLimit,
    pub amenity_reports_per_minute: u32,
    /// How far from a station a worker may check in.
    pub visit_radius_meters: f64,
    /// When workers' reports take an amenity out.
    pub report_rules: domain::ReportRules,
    /// The points rules (an honour's points are credited by them).
    pub rules: app::awards::Rules,
    pub honours: domain::honours::HonoursSettings,
}

fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> Status {
    move |e| internal(context, e)
}

/// A station use case's refusal as the status the contract gives it; a store failure keeps its
/// cause under `context`.
fn refusal(context: &'static str, e: app::stations::StationsError) -> Status {
    use app::stations::StationsError as E;
    match e {
        E::NotFound(what, id) => not_found(what, id),
        E::UnknownReference {
            field,
            what,
            id,
            why,
        } => references::unknown(field, what, id, why),
        E::Invalid { field, why } => invalid(field, why),
        E::Stale { .. } => Status::aborted(e.to_string()),
        E::NameTaken => kit::api::already_exists("station.name", &e.to_string(), None),
        E::Retired(_) => Status::failed_precondition(e.to_string()),
        E::TooManyReports(_) => Status::resource_exhausted(e.to_string()),
        E::TooFar { .. } => {
            let description = e.to_string();
            references::precondition("location", "TOO_FAR", &description)
        }
        E::Store(e) => internal(context, e),
    }
}

impl Api {
    /// Stations with their amenity states and whether they are open now.
    async fn to_pb(&self, rows: Vec<StationRow>) -> Result<Vec<pb::Station>, Status> {
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        let states = store::amenity_states(&self.pool, &ids)
            .await
            .map_err(fail("loading amenity states"))?;
        let states: HashMap<(Uuid, i16), store::AmenityStateRow> = states
            .into_iter()
            .map(|st| ((st.station_id, st.amenity), st))
            .collect();
        let minute = self.clock.minute_of_day(Utc::now());
        Ok(rows
            .into_iter()
            .map(|s| {
                let open_now = s.hours().open_at(minute);
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
                    amenity_states: s
                        .amenities
                        .iter()
                        .map(|&a| {
                            let st = states.get(&(s.id, a));
                            pb::AmenityState {
                                amenity: i32::from(a),
                                status: st.map_or(AmenityStatus::Working as i32, |st| {
                                    i32::from(st.status)
                                }),
                                note: st.map(|st| st.note.clone()).unwrap_or_default(),
                                updated_at: st.map(|st| to_timestamp(st.updated_at)),
                                reports: st.map_or(0, |st| st.reports),
                            }
                        })
                        .collect(),
                    amenities: s.amenities.into_iter().map(i32::from).collect(),
                    community_id: s.community_id.map(|c| c.to_string()).unwrap_or_default(),
                    opening_hours: Some(pb::OpeningHours {
                        always_open: s.always_open,
                        opens_minute: s.opens_minute,
                        closes_minute: s.closes_minute,
                    }),
                    open_now: open_now && s.retired_at.is_none(),
                    version: s.version,
                    retired_at: s.retired_at.map(to_timestamp),
                    retired_reason: s.retired_reason,
                    riding_speed_kmh: s.riding_speed_kmh.unwrap_or(0.0),
                }
            })
            .collect())
    }

    async fn one(&self, row: StationRow) -> Result<pb::Station, Status> {
        Ok(self.to_pb(vec![row]).await?.remove(0))
    }

    /// This replica sees its own change at once; others on NOTIFY.
    /// PERMISSION_DENIED unless the caller may act for `worker`: themself, or staff of the
    /// worker's community (as the registry's events told stations).
    async fn ensure_for_worker(&self, caller: &Caller, worker: Uuid) -> Result<(), Status> {
        if caller.is_county() || (caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            return Ok(());
        }
        let community = store::worker_community(&self.pool, worker)
            .await
            .map_err(fail("checking the caller's scope"))?
            .flatten();
        caller.ensure_for_worker(worker, community)
    }

    /// PERMISSION_DENIED unless the station's community is in the caller's scope; NOT_FOUND when
    /// there is no such station.
    async fn ensure_station(&self, caller: &Caller, station: Uuid) -> Result<(), Status> {
        let community = store::station_community(&self.pool, station)
            .await
            .map_err(fail("checking the caller's scope"))?
            .ok_or_else(|| not_found("station", station))?;
        caller.ensure_community(community)
    }

    async fn refresh(&self) {
        if let Err(e) = self.stations.reload(&self.pool).await {
            tracing::warn!(error = %e, "station index reload failed");
        }
    }
}
