//! The one LISTEN loop: a task that reads every `NOTIFY` on a channel as it arrives and wakes
//! whoever waits on it. The relay wakes on new outbox rows through it; the case feed and the
//! in-memory indexes (grids, stations) refresh through [`spawn_listener`].

/// The shortest time between two runs of a listener's `on_change` woken by notifications.
pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(10);

/// Runs `on_change` at once, after `NOTIFY`s on `channel` (from any replica), and every
/// `fallback` in case a notification was missed — how a service keeps an in-memory copy of a table
/// current across replicas. Notifications are read as they arrive by a task of their own (see
/// [`spawn_wakeups`]) and coalesce: however many arrive while `on_change` runs, it runs once more;
/// and it runs at most once per [`SETTLE`], so that a burst of commits (the case feed hears of
/// every dispatch group's) shares one run instead of costing one each.
pub fn spawn_listener<F, Fut>(
    pool: sqlx::PgPool,
    channel: &'static str,
    fallback: std::time::Duration,
    shutdown: crate::Shutdown,
    mut on_change: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let wakeups = spawn_wakeups(pool, channel.to_owned(), wake.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            let started = tokio::time::Instant::now();
            on_change().await;
            tokio::select! {
                _ = wake.notified() => {
                    let rest = SETTLE.saturating_sub(started.elapsed());
                    if !rest.is_zero() && crate::shutdown::sleep_or_shutdown(rest, &shutdown).await {
                        break;
                    }
                    // What was notified meanwhile is served by the run that follows.
                    let _ = futures::FutureExt::now_or_never(wake.notified());
                }
                _ = tokio::time::sleep(fallback) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        let _ = wakeups.await;
    })
}

/// Wakes `wake` on every `NOTIFY` on `channel`, reading each notification as it arrives. It must be a task of its own: a LISTEN connection whose notifications go unread fills
/// its socket, and its server process then blocks in the middle of the transaction in which it
/// sends them, holding back the xmin horizon of the whole database: no VACUUM there can remove a
/// row deleted since. (Measured while the relay read one notification per claim: 40 s into a
/// 400 tips/s run, the claim walked 8,300 buffers of dead outbox rows and took 24 ms.) While the
/// connection is away the relay polls; each reconnect wakes it once, for what was missed.
pub fn spawn_wakeups(
    pool: sqlx::PgPool,
    channel: String,
    wake: std::sync::Arc<tokio::sync::Notify>,
    shutdown: crate::Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let listener = async {
                let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
                l.listen(&channel).await?;
                Ok::<_, sqlx::Error>(l)
            }
            .await;
            let mut listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, channel, "listener unavailable; polling");
                    if crate::shutdown::sleep_or_shutdown(
                        crate::shutdown::backoff(failures),
                        &shutdown,
                    )
                    .await
                    {
                        break;
                    }
                    continue;
                }
            };
            failures = 0;
            wake.notify_one();
            loop {
                tokio::select! {
                    r = listener.recv() => match r {
                        Ok(_) => wake.notify_one(),
                        Err(e) => {
                            tracing::debug!(error = %e, channel, "listener lost; reconnecting");
                            break;
                        }
                    },
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    })
}
