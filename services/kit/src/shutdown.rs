//! Graceful shutdown: one token, cancelled on SIGTERM or ctrl-c, cloned into every task so that the
//! servers drain in-flight calls, consumers stop after their current message, and the relay flushes.
//! Background tasks that wait to retry wait here too, so a shutdown never waits out a back-off.

pub use tokio_util::sync::CancellationToken as Shutdown;

/// A token that is cancelled when the process receives SIGTERM or ctrl-c.
pub fn on_signals() -> Shutdown {
    let token = Shutdown::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => tracing::info!("ctrl-c: shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        trigger.cancel();
    });
    token
}

/// Sleeps for `d`; true when shutdown came first (the caller then stops).
pub async fn sleep_or_shutdown(d: std::time::Duration, shutdown: &Shutdown) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.cancelled() => true,
    }
}

/// How long a background task waits after `failures` failures in a row to reach the database or
/// JetStream: 100 ms after none, doubling with each, at most 3 s.
pub fn backoff(failures: u32) -> std::time::Duration {
    std::time::Duration::from_millis((100u64 << failures.min(5)).min(3_000))
}
