//! The in-memory station index every replica keeps: loaded at start, reloaded after a local change
//! and whenever any replica announces one (`NOTIFY stations_changed`), and every minute as a
//! fallback.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use kit::Shutdown;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::{domain::StationIndex, store};

#[derive(Clone)]
pub struct Stations {
    index: Arc<RwLock<Arc<StationIndex>>>,
    /// Bumped by every reload: what was computed from an older index is stale.
    generation: Arc<AtomicU64>,
    /// One reload at a time, so a slower, older read never replaces a newer one.
    reloading: Arc<tokio::sync::Mutex<()>>,
}

impl Default for Stations {
    fn default() -> Self {
        Self {
            index: Arc::new(RwLock::new(Arc::new(StationIndex::new(Vec::new())))),
            generation: Arc::default(),
            reloading: Arc::default(),
        }
    }
}

impl Stations {
    pub fn current(&self) -> Arc<StationIndex> {
        self.index.read().expect("station index lock").clone()
    }

    /// The index and the generation it belongs to, read together.
    pub fn current_with_generation(&self) -> (Arc<StationIndex>, u64) {
        let index = self.index.read().expect("station index lock");
        (index.clone(), self.generation.load(Ordering::Acquire))
    }

    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let index = Arc::new(StationIndex::new(store::station_points(pool).await?));
        *self.index.write().expect("station index lock") = index;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn spawn_refresher(&self, pool: PgPool, shutdown: Shutdown) -> JoinHandle<()> {
        let this = self.clone();
        kit::db::spawn_listener(
            pool.clone(),
            "stations_changed",
            Duration::from_secs(60),
            shutdown,
            move || {
                let (this, pool) = (this.clone(), pool.clone());
                async move {
                    if let Err(e) = this.reload(&pool).await {
                        tracing::warn!(error = %e, "station index reload failed");
                    }
                }
            },
        )
    }
}
