//! The `StationsService` RPCs: finding stations, the station registry, amenity reports, visits,
//! usage and coverage.

use super::*;

/// What a retirement or a restoration names, checked.
fn retirement_of(
    v: &mut Violations,
    station_id: &str,
    reason: &str,
    expected_version: i64,
) -> (Option<Uuid>, String, Option<i64>) {
    let station = v.id("station_id", station_id);
    let reason = v
        .text("reason", reason, validate::MAX_NOTE, true)
        .to_owned();
    v.within("expected_version", expected_version, 0..=i64::MAX);
    (
        station,
        reason,
        (expected_version > 0).then_some(expected_version),
    )
}

/// What an update may not name in its mask: ids, versions, and what reports and retirement keep.
const STATION_KEPT: &[&str] = &[
    "id",
    "version",
    "amenity_states",
    "open_now",
    "retired_at",
    "retired_reason",
];

impl Api {
    /// The stored station as the API answers it, with its version (a masked update's base).
    async fn station_pb(&self, id: Uuid) -> Result<(pb::Station, i64), Status> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(fail("loading the station"))?;
        let row = store::station(&mut conn, id)
            .await
            .map_err(fail("loading the station"))?
            .ok_or_else(|| not_found("station", id))?;
        drop(conn);
        let station = self.one(row).await?;
        let version = station.version;
        Ok((station, version))
    }

    /// Retires (`retire`) or restores a station its caller may manage.
    async fn retirement(
        &self,
        caller: &Caller,
        retire: bool,
        (station, reason, expected_version): (Option<Uuid>, String, Option<i64>),
    ) -> Result<pb::Station, Status> {
        let station = station.expect("checked");
        self.ensure_station(caller, station).await?;
        let row = app::stations::set_retired(
            &self.pool,
            &app::stations::Retirement {
                station,
                retire,
                reason: &reason,
                actor: &caller.subject,
                expected_version,
            },
        )
        .await
        .map_err(|e| refusal("retiring or restoring the station", e))?;
        self.refresh().await;
        self.one(row).await
    }
}

#[tonic::async_trait]
impl StationsService for Api {
    #[tracing::instrument(name = "RetireStation", skip_all)]
    async fn retire_station(
        &self,
        request: Request<pb::RetireStationRequest>,
    ) -> Result<Response<pb::RetireStationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let checked = retirement_of(&mut v, &r.station_id, &r.reason, r.expected_version);
        v.into_result()?;
        Ok(Response::new(pb::RetireStationResponse {
            station: Some(self.retirement(&caller, true, checked).await?),
        }))
    }

    #[tracing::instrument(name = "RestoreStation", skip_all)]
    async fn restore_station(
        &self,
        request: Request<pb::RestoreStationRequest>,
    ) -> Result<Response<pb::RestoreStationResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let checked = retirement_of(&mut v, &r.station_id, &r.reason, r.expected_version);
        v.into_result()?;
        Ok(Response::new(pb::RestoreStationResponse {
            station: Some(self.retirement(&caller, false, checked).await?),
        }))
    }

    #[tracing::instrument(name = "ListStationHistory", skip_all)]
    async fn list_station_history(
        &self,
        request: Request<pb::ListStationHistoryRequest>,
    ) -> Result<Response<pb::ListStationHistoryResponse>, Status> {
        let caller = caller(&request)?;
        let station = parse_id("station_id", &request.get_ref().station_id)?;
        self.ensure_station(&caller, station).await?;
        let entries = store::station_history(&self.pool, station)
            .await
            .map_err(fail("reading the station's history"))?
            .into_iter()
            .map(|h| pb::StationHistoryEntry {
                change: i32::from(h.change),
                reason: h.reason,
                actor: h.actor,
                version: h.version,
                occurred_at: Some(to_timestamp(h.occurred_at)),
            })
            .collect();
        Ok(Response::new(pb::ListStationHistoryResponse { entries }))
    }

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
        let found: Vec<(Uuid, f64, f64)> = index
            .nearest(lat, lng, limit, f64::MAX, |s| {
                domain::qualifies(s, amenity, minute)
            })
            .into_iter()
            .map(|(s, d)| (s.id, d, self.speeds.at(s)))
            .collect();
        let ids: Vec<Uuid> = found.iter().map(|(id, _, _)| *id).collect();
        let rows = store::stations_by_ids(&self.pool, &ids)
            .await
            .map_err(fail("finding stations"))?;
        let stations = self.to_pb(rows).await?;
        let by_id: HashMap<String, pb::Station> =
            stations.into_iter().map(|s| (s.id.clone(), s)).collect();
        Ok(Response::new(pb::FindNearestStationsResponse {
            stations: found
                .into_iter()
                .filter_map(|(id, d, speed)| {
                    Some(pb::NearbyStation {
                        station: Some(by_id.get(&id.to_string())?.clone()),
                        distance_meters: d,
                        travel_minutes: travel_minutes(d, speed),
                        riding_speed_kmh: speed,
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
        let rows =
            store::list_stations(&self.pool, community, tier, r.include_retired, after, size)
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
        let target = Uuid::parse_str(&s.id).ok();
        let (s, expected_version) = kit::api::mask::merge(
            "redsupply.stations.v1.Station",
            STATION_KEPT,
            r.update_mask.as_ref(),
            target,
            r.expected_version,
            s,
            |id| self.station_pb(id),
        )
        .await?;
        let mut v = Violations::new();
        let input = validate::station(&mut v, &s);
        validate::upsert_request_id(&mut v, input.id.is_none(), &r.request_id);
        v.within("expected_version", expected_version, 0..=i64::MAX);
        v.into_result()?;
        if let Some(id) = input.id {
            self.ensure_station(&caller, id).await?;
        }
        caller.ensure_community(input.community)?;
        if let Some(c) = input.community {
            references::settle_community(&self.pool, c).await?;
        }
        let row = app::stations::save_station(
            &self.pool,
            &self.county,
            &app::stations::SaveStation {
                caller: &caller.subject,
                request_id: &r.request_id,
                id: input.id,
                expected_version: (expected_version > 0).then_some(expected_version),
                station: input.new_station(),
            },
        )
        .await
        .map_err(|e| refusal("saving the station", e))?;
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
        if status == AmenityStatus::ReportedBroken {
            return Err(invalid(
                "status",
                "REPORTED_BROKEN follows from workers' reports; report BROKEN",
            ));
        }
        if caller.is_only(WORKER) && status != AmenityStatus::Broken {
            return Err(Status::permission_denied(
                "workers report amenities broken; staff mark repairs",
            ));
        }
        // Staff of the station's community set its states; anyone else saying "broken" files a
        // report, as a worker does.
        let in_scope = !caller.is_only(WORKER)
            && self
                .ensure_station(&caller, station.expect("checked"))
                .await
                .is_ok();
        if status != AmenityStatus::Broken && !in_scope {
            // Repairs and closures are marked by the staff of the station's community.
            self.ensure_station(&caller, station.expect("checked"))
                .await?;
        }
        let (station, amenity) = (station.expect("checked"), amenity.expect("checked"));
        let row = app::stations::report_amenity(
            &self.pool,
            &app::stations::AmenityReport {
                station,
                amenity,
                status: status as i32,
                note,
                reported_by: &caller.subject,
                by_worker: !in_scope,
                rules: self.report_rules,
                per_minute: self.amenity_reports_per_minute,
            },
        )
        .await
        .map_err(|e| refusal("reporting the amenity", e))?;
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
        let at = r.location.as_ref().map(|l| v.location("location", Some(l)));
        v.into_result()?;
        let (station, worker) = (station.expect("checked"), worker.expect("checked"));
        self.ensure_for_worker(&caller, worker).await?;
        references::settle_worker(&self.pool, worker).await?;
        // Staff of the worker's community record a visit at the counter; a worker checks in
        // from where they stand.
        let by_staff = !(caller.has_role(WORKER) && caller.subject == worker.to_string());
        let visit = app::stations::record_visit(
            &self.pool,
            &app::stations::Visit {
                request_id: &r.request_id,
                station,
                worker,
                used: &used,
                by_staff,
                at,
                radius_m: self.visit_radius_meters,
            },
        )
        .await
        .map_err(|e| refusal("recording the visit", e))?;
        Ok(Response::new(pb::RecordVisitResponse {
            visit: Some(pb::Visit {
                id: visit.id.to_string(),
                station_id: visit.station_id.to_string(),
                worker_id: visit.worker_id.to_string(),
                amenities_used: visit.amenities_used.into_iter().map(i32::from).collect(),
                visited_at: Some(to_timestamp(visit.visited_at)),
                proof: i32::from(visit.proof),
                distance_meters: visit.distance_meters.unwrap_or(0.0),
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
        let community = v.optional_id("community_id", &r.community_id);
        v.into_result()?;
        if let Some(c) = community {
            references::community_to_read(&self.pool, c).await?;
        }
        let report = self
            .coverage
            .get(
                &self.pool,
                &self.stations,
                &crate::app::coverage::CoverageQuery {
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
                    speeds: self.speeds.clone(),
                    grids,
                    community,
                },
            )
            .await?;
        Ok(Response::new(pb::GetCoverageResponse::clone(&report)))
    }
}
