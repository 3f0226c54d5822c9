//! Starting and stopping the stack: `TestApp`, the four services against a fresh database and a
//! private `nats-server` (or a three-node JetStream cluster), each with its own shutdown switch (so
//! a test can stop, crash or restart one alone), and a second replica of a service beside the
//! first.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use kit::{Runtime, Shutdown, grpc::Running};
use redsupply::{AppSettings, ServiceName};
use tonic::transport::Channel;

use crate::{Nats, TestDb, connect, eventually};

/// One running service with its own shutdown switch, so a test can stop or crash it alone.
struct Hosted {
    running: Option<Running>,
    stop: Shutdown,
}

/// The whole stack against a fresh database and a private `nats-server`.
pub struct TestApp {
    pub settings: AppSettings,
    pub db: TestDb,
    pub nats: Nats,
    pub rt: Runtime,
    pub auth: Arc<kit::auth::Authenticator>,
    hosted: HashMap<ServiceName, Hosted>,
    replicas: Vec<(ServiceName, Hosted)>,
}

impl TestApp {
    /// Starts all four services.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts all four services after `tweak` adjusts the settings.
    pub async fn spawn_with(tweak: impl FnOnce(&mut AppSettings)) -> Self {
        Self::spawn_on(TestDb::create().await, tweak).await
    }

    /// Starts all four services on a database the test prepared (say, one with history written at
    /// an older schema version); the remaining migrations apply first.
    pub async fn spawn_on(db: TestDb, tweak: impl FnOnce(&mut AppSettings)) -> Self {
        Self::spawn_with_nats(db, Nats::start().await, tweak).await
    }

    /// Starts all four services on a three-node JetStream cluster, every stream replicated on
    /// all three nodes, as production runs.
    pub async fn spawn_on_cluster(tweak: impl FnOnce(&mut AppSettings)) -> Self {
        let nats = Nats::start_cluster(3).await;
        Self::spawn_with_nats(TestDb::create().await, nats, |s| {
            s.common.nats.stream_replicas = 3;
            tweak(s);
        })
        .await
    }

    async fn spawn_with_nats(db: TestDb, nats: Nats, tweak: impl FnOnce(&mut AppSettings)) -> Self {
        let mut settings = AppSettings::load(None).expect("default settings");
        settings.common.development = true;
        settings.common.database.url = kit::settings::Secret::new(db.url.clone());
        settings.common.database.max_connections = 8;
        settings.common.database.acquire_timeout_ms = 15_000;
        settings.common.nats.url = nats.url();
        // The harness itself (publishing test events, reading streams) is the operator; each
        // service connects with its own credentials (start_service).
        settings.common.nats = Nats::as_user(&settings.common.nats, "operator");
        settings.common.nats.ack_wait_ms = 2_000;
        settings.common.nats.backoff_ms = vec![100, 200, 500];
        settings.common.nats.relay_poll_ms = 100;
        settings.common.admin.listen = None;
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        settings.organization.listen = any;
        settings.education.listen = any;
        settings.stations.listen = any;
        settings.governance.listen = any;
        settings.governance.watch_poll_ms = 100;
        tweak(&mut settings);
        redsupply::startup::migrate(&settings)
            .await
            .expect("migrations apply to a fresh database");
        let rt = Runtime::new(settings.common.clone(), Shutdown::new())
            .await
            .expect("runtime");
        let auth = rt.auth.clone();
        let mut app = Self {
            settings,
            db,
            nats,
            rt,
            auth,
            hosted: HashMap::new(),
            replicas: Vec::new(),
        };
        for s in ServiceName::EACH {
            app.start_service(s).await;
        }
        // Each service's relay creates its stream as it starts: a test that publishes at once
        // must not find it missing.
        for s in ServiceName::EACH {
            let (js, name) = (
                app.rt.bus.jetstream.clone(),
                kit::bus::stream_name(s.schema()),
            );
            eventually("every service's stream to exist", || {
                let (js, name) = (js.clone(), name.clone());
                async move { js.get_stream(&name).await.ok().map(drop) }
            })
            .await;
        }
        app
    }

    /// Starts (or restarts) one service; it gets a new port.
    pub async fn start_service(&mut self, name: ServiceName) {
        let stop = self.rt.shutdown.child_token();
        let rt = self.service_runtime(name, stop.clone()).await;
        let mut running = redsupply::start(&self.settings, &[name], &rt)
            .await
            .expect("service starts");
        if let Some(r) = running.last()
            && self.settings.common.tls.cert_path.is_empty()
        {
            // Over TLS a test connects with its own certificates and waits itself.
            await_ready(r.addr).await;
        }
        self.hosted.insert(
            name,
            Hosted {
                running: running.pop(),
                stop,
            },
        );
    }

    /// Starts one more instance of a service beside the first (same database and bus), as a
    /// second replica would run; returns its address.
    pub async fn start_replica(&mut self, name: ServiceName) -> SocketAddr {
        let stop = self.rt.shutdown.child_token();
        let rt = self.service_runtime(name, stop.clone()).await;
        let running = redsupply::start(&self.settings, &[name], &rt)
            .await
            .expect("replica starts")
            .pop()
            .expect("one service");
        let addr = running.addr;
        if self.settings.common.tls.cert_path.is_empty() {
            await_ready(addr).await;
        }
        self.replicas.push((
            name,
            Hosted {
                running: Some(running),
                stop,
            },
        ));
        addr
    }

    /// The runtime of one service: the harness's, with the service's own NATS connection (its own
    /// user, as in production) and shutdown switch.
    async fn service_runtime(&self, name: ServiceName, stop: Shutdown) -> Runtime {
        let nats = Nats::as_user(&self.settings.common.nats, name.schema());
        let bus = kit::bus::Bus::connect(&nats).await.expect("service bus");
        Runtime {
            shutdown: stop,
            bus,
            ..self.rt.clone()
        }
    }

    /// Stops one service gracefully and waits until it has.
    pub async fn stop_service(&mut self, name: ServiceName) {
        if let Some(h) = self.hosted.get_mut(&name) {
            h.stop.cancel();
            if let Some(r) = h.running.take() {
                let _ = r.join().await;
            }
        }
    }

    /// Stops one service at once, as a killed process would: its tasks end where they are,
    /// with nothing flushed or acknowledged.
    pub fn crash_service(&mut self, name: ServiceName) {
        if let Some(r) = self.hosted.get_mut(&name).and_then(|h| h.running.take()) {
            r.abort();
        }
    }

    pub fn addr(&self, name: ServiceName) -> SocketAddr {
        self.hosted[&name]
            .running
            .as_ref()
            .expect("service is running")
            .addr
    }

    pub async fn channel(&self, name: ServiceName) -> Channel {
        connect(self.addr(name)).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.rt.shutdown.cancel();
    }
}

/// Waits until the service at `addr` is ready, as a readiness probe would: its overall health
/// SERVING, which it is once its first database check has answered.
async fn await_ready(addr: SocketAddr) {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    eventually("the service to be ready", || async move {
        let status = HealthClient::new(connect(addr).await)
            .check(HealthCheckRequest::default())
            .await
            .ok()?
            .into_inner()
            .status();
        (status == ServingStatus::Serving).then_some(())
    })
    .await;
}
