//! `GetCoverage` answers, computed once per input: the sampling of every grid against the station
//! index takes up to a second of CPU, so it runs on a blocking thread, one computation at a time
//! per replica (the others wait for it, then usually find its answer), and its answer is kept
//! until a station or grid changes or the minute of day (opening hours) moves on.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex},
};

use redsupply_proto::stations::v1 as pb;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tonic::Status;

use crate::{
    api::{CoverageQuery, coverage_of},
    index::Stations,
    store,
};

/// Answers kept; beyond it the cache starts over (inputs are few: grids, amenity, minute).
const ENTRIES: usize = 256;

#[derive(Clone)]
pub struct CoverageCache {
    answers: Arc<Mutex<HashMap<u64, Arc<pb::GetCoverageResponse>>>>,
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
        let grids = store::grids(pool, &q.grids)
            .await
            .map_err(|e| kit::api::internal("loading grids", e))?;
        let (index, generation) = stations.current_with_generation();
        let key = fingerprint(q, generation, &grids);
        if let Some(hit) = self.lookup(key) {
            metrics::counter!("coverage_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        let _turn = self
            .computing
            .acquire()
            .await
            .map_err(|_| Status::unavailable("shutting down"))?;
        if let Some(hit) = self.lookup(key) {
            metrics::counter!("coverage_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        metrics::counter!("coverage_cache_total", "result" => "miss").increment(1);
        let answer = Arc::new(coverage_of(grids, index, q).await?);
        let mut answers = self.answers.lock().expect("coverage cache lock");
        if answers.len() >= ENTRIES {
            answers.clear();
        }
        answers.insert(key, answer.clone());
        Ok(answer)
    }

    fn lookup(&self, key: u64) -> Option<Arc<pb::GetCoverageResponse>> {
        self.answers
            .lock()
            .expect("coverage cache lock")
            .get(&key)
            .cloned()
    }
}

/// Everything the answer depends on: the query, the station index's generation, and the grids.
pub fn fingerprint(q: &CoverageQuery, generation: u64, grids: &[store::GridRow]) -> u64 {
    let mut h = DefaultHasher::new();
    (q.amenity, q.minute, &q.grids, generation).hash(&mut h);
    for v in [q.max_minutes, q.cell_meters, q.riding_speed_kmh] {
        v.to_bits().hash(&mut h);
    }
    for g in grids {
        (g.id, &g.name).hash(&mut h);
        for (lat, lng) in g.boundary.iter() {
            (lat.to_bits(), lng.to_bits()).hash(&mut h);
        }
    }
    h.finish()
}
