//! `GetCoverage` answers, computed once per input: the sampling of every grid against the station
//! index takes up to a second of CPU, so it runs on a blocking thread, one computation at a time
//! per replica (the others wait for it, then usually find its answer), and its answer is kept
//! until a station or grid changes or the minute of day (opening hours) moves on. A computation
//! runs to the end in a task of its own even when its caller goes away, holding its turn, so
//! cancelled calls cannot start computations side by side.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex},
};

use kit::api::{internal, invalid, not_found};
use redsupply_proto::{common::v1::LatLng, stations::v1 as pb};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tonic::Status;
use uuid::Uuid;

use super::index::Stations;
use crate::{domain, domain::distance_meters, store};

/// Answers kept; beyond it the cache starts over (inputs are few: grids, amenity, minute).
const ENTRIES: usize = 256;
/// Gap points kept over all answers (an answer at fine cells holds many); an answer larger than
/// this is not kept at all.
const POINTS: usize = 1_000_000;

type Answers = Arc<Mutex<(HashMap<u64, Arc<pb::GetCoverageResponse>>, usize)>>;

#[derive(Clone)]
pub struct CoverageCache {
    answers: Answers,
    computing: Arc<Semaphore>,
}

impl Default for CoverageCache {
    fn default() -> Self {
        Self {
            answers: Arc::default(),
            computing: Arc::new(Semaphore::new(1)),
        }
    }
}

impl CoverageCache {
    /// The coverage for `q`, from the cache when its stations and grids are unchanged.
    pub async fn get(
        &self,
        pool: &PgPool,
        stations: &Stations,
        q: &CoverageQuery,
    ) -> Result<Arc<pb::GetCoverageResponse>, Status> {
        // The grids are read each time (one small query): their content is part of the key.
        let grids = store::grids(pool, &q.grids, q.community)
            .await
            .map_err(|e| internal("loading grids", e))?;
        let (index, generation) = stations.current_with_generation();
        let key = fingerprint(q, generation, &grids);
        if let Some(hit) = self.lookup(key) {
            metrics::counter!("coverage_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        let turn = self
            .computing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("shutting down"))?;
        if let Some(hit) = self.lookup(key) {
            metrics::counter!("coverage_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        metrics::counter!("coverage_cache_total", "result" => "miss").increment(1);
        let (answers, q) = (self.answers.clone(), q.clone());
        let computation = tokio::spawn(async move {
            let _turn = turn;
            let answer = Arc::new(coverage_of(grids, index, &q).await?);
            keep(&answers, key, answer.clone());
            Ok::<_, Status>(answer)
        });
        computation
            .await
            .map_err(|e| internal("computing coverage", e))?
    }

    fn lookup(&self, key: u64) -> Option<Arc<pb::GetCoverageResponse>> {
        self.answers
            .lock()
            .expect("coverage cache lock")
            .0
            .get(&key)
            .cloned()
    }
}

/// Keeps `answer` unless it alone is over the size bound; starts over when the cache is full.
fn keep(answers: &Answers, key: u64, answer: Arc<pb::GetCoverageResponse>) {
    let points: usize = answer.grids.iter().map(|g| g.gaps.len()).sum();
    if points > POINTS {
        return;
    }
    let mut guard = answers.lock().expect("coverage cache lock");
    let (map, held) = &mut *guard;
    if map.len() >= ENTRIES || *held + points > POINTS {
        map.clear();
        *held = 0;
    }
    if map.insert(key, answer).is_none() {
        *held += points;
    }
}

/// Everything the answer depends on: the query, the station index's generation, and the grids.
pub fn fingerprint(q: &CoverageQuery, generation: u64, grids: &[store::GridRow]) -> u64 {
    let mut h = DefaultHasher::new();
    (q.amenity, q.minute, &q.grids, q.community, generation).hash(&mut h);
    for v in [q.max_minutes, q.cell_meters, q.speeds.county_kmh] {
        v.to_bits().hash(&mut h);
    }
    for a in &q.speeds.areas {
        a.name.hash(&mut h);
        for v in [a.riding_speed_kmh, a.south, a.west, a.north, a.east] {
            v.to_bits().hash(&mut h);
        }
    }
    for g in grids {
        (g.id, &g.name).hash(&mut h);
        for (lat, lng) in g.boundary.iter() {
            (lat.to_bits(), lng.to_bits()).hash(&mut h);
        }
    }
    h.finish()
}

/// The most lattice cells one request may sample (all its grids together).
const MAX_COVERAGE_CELLS: f64 = 2_000_000.0;

#[derive(Debug, Clone)]
pub struct CoverageQuery {
    pub amenity: Option<i16>,
    pub max_minutes: f64,
    pub cell_meters: f64,
    /// Local minute of day for "open"; `None`: ignore opening hours.
    pub minute: Option<i32>,
    /// Each station's riding speed: its own, its area's, or the county's.
    pub speeds: domain::Speeds,
    pub grids: Vec<Uuid>,
    /// Only this community's grids.
    pub community: Option<Uuid>,
}

/// Coverage of the grids (all, or those asked for: NOT_FOUND for one that does not exist) —
/// shared by the RPC and `redsupply coverage-map`. The sampling runs on a blocking thread, so a
/// large grid does not stall the calls sharing the async workers.
pub async fn coverage_report(
    pool: &PgPool,
    stations: &Stations,
    q: &CoverageQuery,
) -> Result<pb::GetCoverageResponse, Status> {
    let grids = store::grids(pool, &q.grids, q.community)
        .await
        .map_err(|e| internal("loading grids", e))?;
    coverage_of(grids, stations.current(), q).await
}

/// The coverage of `grids` (loaded for `q`) against `index`, sampled on a blocking thread.
pub async fn coverage_of(
    grids: Vec<store::GridRow>,
    index: std::sync::Arc<domain::StationIndex>,
    q: &CoverageQuery,
) -> Result<pb::GetCoverageResponse, Status> {
    // Refuse a sampling that would take too long rather than stall the server: the whole
    // request's cells, not each grid's.
    let cells: f64 = grids
        .iter()
        .map(|g| sampling_cells(&g.boundary, q.cell_meters))
        .sum();
    if cells > MAX_COVERAGE_CELLS {
        return Err(invalid(
            "cell_meters",
            "too fine for the size of these grids",
        ));
    }
    let found: std::collections::HashSet<Uuid> = grids.iter().map(|g| g.id).collect();
    if q.community.is_none()
        && let Some(missing) = q.grids.iter().find(|id| !found.contains(id))
    {
        return Err(not_found("grid", missing));
    }
    let reach = domain::reach_meters(q.max_minutes, q.speeds.county_kmh);
    let (cell, amenity, minute) = (q.cell_meters, q.amenity, q.minute);
    let (minutes, speeds) = (q.max_minutes, q.speeds.clone());
    let out = tokio::task::spawn_blocking(move || {
        let reach = domain::Reach {
            minutes,
            speeds: &speeds,
        };
        grids
            .into_iter()
            .map(|g| grid_coverage(g, cell, &reach, &index, amenity, minute))
            .collect::<Result<Vec<_>, Status>>()
    })
    .await
    .map_err(|e| internal("computing coverage", e))??;
    Ok(pb::GetCoverageResponse {
        grids: out,
        reach_meters: reach,
        cell_meters: q.cell_meters as i32,
    })
}

/// The cells a sampling of `ring` at `cell_meters` takes (its bounding box's).
fn sampling_cells(ring: &[(f64, f64)], cell_meters: f64) -> f64 {
    let (lat_min, lat_max, lng_min, lng_max) = domain::coverage::bounds(ring);
    let h = distance_meters(lat_min, lng_min, lat_max, lng_min);
    let w = distance_meters(lat_min, lng_min, lat_min, lng_max);
    (h / cell_meters) * (w / cell_meters)
}

fn grid_coverage(
    g: store::GridRow,
    cell_meters: f64,
    reach: &domain::Reach<'_>,
    index: &domain::StationIndex,
    amenity: Option<i16>,
    minute: Option<i32>,
) -> Result<pb::GridCoverage, Status> {
    let c = domain::coverage(&g.boundary, cell_meters, reach, index, |s| {
        domain::qualifies(s, amenity, minute)
    });
    Ok(pb::GridCoverage {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::types::Json;
    use uuid::Uuid;

    fn grid(lat: f64) -> store::GridRow {
        store::GridRow {
            id: Uuid::from_u128(1),
            name: "Grid".into(),
            boundary: Json(vec![(lat, 103.5), (lat, 103.51), (lat + 0.01, 103.51)]),
        }
    }

    fn query() -> CoverageQuery {
        CoverageQuery {
            amenity: None,
            max_minutes: 5.0,
            cell_meters: 100.0,
            minute: Some(600),
            speeds: domain::Speeds::county(15.0),
            grids: Vec::new(),
            community: None,
        }
    }

    #[test]
    fn the_key_follows_stations_grids_and_the_query() {
        let (q, g) = (query(), [grid(29.7)]);
        let key = fingerprint(&q, 1, &g);
        assert_eq!(
            key,
            fingerprint(&q, 1, &g),
            "the same inputs: the same answer"
        );
        assert_ne!(key, fingerprint(&q, 2, &g), "a station changed");
        assert_ne!(key, fingerprint(&q, 1, &[grid(29.71)]), "a boundary moved");
        let later = CoverageQuery {
            minute: Some(601),
            ..query()
        };
        assert_ne!(key, fingerprint(&later, 1, &g), "opening hours move on");
        let charging = CoverageQuery {
            amenity: Some(4),
            ..query()
        };
        assert_ne!(key, fingerprint(&charging, 1, &g));
        let slower = CoverageQuery {
            speeds: domain::Speeds::county(12.0),
            ..query()
        };
        assert_ne!(key, fingerprint(&slower, 1, &g), "another speed");
    }

    #[test]
    fn the_cache_is_bounded_by_the_points_it_holds() {
        let answers: Answers = Arc::default();
        let answer = |gaps: usize| {
            Arc::new(pb::GetCoverageResponse {
                grids: vec![pb::GridCoverage {
                    gaps: vec![Default::default(); gaps],
                    ..Default::default()
                }],
                ..Default::default()
            })
        };
        keep(&answers, 1, answer(600_000));
        keep(&answers, 2, answer(300_000));
        assert_eq!(answers.lock().unwrap().0.len(), 2);
        keep(&answers, 3, answer(200_000));
        let guard = answers.lock().unwrap();
        assert_eq!((guard.0.len(), guard.1), (1, 200_000), "started over");
        drop(guard);
        keep(&answers, 4, answer(POINTS + 1));
        assert!(
            !answers.lock().unwrap().0.contains_key(&4),
            "too large to keep"
        );
    }
}
