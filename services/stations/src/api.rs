//! `StationsService` (stations, the 5-minute circle, visits, coverage) and `PointsService`
//! (balance, ledger, supermarkets, honours): validation, roles, and mapping to the store.

use std::collections::HashMap;

use chrono::Utc;
use kit::{
    api::{Violations, internal, invalid, not_found, page_after, page_size, parse_id},
    auth::{Caller, caller},
    bus::{NewEvent, enqueue},
    time::{from_timestamp, to_timestamp},
};
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    roles::WORKER,
    stations::v1::{
        self as pb, Amenity, AmenityStatus, StationHost, StationTier,
        points_service_server::PointsService, stations_service_server::StationsService,
    },
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{self, Hours, LocalClock, distance_meters, travel_minutes},
    index::Stations,
    points::SOURCE,
    store::{self, NewStation, StationRow, Upserted},
    supermarket::{self, Redeem, RedeemError},
};

pub const STATION_UPSERTED: &str = "redsupply.stations.station.upserted";
pub const AMENITY_STATUS_CHANGED: &str = "redsupply.stations.station.amenity_status_changed";

/// The largest coverage request (cells) one call may compute.
const MAX_COVERAGE_CELLS: f64 = 2_000_000.0;

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub riding_speed_kmh: f64,
    pub clock: LocalClock,
    pub stations: Stations,
}

fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> Status {
    move |e| internal(context, e)
}

fn check_amenity(v: &mut Violations, field: &str, value: i32, required: bool) -> Option<i16> {
    match Amenity::try_from(value) {
        Ok(Amenity::Unspecified) => {
            v.check(!required, field, "is required");
            None
        }
        Ok(a) => Some(a as i16),
        Err(_) => {
            v.add(field, format!("{value} is not an Amenity"));
            None
        }
    }
}

impl Api {
    /// Stations with their amenity states and whether they are open now.
    async fn to_pb(&self, rows: Vec<StationRow>) -> Result<Vec<pb::Station>, Status> {
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        let states = store::amenity_states(&self.pool, &ids)
            .await
            .map_err(fail("loading amenity states"))?;
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
                            let st = states
                                .iter()
                                .find(|st| st.station_id == s.id && st.amenity == a);
                            pb::AmenityState {
                                amenity: i32::from(a),
                                status: st.map_or(AmenityStatus::Working as i32, |st| {
                                    i32::from(st.status)
                                }),
                                note: st.map(|st| st.note.clone()).unwrap_or_default(),
                                updated_at: st.map(|st| to_timestamp(st.updated_at)),
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
                    open_now,
                    version: s.version,
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

#[tonic::async_trait]
impl StationsService for Api {
    #[tracing::instrument(name = "FindNearestStations", skip_all)]
    async fn find_nearest_stations(
        &self,
        request: Request<pb::FindNearestStationsRequest>,
    ) -> Result<Response<pb::FindNearestStationsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let (lat, lng) = v.location("location", r.location.as_ref());
        let amenity = check_amenity(&mut v, "amenity", r.amenity, false);
        v.check(
            (0..=100).contains(&r.limit),
            "limit",
            "must be within 0..100",
        );
        v.into_result()?;
        let limit = if r.limit == 0 { 5 } else { r.limit as usize };
        let minute = r.open_now.then(|| self.clock.minute_of_day(Utc::now()));
        let index = self.stations.current();
        let found: Vec<(Uuid, f64)> = index
            .nearest(lat, lng, limit, f64::MAX, |s| {
                domain::qualifies(s, amenity, minute)
            })
            .into_iter()
            .map(|(s, d)| (s.id, d))
            .collect();
        let ids: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
        let rows = store::stations_by_ids(&self.pool, &ids)
            .await
            .map_err(fail("finding stations"))?;
        let stations = self.to_pb(rows).await?;
        let by_id: HashMap<String, pb::Station> =
            stations.into_iter().map(|s| (s.id.clone(), s)).collect();
        Ok(Response::new(pb::FindNearestStationsResponse {
            stations: found
                .into_iter()
                .filter_map(|(id, d)| {
                    Some(pb::NearbyStation {
                        station: Some(by_id.get(&id.to_string())?.clone()),
                        distance_meters: d,
                        travel_minutes: travel_minutes(d, self.riding_speed_kmh),
                    })
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetStation", skip_all)]
    async fn get_station(
        &self,
        request: Request<pb::GetStationRequest>,
    ) -> Result<Response<pb::GetStationResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(fail("loading the station"))?;
        let row = store::station(&mut conn, id)
            .await
            .map_err(fail("loading the station"))?
            .ok_or_else(|| not_found("station", id))?;
        Ok(Response::new(pb::GetStationResponse {
            station: Some(self.one(row).await?),
        }))
    }

    #[tracing::instrument(name = "ListStations", skip_all)]
    async fn list_stations(
        &self,
        request: Request<pb::ListStationsRequest>,
    ) -> Result<Response<pb::ListStationsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        let tier = match StationTier::try_from(r.tier) {
            Ok(StationTier::Unspecified) => None,
            Ok(t) => Some(t as i16),
            Err(_) => {
                v.add("tier", "is not a StationTier");
                None
            }
        };
        v.into_result()?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::list_stations(&self.pool, community, tier, after, size)
            .await
            .map_err(fail("listing stations"))?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        Ok(Response::new(pb::ListStationsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            stations: self.to_pb(rows).await?,
        }))
    }

    #[tracing::instrument(name = "UpsertStation", skip_all)]
    async fn upsert_station(
        &self,
        request: Request<pb::UpsertStationRequest>,
    ) -> Result<Response<pb::UpsertStationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let s = r.station.ok_or_else(|| invalid("station", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("station.id", &s.id);
        let name = s.name.trim();
        v.check(!name.is_empty(), "station.name", "is required")
            .check(
                name.chars().count() <= 100,
                "station.name",
                "must be at most 100 characters",
            )
            .check(
                s.address.chars().count() <= 200,
                "station.address",
                "must be at most 200 characters",
            );
        let tier = StationTier::try_from(s.tier).unwrap_or(StationTier::Unspecified);
        let host = StationHost::try_from(s.host).unwrap_or(StationHost::Unspecified);
        v.check(
            tier != StationTier::Unspecified,
            "station.tier",
            "must be a StationTier",
        )
        .check(
            host != StationHost::Unspecified,
            "station.host",
            "must be a StationHost",
        );
        let (lat, lng) = v.location("station.location", s.location.as_ref());
        let mut amenities = Vec::new();
        for (i, a) in s.amenities.iter().enumerate() {
            if let Some(a) = check_amenity(&mut v, &format!("station.amenities[{i}]"), *a, true)
                && !amenities.contains(&a)
            {
                amenities.push(a);
            }
        }
        let community = v.optional_id("station.community_id", &s.community_id);
        let hours = s.opening_hours.unwrap_or(pb::OpeningHours {
            always_open: true,
            ..Default::default()
        });
        v.check(
            (0..1440).contains(&hours.opens_minute),
            "station.opening_hours.opens_minute",
            "must be within 0..1439",
        )
        .check(
            (0..1440).contains(&hours.closes_minute),
            "station.opening_hours.closes_minute",
            "must be within 0..1439",
        )
        .check(
            hours.always_open || hours.opens_minute != hours.closes_minute,
            "station.opening_hours",
            "opens and closes at the same minute; set always_open instead",
        );
        if id.is_none() {
            v.check(
                !r.request_id.is_empty(),
                "request_id",
                "is required to create a station",
            );
        }
        v.into_result()?;
        if let Some(id) = id {
            self.ensure_station(&caller, id).await?;
        }
        caller.ensure_community(community)?;
        let station = NewStation {
            name,
            tier: tier as i16,
            host: host as i16,
            latitude: lat,
            longitude: lng,
            address: s.address.trim(),
            amenities: &amenities,
            community_id: community,
            hours: Hours {
                always_open: hours.always_open,
                opens: hours.opens_minute,
                closes: hours.closes_minute,
            },
        };
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(fail("saving the station"))?;
        let expected = (r.expected_version > 0).then_some(r.expected_version);
        let row = match store::save_station(
            &mut tx,
            &caller.subject,
            Some(&r.request_id),
            id,
            expected,
            &station,
        )
        .await
        .map_err(fail("saving the station"))?
        {
            Upserted::NotFound => return Err(not_found("station", id.unwrap_or_default())),
            Upserted::StaleVersion(current) => {
                return Err(Status::aborted(format!(
                    "the station is at version {current}, not {}; reload and retry",
                    r.expected_version
                )));
            }
            Upserted::Done(row, changed) => {
                if changed {
                    let msg = ev::StationUpserted {
                        station_id: row.id.to_string(),
                        name: row.name.clone(),
                        location: Some(LatLng {
                            latitude: row.latitude,
                            longitude: row.longitude,
                        }),
                        version: row.version,
                        occurred_at: Some(to_timestamp(Utc::now())),
                    };
                    enqueue(
                        &mut tx,
                        NewEvent::new(SOURCE, STATION_UPSERTED, row.id, &msg),
                    )
                    .await
                    .map_err(fail("saving the station"))?;
                    store::notify_stations_changed(&mut tx)
                        .await
                        .map_err(fail("saving the station"))?;
                }
                row
            }
        };
        tx.commit().await.map_err(fail("saving the station"))?;
        self.refresh().await;
        Ok(Response::new(pb::UpsertStationResponse {
            station: Some(self.one(row).await?),
        }))
    }

    #[tracing::instrument(name = "ReportAmenityStatus", skip_all)]
    async fn report_amenity_status(
        &self,
        request: Request<pb::ReportAmenityStatusRequest>,
    ) -> Result<Response<pb::ReportAmenityStatusResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let station = Uuid::parse_str(&r.station_id).ok();
        v.check(station.is_some(), "station_id", "must be a UUID");
        let amenity = check_amenity(&mut v, "amenity", r.amenity, true);
        let status = AmenityStatus::try_from(r.status).unwrap_or(AmenityStatus::Unspecified);
        v.check(
            status != AmenityStatus::Unspecified,
            "status",
            "must be an AmenityStatus",
        )
        .check(
            r.note.chars().count() <= 500,
            "note",
            "must be at most 500 characters",
        );
        v.into_result()?;
        if caller.is_only(WORKER) && status != AmenityStatus::Broken {
            return Err(Status::permission_denied(
                "workers report amenities broken; staff mark repairs",
            ));
        }
        if status != AmenityStatus::Broken {
            // Repairs and closures are marked by the staff of the station's community.
            self.ensure_station(&caller, station.expect("checked"))
                .await?;
        }
        let (station, amenity) = (station.expect("checked"), amenity.expect("checked"));
        let f = fail("reporting the amenity");
        let mut tx = self.pool.begin().await.map_err(&f)?;
        let row = store::station(&mut tx, station)
            .await
            .map_err(&f)?
            .ok_or_else(|| not_found("station", station))?;
        if !row.amenities.contains(&amenity) {
            return Err(invalid("amenity", "this station does not offer it"));
        }
        store::set_amenity_status(&mut tx, station, amenity, status as i16, r.note.trim())
            .await
            .map_err(&f)?;
        let msg = ev::AmenityStatusChanged {
            station_id: station.to_string(),
            amenity: i32::from(amenity),
            status: status as i32,
            note: r.note.trim().to_owned(),
            reported_by: caller.subject.clone(),
            occurred_at: Some(to_timestamp(Utc::now())),
        };
        enqueue(
            &mut tx,
            NewEvent::new(SOURCE, AMENITY_STATUS_CHANGED, station, &msg),
        )
        .await
        .map_err(&f)?;
        store::notify_stations_changed(&mut tx).await.map_err(&f)?;
        tx.commit().await.map_err(&f)?;
        self.refresh().await;
        Ok(Response::new(pb::ReportAmenityStatusResponse {
            station: Some(self.one(row).await?),
        }))
    }

    #[tracing::instrument(name = "RecordVisit", skip_all)]
    async fn record_visit(
        &self,
        request: Request<pb::RecordVisitRequest>,
    ) -> Result<Response<pb::RecordVisitResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let station = Uuid::parse_str(&r.station_id).ok();
        v.check(station.is_some(), "station_id", "must be a UUID");
        let worker = Uuid::parse_str(&r.worker_id).ok();
        v.check(worker.is_some(), "worker_id", "must be a worker id (UUID)");
        let mut used = Vec::new();
        for (i, a) in r.amenities_used.iter().enumerate() {
            if let Some(a) = check_amenity(&mut v, &format!("amenities_used[{i}]"), *a, true) {
                used.push(a);
            }
        }
        v.into_result()?;
        let (station, worker) = (station.expect("checked"), worker.expect("checked"));
        self.ensure_for_worker(&caller, worker).await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(fail("recording the visit"))?;
        let row = store::station(&mut conn, station)
            .await
            .map_err(fail("recording the visit"))?
            .ok_or_else(|| not_found("station", station))?;
        drop(conn);
        if let Some(a) = used.iter().find(|a| !row.amenities.contains(a)) {
            return Err(invalid(
                "amenities_used",
                format!("the station does not offer amenity {a}"),
            ));
        }
        let visit = store::record_visit(&self.pool, &r.request_id, station, worker, &used)
            .await
            .map_err(fail("recording the visit"))?;
        Ok(Response::new(pb::RecordVisitResponse {
            visit: Some(pb::Visit {
                id: visit.id.to_string(),
                station_id: visit.station_id.to_string(),
                worker_id: visit.worker_id.to_string(),
                amenities_used: visit.amenities_used.into_iter().map(i32::from).collect(),
                visited_at: Some(to_timestamp(visit.visited_at)),
            }),
        }))
    }

    #[tracing::instrument(name = "GetStationUsage", skip_all)]
    async fn get_station_usage(
        &self,
        request: Request<pb::GetStationUsageRequest>,
    ) -> Result<Response<pb::GetStationUsageResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let station = parse_id("station_id", &r.station_id)?;
        self.ensure_station(&caller, station).await?;
        let from = r.from.as_ref().and_then(from_timestamp);
        let until = r.until.as_ref().and_then(from_timestamp);
        let u = store::usage(
            &self.pool,
            station,
            from,
            until,
            self.clock.offset_minutes(),
        )
        .await
        .map_err(fail("computing station usage"))?;
        Ok(Response::new(pb::GetStationUsageResponse {
            visits: u.visits,
            workers: u.workers,
            by_amenity: u
                .by_amenity
                .into_iter()
                .map(|(a, n)| pb::AmenityUsage {
                    amenity: i32::from(a),
                    visits: n,
                })
                .collect(),
            by_hour: u
                .by_hour
                .into_iter()
                .map(|(hour, visits)| pb::HourUsage { hour, visits })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "GetCoverage", skip_all)]
    async fn get_coverage(
        &self,
        request: Request<pb::GetCoverageRequest>,
    ) -> Result<Response<pb::GetCoverageResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let amenity = check_amenity(&mut v, "amenity", r.amenity, false);
        v.check(
            (0..=120).contains(&r.max_minutes),
            "max_minutes",
            "must be within 0..120",
        )
        .check(
            r.cell_meters == 0 || (10..=5_000).contains(&r.cell_meters),
            "cell_meters",
            "must be within 10..5000",
        );
        let mut only = Vec::new();
        for (i, g) in r.grid_ids.iter().enumerate() {
            match Uuid::parse_str(g) {
                Ok(id) => only.push(id),
                Err(_) => {
                    v.add(&format!("grid_ids[{i}]"), "must be a grid id (UUID)");
                }
            }
        }
        v.into_result()?;
        let report = coverage_report(
            &self.pool,
            &self.stations,
            &CoverageQuery {
                amenity,
                max_minutes: if r.max_minutes == 0 {
                    5.0
                } else {
                    f64::from(r.max_minutes)
                },
                cell_meters: if r.cell_meters == 0 {
                    100.0
                } else {
                    f64::from(r.cell_meters)
                },
                minute: Some(
                    self.clock.minute_of_day(
                        r.at.as_ref()
                            .and_then(from_timestamp)
                            .unwrap_or_else(Utc::now),
                    ),
                ),
                riding_speed_kmh: self.riding_speed_kmh,
                grids: only,
            },
        )
        .await?;
        Ok(Response::new(report))
    }
}

pub struct CoverageQuery {
    pub amenity: Option<i16>,
    pub max_minutes: f64,
    pub cell_meters: f64,
    /// Local minute of day for "open"; `None`: ignore opening hours.
    pub minute: Option<i32>,
    pub riding_speed_kmh: f64,
    pub grids: Vec<Uuid>,
}

/// Coverage of the grids (all, or those asked for) — shared by the RPC and `redsupply coverage-map`.
pub async fn coverage_report(
    pool: &PgPool,
    stations: &Stations,
    q: &CoverageQuery,
) -> Result<pb::GetCoverageResponse, Status> {
    let grids = store::grids(pool, &q.grids)
        .await
        .map_err(fail("loading grids"))?;
    let reach = domain::reach_meters(q.max_minutes, q.riding_speed_kmh);
    let index = stations.current();
    let mut out = Vec::with_capacity(grids.len());
    for g in grids {
        // Refuse a sampling that would take too long rather than stall the server.
        let (mut lat_min, mut lat_max, mut lng_min, mut lng_max) =
            (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for &(lat, lng) in g.boundary.iter() {
            lat_min = lat_min.min(lat);
            lat_max = lat_max.max(lat);
            lng_min = lng_min.min(lng);
            lng_max = lng_max.max(lng);
        }
        let h = distance_meters(lat_min, lng_min, lat_max, lng_min);
        let w = distance_meters(lat_min, lng_min, lat_min, lng_max);
        if (h / q.cell_meters) * (w / q.cell_meters) > MAX_COVERAGE_CELLS {
            return Err(invalid(
                "cell_meters",
                "too fine for the size of these grids",
            ));
        }
        let c = domain::coverage(&g.boundary, q.cell_meters, reach, &index, |s| {
            domain::qualifies(s, q.amenity, q.minute)
        });
        out.push(pb::GridCoverage {
            grid_id: g.id.to_string(),
            name: g.name,
            cells: c.cells as i32,
            uncovered_cells: c.gaps.len() as i32,
            uncovered_fraction: if c.cells > 0 {
                c.gaps.len() as f64 / c.cells as f64
            } else {
                0.0
            },
            gaps: c
                .gaps
                .into_iter()
                .map(|(latitude, longitude)| LatLng {
                    latitude,
                    longitude,
                })
                .collect(),
        });
    }
    Ok(pb::GetCoverageResponse {
        grids: out,
        reach_meters: reach,
        cell_meters: q.cell_meters as i32,
    })
}

fn redeem_status(e: RedeemError) -> Status {
    match e {
        RedeemError::UnknownReward(id) => not_found("reward", id),
        RedeemError::Inactive
        | RedeemError::InsufficientPoints { .. }
        | RedeemError::OutOfStock => Status::failed_precondition(e.to_string()),
        RedeemError::Database(db) => internal("redeeming", db),
    }
}

fn reward_to_pb(r: store::RewardRow) -> pb::Reward {
    pb::Reward {
        id: r.id.to_string(),
        name: r.name,
        points_cost: r.points_cost,
        active: r.active,
    }
}

#[tonic::async_trait]
impl PointsService for Api {
    #[tracing::instrument(name = "GetBalance", skip_all)]
    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let caller = caller(&request)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        self.ensure_for_worker(&caller, worker).await?;
        let points = store::balance(&self.pool, worker)
            .await
            .map_err(fail("loading the balance"))?;
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
        let caller = caller(&request)?;
        let r = request.into_inner();
        let worker = parse_id("worker_id", &r.worker_id)?;
        self.ensure_for_worker(&caller, worker).await?;
        let size = page_size(r.page_size)?;
        let after = page_after(&r.page_token)?;
        let rows = store::entries(&self.pool, worker, after, size)
            .await
            .map_err(fail("listing ledger entries"))?;
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
                    subject: e.subject_ref.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertReward", skip_all)]
    async fn upsert_reward(
        &self,
        request: Request<pb::UpsertRewardRequest>,
    ) -> Result<Response<pb::UpsertRewardResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let reward = r.reward.ok_or_else(|| invalid("reward", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("reward.id", &reward.id);
        let name = reward.name.trim();
        v.check(
            !name.is_empty() && name.chars().count() <= 100,
            "reward.name",
            "is required (at most 100 characters)",
        )
        .check(
            reward.points_cost > 0,
            "reward.points_cost",
            "must be above 0",
        );
        if id.is_none() {
            v.check(
                !r.request_id.is_empty(),
                "request_id",
                "is required to create a reward",
            );
        }
        v.into_result()?;
        let active = reward.active || id.is_none();
        let row = store::save_reward(
            &self.pool,
            &caller.subject,
            Some(&r.request_id),
            id,
            name,
            reward.points_cost,
            active,
        )
        .await
        .map_err(fail("saving the reward"))?
        .ok_or_else(|| not_found("reward", id.unwrap_or_default()))?;
        Ok(Response::new(pb::UpsertRewardResponse {
            reward: Some(reward_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListRewards", skip_all)]
    async fn list_rewards(
        &self,
        request: Request<pb::ListRewardsRequest>,
    ) -> Result<Response<pb::ListRewardsResponse>, Status> {
        let community = parse_id("community_id", &request.get_ref().community_id)?;
        let rows = store::catalog(&self.pool, community)
            .await
            .map_err(fail("listing rewards"))?;
        Ok(Response::new(pb::ListRewardsResponse {
            rewards: rows
                .into_iter()
                .map(|s| pb::RewardStock {
                    quantity: s.quantity,
                    reward: Some(pb::Reward {
                        id: s.id.to_string(),
                        name: s.name,
                        points_cost: s.points_cost,
                        active: s.active,
                    }),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "SupplyStock", skip_all)]
    async fn supply_stock(
        &self,
        request: Request<pb::SupplyStockRequest>,
    ) -> Result<Response<pb::SupplyStockResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let ids = [
            v.id("station_id", &r.station_id),
            v.id("community_id", &r.community_id),
            v.id("reward_id", &r.reward_id),
        ];
        v.check(
            (1..=100_000).contains(&r.quantity),
            "quantity",
            "must be within 1..100000",
        );
        v.into_result()?;
        let (station, community, reward_id) = (
            ids[0].expect("checked"),
            ids[1].expect("checked"),
            ids[2].expect("checked"),
        );
        caller.ensure_community(Some(community))?;
        self.ensure_station(&caller, station).await?;
        let f = fail("supplying stock");
        let mut tx = self.pool.begin().await.map_err(&f)?;
        store::station(&mut tx, station)
            .await
            .map_err(&f)?
            .ok_or_else(|| not_found("station", station))?;
        let reward = store::reward(&mut tx, reward_id)
            .await
            .map_err(&f)?
            .ok_or_else(|| not_found("reward", reward_id))?;
        let quantity = store::supply(
            &mut tx,
            &caller.subject,
            &r.request_id,
            station,
            community,
            reward_id,
            r.quantity,
        )
        .await
        .map_err(&f)?;
        tx.commit().await.map_err(&f)?;
        Ok(Response::new(pb::SupplyStockResponse {
            stock: Some(pb::RewardStock {
                reward: Some(reward_to_pb(reward)),
                quantity,
            }),
        }))
    }

    #[tracing::instrument(name = "Redeem", skip_all)]
    async fn redeem(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::RedeemResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let ids = [
            v.id("worker_id", &r.worker_id),
            v.id("community_id", &r.community_id),
            v.id("reward_id", &r.reward_id),
        ];
        v.check(
            (0..=100).contains(&r.quantity),
            "quantity",
            "must be within 1..100",
        );
        v.into_result()?;
        let worker = ids[0].expect("checked");
        self.ensure_for_worker(&caller, worker).await?;
        if !(caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            // The clerk hands goods over in a supermarket of their own community.
            caller.ensure_community(ids[1])?;
        }
        let (row, balance) = supermarket::redeem(
            &self.pool,
            &Redeem {
                request_id: &r.request_id,
                worker,
                community: ids[1].expect("checked"),
                reward: ids[2].expect("checked"),
                quantity: r.quantity.max(1),
            },
        )
        .await
        .map_err(redeem_status)?;
        Ok(Response::new(pb::RedeemResponse {
            redemption: Some(pb::Redemption {
                id: row.id.to_string(),
                worker_id: row.worker_id.to_string(),
                community_id: row.community_id.to_string(),
                reward_id: row.reward_id.to_string(),
                quantity: row.quantity,
                points: row.points,
                redeemed_at: Some(to_timestamp(row.redeemed_at)),
            }),
            balance,
        }))
    }

    #[tracing::instrument(name = "GetLeaderboard", skip_all)]
    async fn get_leaderboard(
        &self,
        request: Request<pb::GetLeaderboardRequest>,
    ) -> Result<Response<pb::GetLeaderboardResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let month = self.clock.month(&r.month);
        v.check(month.is_some(), "month", "must be YYYY-MM");
        let community = v.optional_id("community_id", &r.community_id);
        let platform = (!r.platform.is_empty()).then_some(r.platform.as_str());
        v.check(
            community.is_some() != platform.is_some(),
            "community_id",
            "give a community_id or a platform, not both",
        )
        .check(
            (0..=100).contains(&r.limit),
            "limit",
            "must be within 0..100",
        );
        v.into_result()?;
        let (from, until) = month.expect("checked");
        let limit = if r.limit == 0 { 10 } else { i64::from(r.limit) };
        let rows = store::leaderboard(&self.pool, from, until, community, platform, limit)
            .await
            .map_err(fail("computing the leaderboard"))?;
        Ok(Response::new(pb::GetLeaderboardResponse {
            entries: rows
                .into_iter()
                .enumerate()
                .map(|(i, (worker, points))| pb::LeaderboardEntry {
                    rank: i as i32 + 1,
                    worker_id: worker.to_string(),
                    points,
                })
                .collect(),
        }))
    }
}
