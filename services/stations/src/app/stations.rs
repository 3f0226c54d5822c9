//! The station registry's use cases, each one transaction: saving a station (announced as
//! `StationUpserted`), retiring and restoring it (with its history), an amenity report
//! (`AmenityStatusChanged`), a visit, and stock supplied to a supermarket. Every replica's index is told to reload in the same transaction. The API calls
//! these after validating a request; the demo seed places its stations through [`seed_station`].

use kit::{bus::enqueue, geo::Extent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    domain::{self, ReportRules, amenities},
    events::publish,
    store::{self, NewStation, RewardRow, StationRow, Upserted, VisitRow},
};

/// Why a station use case refused or failed; `api` turns it into a status.
#[derive(Debug, thiserror::Error)]
pub enum StationsError {
    #[error("{0} {1} not found")]
    NotFound(&'static str, Uuid),
    /// `field` names `what` `id`, which stations does not know (`why`).
    #[error("{field}: {what} {id} {why}")]
    UnknownReference {
        field: &'static str,
        what: &'static str,
        id: Uuid,
        why: &'static str,
    },
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("the station is at version {current}, not {expected}; reload and retry")]
    Stale { current: i64, expected: i64 },
    #[error("another station has this name")]
    NameTaken,
    /// The station is retired: restore it first.
    #[error("station {0} is retired; restore it first")]
    Retired(Uuid),
    /// The reporter filed their `0` reports of the last minute already.
    /// The worker checked in too far from the station.
    #[error("location: {meters:.0} m from the station; a visit is recorded within {radius:.0} m")]
    TooFar { meters: f64, radius: f64 },
    #[error("at most {0} amenity reports a minute; try again shortly")]
    TooManyReports(u32),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The unique constraint on `stations.name`.
const STATION_NAME_KEY: &str = "stations_name_key";

/// A station to create (`id` None, once per `request_id`) or to replace.
pub struct SaveStation<'a> {
    pub caller: &'a str,
    pub request_id: &'a str,
    pub id: Option<Uuid>,
    /// Refuse unless the station is at this version.
    pub expected_version: Option<i64>,
    pub station: NewStation<'a>,
}

/// Creates or replaces a station; a changed one is announced. A station outside the county is
/// refused, unless it was placed there before the county had an extent and stays where it is.
pub async fn save_station(
    pool: &PgPool,
    county: &Extent,
    s: &SaveStation<'_>,
) -> Result<StationRow, StationsError> {
    let mut tx = pool.begin().await?;
    let (lat, lng) = (s.station.latitude, s.station.longitude);
    if !county.contains(lat, lng) {
        let stays = match s.id {
            Some(id) => store::station(&mut tx, id)
                .await?
                .is_some_and(|row| (row.latitude, row.longitude) == (lat, lng)),
            None => false,
        };
        if !stays {
            return Err(StationsError::Invalid {
                field: "station.location",
                why: county.describe(),
            });
        }
    }
    if let Some(c) = s.station.community_id {
        known_community(&mut tx, "station.community_id", c).await?;
    }
    let saved = store::save_station(
        &mut tx,
        s.caller,
        Some(s.request_id),
        s.id,
        s.expected_version,
        &s.station,
    )
    .await
    .map_err(|e| {
        if kit::api::is_unique_violation(&e, STATION_NAME_KEY) {
            StationsError::NameTaken
        } else {
            StationsError::Store(e)
        }
    })?;
    let row = match saved {
        Upserted::NotFound => {
            return Err(StationsError::NotFound("station", s.id.unwrap_or_default()));
        }
        Upserted::StaleVersion(current) => {
            return Err(StationsError::Stale {
                current,
                expected: s.expected_version.unwrap_or_default(),
            });
        }
        Upserted::Done(row, changed) => {
            if changed {
                announce_station(&mut tx, &row).await?;
            }
            row
        }
    };
    tx.commit().await?;
    Ok(row)
}

/// Places (or finds, by name) a station of the demo county, announced like any other.
pub async fn seed_station(pool: &PgPool, s: &NewStation<'_>) -> Result<Uuid, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (row, changed) = store::upsert_station_by_name(&mut tx, s).await?;
    if changed {
        announce_station(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row.id)
}

/// What a worker or staff member reports of one amenity of a station.
pub struct AmenityReport<'a> {
    pub station: Uuid,
    pub amenity: i16,
    pub status: i32,
    pub note: &'a str,
    pub reported_by: &'a str,
    /// A worker's report ("broken"): it takes the amenity out only as `rules` say. Staff's sets
    /// the state.
    pub by_worker: bool,
    pub rules: ReportRules,
    /// Reports one reporter may file a minute, across replicas (0: no limit).
    pub per_minute: u32,
}

/// Records the amenity's new state and announces it; the station as it stands.
pub async fn report_amenity(
    pool: &PgPool,
    r: &AmenityReport<'_>,
) -> Result<StationRow, StationsError> {
    let mut tx = pool.begin().await?;
    let row = store::share_station(&mut tx, r.station)
        .await?
        .ok_or(StationsError::NotFound("station", r.station))?;
    active(&row)?;
    if !row.amenities.contains(&r.amenity) {
        return Err(StationsError::Invalid {
            field: "amenity",
            why: "this station does not offer it".into(),
        });
    }
    let status = if r.by_worker {
        if r.per_minute > 0
            && store::reports_in_last_minute(&mut tx, r.reported_by).await?
                >= i64::from(r.per_minute)
        {
            return Err(StationsError::TooManyReports(r.per_minute));
        }
        let before = store::lock_amenity_state(&mut tx, r.station, r.amenity).await?;
        let window = i32::try_from(r.rules.window_minutes).unwrap_or(i32::MAX);
        let reporters =
            store::add_amenity_report(&mut tx, r.station, r.amenity, r.reported_by, r.note, window)
                .await?;
        let after = amenities::after_worker_report(before, reporters.max(0) as u32, &r.rules);
        if after == before && before != amenities::REPORTED_BROKEN {
            // Already out of service as staff or enough workers said: the report is kept.
            tx.commit().await?;
            return Ok(row);
        }
        store::set_reported_status(&mut tx, r.station, r.amenity, after, r.note, reporters).await?;
        after
    } else {
        store::set_amenity_status(&mut tx, r.station, r.amenity, r.status as i16, r.note).await?;
        r.status as i16
    };
    enqueue(
        &mut tx,
        publish::amenity_status_changed(
            r.station,
            r.amenity,
            i32::from(status),
            r.note,
            r.reported_by,
        ),
    )
    .await?;
    store::notify_stations_changed(&mut tx).await?;
    tx.commit().await?;
    Ok(row)
}

/// A visit to record: by whom (the worker themself, or staff at the counter) and from where.
pub struct Visit<'a> {
    pub request_id: &'a str,
    pub station: Uuid,
    pub worker: Uuid,
    pub used: &'a [i16],
    pub by_staff: bool,
    /// Where the worker stands, if given.
    pub at: Option<(f64, f64)>,
    pub radius_m: f64,
}

/// Records a visit once per request id: a retry answers the first visit whatever happened since
/// (the worker deleted, the station retired); a new one needs a registered worker, a station in
/// service offering what was used, and its proof.
pub async fn record_visit(pool: &PgPool, v: &Visit<'_>) -> Result<VisitRow, StationsError> {
    let mut tx = pool.begin().await?;
    if let Some(done) = store::visit_by_request(&mut tx, v.worker, v.request_id).await? {
        return Ok(done);
    }
    registered_worker(&mut tx, "worker_id", v.worker).await?;
    let row = store::share_station(&mut tx, v.station)
        .await?
        .ok_or(StationsError::NotFound("station", v.station))?;
    active(&row)?;
    if let Some(a) = v.used.iter().find(|a| !row.amenities.contains(a)) {
        return Err(StationsError::Invalid {
            field: "amenities_used",
            why: format!("the station does not offer amenity {a}"),
        });
    }
    let (proof, distance) =
        domain::visit_proof(v.by_staff, v.at, (row.latitude, row.longitude), v.radius_m).map_err(
            |r| match r {
                domain::VisitRefusal::NoLocation => StationsError::Invalid {
                    field: "location",
                    why: "is required when a worker records their own visit".into(),
                },
                domain::VisitRefusal::TooFar { meters, radius } => {
                    StationsError::TooFar { meters, radius }
                }
            },
        )?;
    let visit = store::record_visit(
        &mut tx,
        &store::NewVisit {
            request_id: v.request_id,
            station: v.station,
            worker: v.worker,
            amenities: v.used,
            proof,
            distance_meters: distance,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(visit)
}

/// Stock a station supplies to a community's supermarket, once per `request_id`.
pub struct Supply<'a> {
    pub caller: &'a str,
    pub request_id: &'a str,
    pub station: Uuid,
    pub community: Uuid,
    pub reward: Uuid,
    pub quantity: i64,
}

/// Adds a lot to the stock and announces it (a retried supply answers the first lot); the
/// reward and what the supply brought.
pub async fn supply_stock(
    pool: &PgPool,
    s: &Supply<'_>,
) -> Result<(RewardRow, store::Supplied), StationsError> {
    let mut tx = pool.begin().await?;
    let station = store::share_station(&mut tx, s.station)
        .await?
        .ok_or(StationsError::NotFound("station", s.station))?;
    active(&station)?;
    known_community(&mut tx, "community_id", s.community).await?;
    let reward = store::reward(&mut tx, s.reward)
        .await?
        .ok_or(StationsError::NotFound("reward", s.reward))?;
    if !reward.offered_in(s.community) {
        return Err(StationsError::UnknownReference {
            field: "reward_id",
            what: "reward",
            id: s.reward,
            why: "is another community's, not on this community's catalog",
        });
    }
    let supplied = store::supply(
        &mut tx,
        &store::NewLot {
            caller: s.caller,
            request_id: s.request_id,
            station: s.station,
            community: s.community,
            reward: s.reward,
            quantity: s.quantity,
        },
    )
    .await?;
    if supplied.fresh {
        enqueue(
            &mut tx,
            publish::stock_supplied(&supplied.lot, supplied.stock),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((reward, supplied))
}

/// A retirement or a restoration, by `actor` for `reason`.
pub struct Retirement<'a> {
    pub station: Uuid,
    /// True: retire; false: restore.
    pub retire: bool,
    pub reason: &'a str,
    pub actor: &'a str,
    /// Refuse unless the station is at this version.
    pub expected_version: Option<i64>,
}

/// Retires or restores a station, with a line of its history and the announcement; a station
/// already in that state is answered as it is, with nothing written.
pub async fn set_retired(pool: &PgPool, r: &Retirement<'_>) -> Result<StationRow, StationsError> {
    let mut tx = pool.begin().await?;
    let row = store::lock_station(&mut tx, r.station)
        .await?
        .ok_or(StationsError::NotFound("station", r.station))?;
    if row.retired_at.is_some() == r.retire {
        return Ok(row);
    }
    if let Some(expected) = r.expected_version
        && expected != row.version
    {
        return Err(StationsError::Stale {
            current: row.version,
            expected,
        });
    }
    let row = store::set_retired(&mut tx, r.station, r.retire, r.reason).await?;
    let change = if r.retire {
        store::RETIRED
    } else {
        store::RESTORED
    };
    store::record_station_change(&mut tx, r.station, change, r.reason, r.actor, row.version)
        .await?;
    announce_station(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Refuses a change that needs a station in service.
fn active(row: &StationRow) -> Result<(), StationsError> {
    match row.retired_at {
        Some(_) => Err(StationsError::Retired(row.id)),
        None => Ok(()),
    }
}

/// `StationUpserted`, and a wake-up for every replica's index, in the change's transaction.
async fn announce_station(tx: &mut PgConnection, row: &StationRow) -> Result<(), sqlx::Error> {
    enqueue(&mut *tx, publish::station_upserted(row)).await?;
    store::notify_stations_changed(tx).await
}

/// A worker a write names: registered with organization, checked in the write's transaction.
async fn registered_worker(
    tx: &mut PgConnection,
    field: &'static str,
    worker: Uuid,
) -> Result<(), StationsError> {
    if store::worker_registered(&mut *tx, worker).await? {
        Ok(())
    } else {
        Err(StationsError::UnknownReference {
            field,
            what: "worker",
            id: worker,
            why: "is not registered (or was deleted)",
        })
    }
}

/// A community a write names: one organization announced, checked in the write's transaction.
async fn known_community(
    tx: &mut PgConnection,
    field: &'static str,
    community: Uuid,
) -> Result<(), StationsError> {
    if store::community_known(&mut *tx, community).await? {
        Ok(())
    } else {
        Err(StationsError::UnknownReference {
            field,
            what: "community",
            id: community,
            why: "does not exist",
        })
    }
}
