//! `StationsService` (stations, the 5-minute circle, visits, coverage) and `PointsService`
//! (balance, ledger, supermarkets, honours): validation (`validate`), the ids a request names
//! (`references`), roles, and mapping to the store.

use std::collections::HashMap;

use chrono::Utc;
use kit::{
    api::{Violations, internal, invalid, not_found, parse_id},
    auth::{Caller, caller},
    bus::{NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    roles::WORKER,
    stations::v1::{
        self as pb, AmenityStatus, StationTier, points_service_server::PointsService,
        stations_service_server::StationsService,
    },
};
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{self, LocalClock, travel_minutes},
    index::Stations,
    points::SOURCE,
    references,
    store::{self, StationRow, Upserted},
    supermarket::{self, Redeem, RedeemError},
    validate::{self, MAX_LIMIT},
};

pub const STATION_UPSERTED: &str = "redsupply.stations.station.upserted";
pub const AMENITY_STATUS_CHANGED: &str = "redsupply.stations.station.amenity_status_changed";

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub riding_speed_kmh: f64,
    pub clock: LocalClock,
    pub stations: Stations,
    /// Coverage answers until a station or grid changes.
    pub coverage: crate::coverage::CoverageCache,
    /// Where the county lies: stations outside it are refused.
    pub county: kit::geo::Extent,
    /// Amenity reports per caller and minute.
    pub amenity_reports: kit::limit::RateLimit,
}

fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> Status {
    move |e| internal(context, e)
}

/// `StationUpserted`, and a wake-up for every replica's index, in the change's transaction.
async fn announce_station(tx: &mut PgConnection, row: &StationRow) -> Result<(), sqlx::Error> {
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
        &mut *tx,
        NewEvent::new(SOURCE, STATION_UPSERTED, row.id, &msg),
    )
    .await?;
    store::notify_stations_changed(tx).await
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
        let amenity = validate::amenity(&mut v, "amenity", r.amenity, false);
        v.within("limit", r.limit, 0..=MAX_LIMIT);
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
        let tier = v
            .enumeration::<StationTier>("tier", r.tier, true)
            .map(|t| t as i16);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        if let Some(c) = community {
            references::community_to_read(&self.pool, c).await?;
        }
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
        let s = r
            .station
            .as_ref()
            .ok_or_else(|| invalid("station", "is required"))?;
        let mut v = Violations::new();
        let input = validate::station(&mut v, s);
        validate::upsert_request_id(&mut v, input.id.is_none(), &r.request_id);
        v.within("expected_version", r.expected_version, 0..=i64::MAX);
        v.into_result()?;
        if let Some(id) = input.id {
            self.ensure_station(&caller, id).await?;
        }
        caller.ensure_community(input.community)?;
        if let Some(c) = input.community {
            references::settle_community(&self.pool, c).await?;
        }
        let f = fail("saving the station");
        let mut tx = self.pool.begin().await.map_err(&f)?;
        if !self.county.contains(input.latitude, input.longitude) {
            // A station placed before the county had an extent may keep its place, not move
            // outside.
            let stays = match input.id {
                Some(id) => store::station(&mut tx, id)
                    .await
                    .map_err(&f)?
                    .is_some_and(|s| {
                        (s.latitude, s.longitude) == (input.latitude, input.longitude)
                    }),
                None => false,
            };
            if !stays {
                return Err(invalid("station.location", self.county.describe()));
            }
        }
        if let Some(c) = input.community {
            references::known_community(&mut tx, "station.community_id", c).await?;
        }
        let expected = (r.expected_version > 0).then_some(r.expected_version);
        let saved = store::save_station(
            &mut tx,
            &caller.subject,
            Some(&r.request_id),
            input.id,
            expected,
            &input.new_station(),
        )
        .await
        .map_err(references::station_write)?;
        let row = match saved {
            Upserted::NotFound => return Err(not_found("station", input.id.unwrap_or_default())),
            Upserted::StaleVersion(current) => {
                return Err(Status::aborted(format!(
                    "the station is at version {current}, not {}; reload and retry",
                    r.expected_version
                )));
            }
            Upserted::Done(row, changed) => {
                if changed {
                    announce_station(&mut tx, &row).await.map_err(&f)?;
                }
                row
            }
        };
        tx.commit().await.map_err(&f)?;
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
        let station = v.id("station_id", &r.station_id);
        let amenity = validate::amenity(&mut v, "amenity", r.amenity, true);
        let status = v
            .enumeration::<AmenityStatus>("status", r.status, false)
            .unwrap_or(AmenityStatus::Unspecified);
        let note = v.text("note", &r.note, validate::MAX_NOTE, false);
        v.into_result()?;
        // Each report flips what every search shows: one caller cannot flood them.
        self.amenity_reports.check(&caller.subject)?;
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
        store::set_amenity_status(&mut tx, station, amenity, status as i16, note)
            .await
            .map_err(&f)?;
        let msg = ev::AmenityStatusChanged {
            station_id: station.to_string(),
            amenity: i32::from(amenity),
            status: status as i32,
            note: note.to_owned(),
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
        let station = v.id("station_id", &r.station_id);
        let worker = v.id("worker_id", &r.worker_id);
        let used = validate::amenities(&mut v, "amenities_used", &r.amenities_used);
        v.into_result()?;
        let (station, worker) = (station.expect("checked"), worker.expect("checked"));
        self.ensure_for_worker(&caller, worker).await?;
        references::settle_worker(&self.pool, worker).await?;
        let f = fail("recording the visit");
        let mut tx = self.pool.begin().await.map_err(&f)?;
        references::registered_worker(&mut tx, "worker_id", worker).await?;
        let row = store::station(&mut tx, station)
            .await
            .map_err(&f)?
            .ok_or_else(|| not_found("station", station))?;
        if let Some(a) = used.iter().find(|a| !row.amenities.contains(a)) {
            return Err(invalid(
                "amenities_used",
                format!("the station does not offer amenity {a}"),
            ));
        }
        let visit = store::record_visit(&mut tx, &r.request_id, station, worker, &used)
            .await
            .map_err(&f)?;
        tx.commit().await.map_err(&f)?;
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
        let mut v = Violations::new();
        let station = v.id("station_id", &r.station_id);
        let (from, until) = validate::window(&mut v, r.from.as_ref(), r.until.as_ref());
        v.into_result()?;
        let station = station.expect("checked");
        // NOT_FOUND for a station that does not exist.
        self.ensure_station(&caller, station).await?;
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
        let amenity = validate::amenity(&mut v, "amenity", r.amenity, false);
        v.within("max_minutes", r.max_minutes, 0..=120);
        v.check(
            r.cell_meters == 0 || (10..=5_000).contains(&r.cell_meters),
            "cell_meters",
            "must be 0 or within 10..=5000",
        );
        let at = validate::optional_time(&mut v, "at", r.at.as_ref());
        let grids = v.ids("grid_ids", &r.grid_ids, validate::MAX_GRID_IDS);
        v.into_result()?;
        let report = self
            .coverage
            .get(
                &self.pool,
                &self.stations,
                &crate::coverage::CoverageQuery {
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
                    minute: Some(self.clock.minute_of_day(at.unwrap_or_else(Utc::now))),
                    riding_speed_kmh: self.riding_speed_kmh,
                    grids,
                },
            )
            .await?;
        Ok(Response::new(pb::GetCoverageResponse::clone(&report)))
    }
}

fn redeem_status(e: RedeemError) -> Status {
    match e {
        RedeemError::UnregisteredWorker(id) => {
            references::unknown("worker_id", "worker", id, "is not registered")
        }
        RedeemError::UnknownCommunity(id) => {
            references::unknown("community_id", "community", id, "does not exist")
        }
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
        references::worker_to_read(&self.pool, worker).await?;
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
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        self.ensure_for_worker(&caller, worker).await?;
        references::worker_to_read(&self.pool, worker).await?;
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
        let name = v.line("reward.name", &reward.name, validate::MAX_NAME, true);
        v.within(
            "reward.points_cost",
            reward.points_cost,
            1..=validate::MAX_POINTS_COST,
        );
        validate::upsert_request_id(&mut v, id.is_none(), &r.request_id);
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
        references::community_to_read(&self.pool, community).await?;
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
        v.within("quantity", r.quantity, 1..=validate::MAX_SUPPLY);
        v.into_result()?;
        let (station, community, reward_id) = (
            ids[0].expect("checked"),
            ids[1].expect("checked"),
            ids[2].expect("checked"),
        );
        caller.ensure_community(Some(community))?;
        self.ensure_station(&caller, station).await?;
        references::settle_community(&self.pool, community).await?;
        let f = fail("supplying stock");
        let mut tx = self.pool.begin().await.map_err(&f)?;
        store::station(&mut tx, station)
            .await
            .map_err(&f)?
            .ok_or_else(|| not_found("station", station))?;
        references::known_community(&mut tx, "community_id", community).await?;
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
        // 0 means 1 (the contract says so).
        v.within("quantity", r.quantity, 0..=validate::MAX_REDEEM);
        v.into_result()?;
        let worker = ids[0].expect("checked");
        self.ensure_for_worker(&caller, worker).await?;
        if !(caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            // The clerk hands goods over in a supermarket of their own community.
            caller.ensure_community(ids[1])?;
        }
        references::settle_worker(&self.pool, worker).await?;
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
        v.check(
            month.is_some(),
            "month",
            format!(
                "must be YYYY-MM, a year within {}..={}",
                domain::YEARS.start(),
                domain::YEARS.end()
            ),
        );
        let community = v.optional_id("community_id", &r.community_id);
        let platform = v.line("platform", &r.platform, validate::MAX_PLATFORM, false);
        let platform = (!platform.is_empty()).then_some(platform);
        v.check(
            community.is_some() != platform.is_some(),
            "community_id",
            "give a community_id or a platform, not both",
        );
        v.within("limit", r.limit, 0..=MAX_LIMIT);
        v.into_result()?;
        if let Some(c) = community {
            references::community_to_read(&self.pool, c).await?;
        }
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
