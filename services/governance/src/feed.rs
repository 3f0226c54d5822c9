//! Wakes `WatchCases` streams when a case changes: one `LISTEN governance_case_changes` connection
//! per process fans out to every open stream; streams also poll, so a lost notification only delays.

use std::{sync::Arc, time::Duration};

use kit::Shutdown;
use sqlx::{PgPool, postgres::PgListener};
use tokio::{sync::Notify, task::JoinHandle};

#[derive(Clone, Default)]
pub struct Feed {
    notify: Arc<Notify>,
}

impl Feed {
    pub fn spawn_listener(&self, pool: PgPool, shutdown: Shutdown) -> JoinHandle<()> {
        let notify = self.notify.clone();
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                let listener = async {
                    let mut l = PgListener::connect_with(&pool).await?;
                    l.listen("governance_case_changes").await?;
                    Ok::<_, sqlx::Error>(l)
                }
                .await;
                let mut listener = match listener {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::debug!(error = %e, "case feed listener unavailable; streams poll");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = shutdown.cancelled() => break,
                        }
                    }
                };
                loop {
                    tokio::select! {
                        r = listener.recv() => match r {
                            Ok(_) => notify.notify_waiters(),
                            Err(_) => break,
                        },
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        })
    }

    /// Returns at the next change notification or after `max`.
    pub async fn wait(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.notify.notified()).await;
    }
}
