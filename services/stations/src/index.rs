//! The in-memory station index every replica keeps: loaded at start, reloaded after a local change
//! and whenever any replica announces one (`NOTIFY stations_changed`), and every minute as a
//! fallback.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use kit::Shutdown;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::{domain::StationIndex, store};

#[derive(Clone)]
pub struct Stations {
    index: Arc<RwLock<Arc<StationIndex>>>,
}

impl Default for Stations {
    fn default() -> Self {
        Self {
            index: Arc::new(RwLock::new(Arc::new(StationIndex::new(Vec::new())))),
        }
    }
}

impl Stations {
    pub fn current(&self) -> Arc<StationIndex> {
        self.index.read().expect("station index lock").clone()
    }

    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let index = Arc::new(StationIndex::new(store::station_points(pool).await?));
        *self.index.write().expect("station index lock") = index;
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
