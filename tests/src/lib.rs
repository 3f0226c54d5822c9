//! The test harness: a disposable `nats-server` (its own port and store) and a fresh PostgreSQL
//! database per test, and the real services started on `127.0.0.1:0` against them, with generated
//! gRPC clients and helpers that wait for a condition with a deadline instead of sleeping.
//!
//! By concern: [`spawn`] starts and stops the stack (`TestApp`), [`clients`] gives its gRPC clients
//! and tokens, [`calls`] the typed calls many tests make, [`fixtures`] the registry a test stands
//! on, [`read_models`] the waits on what fills by event, [`events`] the bus as a test drives it,
//! [`checks`] the checks on refusals that tests share.

pub mod calls;
pub mod checks;
pub mod clients;
pub mod events;
pub mod fixtures;
pub mod nats;
pub mod pg;
pub mod read_models;
pub mod spawn;

use std::{future::Future, net::SocketAddr, time::Duration};

use redsupply_proto::governance::v1::WatchCasesResponse;
use tonic::transport::Channel;

pub use checks::{assert_invalid, field_violations};
pub use fixtures::tip_in_grid;
pub use nats::Nats;
pub use pg::TestDb;
pub use spawn::TestApp;

/// How long a test waits for an asynchronous effect before failing.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `check` until it yields `Some`, failing the test after `DEADLINE`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next case change on a `WatchCases` stream, skipping heartbeats (messages without a case);
/// fails the test when none comes within `DEADLINE`.
pub async fn next_case_change(
    stream: &mut tonic::Streaming<WatchCasesResponse>,
) -> WatchCasesResponse {
    use futures::StreamExt;
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let m = tokio::time::timeout_at(until, stream.next())
            .await
            .expect("a case change within the deadline")
            .expect("the stream stays open")
            .expect("a change, not an error");
        if m.case.is_some() {
            return m;
        }
    }
}

/// A fresh request id (for the creates that need one).
/// A phone number no other worker of this test run has: the registry refuses to register the
/// same phone twice.
pub fn unique_phone() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("139{:08}", n % 100_000_000)
}

pub fn rid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A channel to a server the test started.
pub async fn connect(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the service")
}
