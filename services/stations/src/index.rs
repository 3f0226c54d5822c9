//! The in-memory station index every replica keeps: loaded at start, reloaded after a local change
//! and whenever any replica announces one (`NOTIFY stations_changed`), and every minute as a
//! fallback.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use kit::Shutdown;
use sqlx::{PgPool, postgres::PgListener};
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
        tokio::spawn(async move {
            let mut listener: Option<PgListener> = None;
            loop {
                if let Err(e) = this.reload(&pool).await {
                    tracing::warn!(error = %e, "station index reload failed");
                }
                if listener.is_none() {
                    listener = async {
                        let mut l = PgListener::connect_with(&pool).await.ok()?;
                        l.listen("stations_changed").await.ok()?;
                        Some(l)
                    }
                    .await;
                }
                let notified = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = notified => if r.is_err() { listener = None; },
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        })
    }
}
