//! gRPC bootstrap shared by every service: one listener serving the service's own routes next to
//! `grpc.health.v1` and server reflection (v1 and v1alpha), a layer that gives every call a span
//! (child of the caller's `traceparent`) and its metrics, a health watcher, and graceful shutdown.
//!
//! Health: the overall entry ("") and each service name are SERVING once the database has
//! answered and while it does (readiness); `liveness` is SERVING while the process answers and
//! every background task of the service (its consumers, relay, sweepers) still runs: a task that
//! ended before shutdown only comes back with a restart, which a failing liveness probe brings.
//! NATS has its own entry, `nats`: an outage shows there and in metrics but does not stop intake,
//! because the outbox holds events until NATS is back.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::{Layer, Service};
use tracing::Instrument;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::{
    Runtime, Shutdown,
    auth::{
        PolicyLayer,
        policy::{CertificateBinding, Policy},
    },
    bus::Bus,
    settings::TlsSettings,
    telemetry,
};

/// The health entry that reports the NATS connection.
pub const NATS_HEALTH: &str = "nats";
/// The health entry liveness and startup probes ask: SERVING while the process answers, whatever
/// the database or NATS do, so that an outage makes pods unready and never restarts them.
pub const LIVENESS_HEALTH: &str = "liveness";

/// A running gRPC server.
pub struct Serving {
    pub addr: SocketAddr,
    pub task: JoinHandle<Result<(), tonic::transport::Error>>,
    health: HealthReporter,
    shutdown: Shutdown,
}

/// Binds `listen` (port 0 picks a free one) and serves `routes` with health and reflection until
/// shutdown; in-flight calls drain first. Every call passes `policies` first (the services served
/// are the ones the policies name): no token, no rule or no admitted role, and it never reaches a
/// handler.
pub async fn serve(
    listen: SocketAddr,
    routes: Routes,
    policies: &'static [Policy],
    rt: &Runtime,
    pool: PgPool,
) -> Result<Serving, std::io::Error> {
    let (auth, tls, bus, shutdown) = (
        rt.auth.clone(),
        &rt.settings.tls,
        rt.bus.clone(),
        rt.shutdown.clone(),
    );
    let service_names: Vec<&'static str> = policies.iter().map(|p| p.service).collect();
    let service_names = &service_names[..];
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    // Not ready until the first database check has answered (the reporter starts "" SERVING).
    for name in service_names.iter().chain(&["", NATS_HEALTH]) {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    reporter
        .set_service_status(LIVENESS_HEALTH, ServingStatus::Serving)
        .await;
    tokio::spawn(watch_health(
        reporter.clone(),
        service_names.to_vec(),
        pool,
        bus,
        shutdown.clone(),
    ));

    // Advertise only what this server hosts, so `grpcurl list` tells the truth.
    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(redsupply_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health");
        for name in service_names {
            b = b.with_service_name(*name);
        }
        b
    };
    let reflection_v1 = reflection().build_v1().map_err(std::io::Error::other)?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(std::io::Error::other)?;
    let routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let mut builder = tonic::transport::Server::builder();
    let mut binding = CertificateBinding::default();
    if let Some(config) = tls_config(tls)? {
        builder = builder.tls_config(config).map_err(std::io::Error::other)?;
        binding = CertificateBinding {
            enabled: !tls.client_ca_path.is_empty(),
            required: tls.require_grid_system_certificate,
        };
    }
    let server_shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        builder
            .layer(ObserveLayer::new(policies))
            .layer(PolicyLayer::new(auth, policies, binding))
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                // Replies go out at once: with Nagle on, a small unary reply written in two parts
                // waits for the client's delayed ACK (40 ms) between them.
                tokio_stream::StreamExt::map(TcpListenerStream::new(listener), |conn| {
                    conn.inspect(|s| {
                        if let Err(e) = s.set_nodelay(true) {
                            tracing::debug!(error = %e, "TCP_NODELAY not set");
                        }
                    })
                }),
                server_shutdown.cancelled_owned(),
            )
            .await
    });
    tracing::info!(%addr, services = ?service_names, "gRPC listening");
    Ok(Serving {
        addr,
        task,
        health: reporter,
        shutdown,
    })
}

/// The server's TLS from settings: none when no certificate is configured.
fn tls_config(tls: &TlsSettings) -> Result<Option<ServerTlsConfig>, std::io::Error> {
    if tls.cert_path.is_empty() && tls.key_path.is_empty() {
        if !tls.client_ca_path.is_empty() || tls.require_grid_system_certificate {
            return Err(std::io::Error::other(
                "tls.client_ca_path needs tls.cert_path and tls.key_path: client certificates come over TLS",
            ));
        }
        return Ok(None);
    }
    let read = |what: &str, path: &str| {
        std::fs::read(path).map_err(|e| std::io::Error::other(format!("tls.{what} {path:?}: {e}")))
    };
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
        read("cert_path", &tls.cert_path)?,
        read("key_path", &tls.key_path)?,
    ));
    if !tls.client_ca_path.is_empty() {
        config = config
            .client_ca_root(Certificate::from_pem(read(
                "client_ca_path",
                &tls.client_ca_path,
            )?))
            .client_auth_optional(true);
    }
    Ok(Some(config))
}

async fn watch_health(
    reporter: HealthReporter,
    names: Vec<&'static str>,
    pool: PgPool,
    bus: Bus,
    shutdown: Shutdown,
) {
    // `redsupply.governance.v1.GovernanceService` → `governance`: the label of this server's
    // database and NATS figures (one process may serve several).
    let service = names
        .first()
        .copied()
        .and_then(|n| n.split('.').nth(1))
        .unwrap_or("unknown");
    loop {
        let started = std::time::Instant::now();
        let acquired = tokio::time::timeout(Duration::from_secs(2), pool.acquire()).await;
        // Waits that time out or fail count too: they are what an exhausted pool looks like.
        metrics::histogram!("db_pool_acquire_seconds", "service" => service)
            .record(started.elapsed().as_secs_f64());
        let db_up = match acquired {
            Ok(Ok(mut conn)) => {
                matches!(
                    tokio::time::timeout(
                        Duration::from_secs(2),
                        sqlx::query("SELECT 1").execute(&mut *conn)
                    )
                    .await,
                    Ok(Ok(_))
                )
            }
            _ => false,
        };
        crate::metric_catalogue::record_pool(&pool, service);
        let status = if db_up {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        for name in &names {
            reporter.set_service_status(*name, status).await;
        }
        let nats_up = bus.is_connected();
        reporter
            .set_service_status(
                NATS_HEALTH,
                if nats_up {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                },
            )
            .await;
        metrics::gauge!("database_up", "service" => service).set(f64::from(u8::from(db_up)));
        metrics::gauge!("nats_connected", "service" => service).set(f64::from(u8::from(nats_up)));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    // Stop taking traffic from load balancers while in-flight calls drain.
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in &names {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
}

/// Turns liveness NOT_SERVING once a background task has ended before shutdown (a consumer that
/// crashed, a relay that returned): the process still answers calls but no longer does all of
/// its work, and only a restart starts the task again.
async fn watch_tasks(
    name: &'static str,
    health: HealthReporter,
    shutdown: Shutdown,
    tasks: Vec<tokio::task::AbortHandle>,
) {
    loop {
        if crate::shutdown::sleep_or_shutdown(Duration::from_secs(1), &shutdown).await {
            return;
        }
        let Some(task) = tasks.iter().position(tokio::task::AbortHandle::is_finished) else {
            continue;
        };
        if shutdown.is_cancelled() {
            return;
        }
        tracing::error!(
            service = name,
            task,
            "a background task stopped; liveness is NOT_SERVING so that the process is restarted"
        );
        health
            .set_service_status(LIVENESS_HEALTH, ServingStatus::NotServing)
            .await;
        return;
    }
}

/// Gives each call a server span (child of the caller's trace context) and records
/// `grpc_server_handled_total{method,code}` and `grpc_server_handling_seconds{method}`. The `method`
/// label is a path this server serves (an RPC of its policies, health or reflection), else
/// `unknown`: random paths from unauthenticated clients do not each make a new series.
#[derive(Clone, Debug)]
pub struct ObserveLayer {
    known: Arc<HashSet<String>>,
}

impl ObserveLayer {
    pub fn new(policies: &[Policy]) -> Self {
        let mut known: HashSet<String> = policies
            .iter()
            .flat_map(|p| {
                p.rules
                    .iter()
                    .map(|r| format!("/{}/{}", p.service, r.method))
            })
            .collect();
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            known.insert(path.to_owned());
        }
        Self {
            known: Arc::new(known),
        }
    }

    /// The metric label for a request path.
    pub fn label(&self, path: &str) -> String {
        if self.known.contains(path) {
            path.to_owned()
        } else {
            "unknown".to_owned()
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = self.layer.label(req.uri().path());
        let mut carrier = HashMap::new();
        for key in ["traceparent", "tracestate"] {
            if let Some(v) = req.headers().get(key).and_then(|v| v.to_str().ok()) {
                carrier.insert(key.to_owned(), v.to_owned());
            }
        }
        let span = tracing::info_span!(
            "grpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        telemetry::set_parent_from(&span, &carrier);
        telemetry::record_ids(&span);
        // The clone-and-swap keeps the service that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let start = Instant::now();
        Box::pin(async move {
            let res = inner.call(req).instrument(span.clone()).await;
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_owned(),
                Err(_) => "transport".to_owned(),
            };
            // A failed call's span says so, with its status (read by trace backends).
            match code.parse::<i64>() {
                Ok(n) => span.record("rpc.grpc.status_code", n),
                Err(_) => span.record("rpc.grpc.status_code", code.as_str()),
            };
            // A server span is in error for the server's faults only (OpenTelemetry's gRPC
            // conventions): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
            // DATA_LOSS, or a transport failure; a refused request is the caller's.
            if matches!(
                code.as_str(),
                "2" | "4" | "12" | "13" | "14" | "15" | "transport"
            ) {
                span.record("otel.status_code", "ERROR");
            }
            metrics::histogram!("grpc_server_handling_seconds", "method" => method.clone())
                .record(start.elapsed().as_secs_f64());
            metrics::counter!("grpc_server_handled_total", "method" => method, "code" => code)
                .increment(1);
            res
        })
    }
}

/// A started service: its gRPC server and its background tasks (relay, consumers).
pub struct Running {
    pub name: &'static str,
    pub addr: SocketAddr,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn new(name: &'static str, serving: Serving, tasks: Vec<JoinHandle<()>>) -> Self {
        tokio::spawn(watch_tasks(
            name,
            serving.health,
            serving.shutdown,
            tasks.iter().map(JoinHandle::abort_handle).collect(),
        ));
        Self {
            name,
            addr: serving.addr,
            server: serving.task,
            tasks,
        }
    }

    /// Waits until the server has drained and every task has stopped (after shutdown).
    pub async fn join(self) -> Result<(), tonic::transport::Error> {
        let served = match self.server.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(service = self.name, error = %e, "gRPC server task failed");
                Ok(())
            }
        };
        for t in self.tasks {
            let _ = t.await;
        }
        tracing::info!(service = self.name, "stopped");
        served
    }

    /// Stops the background tasks at once, as a killed process would (tests of crash recovery).
    pub fn abort(self) {
        self.server.abort();
        for t in self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::{Reach, rule};

    #[test]
    fn metric_labels_come_only_from_served_paths() {
        static POLICIES: &[Policy] = &[Policy {
            service: "redsupply.x.v1.XService",
            rules: &[rule("Get", &["worker"], Reach::Open)],
        }];
        let layer = ObserveLayer::new(POLICIES);
        assert_eq!(
            layer.label("/redsupply.x.v1.XService/Get"),
            "/redsupply.x.v1.XService/Get"
        );
        assert_eq!(
            layer.label("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        assert_eq!(layer.label("/redsupply.x.v1.XService/Gone"), "unknown");
        assert_eq!(layer.label("/a/b/c?x"), "unknown");
    }
}
