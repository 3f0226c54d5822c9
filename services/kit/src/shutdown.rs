//! Graceful shutdown: one token, cancelled on SIGTERM or ctrl-c, cloned into every task so that the
//! servers drain in-flight calls, consumers stop after their current message, and the relay flushes.

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
