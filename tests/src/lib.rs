//! The test harness: a disposable `nats-server` (its own port and store) and a fresh PostgreSQL
//! database per test, and the real services started on `127.0.0.1:0` against them, with generated
//! gRPC clients and helpers that wait for a condition with a deadline instead of sleeping.

pub mod nats;
pub mod pg;

use std::{collections::HashMap, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use kit::{Runtime, Shutdown, auth::with_bearer, grpc::Running};
use redsupply::{AppSettings, ServiceName};
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        WatchCasesResponse, governance_service_client::GovernanceServiceClient,
        grid_gateway_service_client::GridGatewayServiceClient,
    },
    organization::v1::{self as org, organization_service_client::OrganizationServiceClient},
    roles,
    stations::v1::{
        points_service_client::PointsServiceClient, stations_service_client::StationsServiceClient,
    },
};
use tonic::transport::Channel;
use uuid::Uuid;

pub use nats::Nats;
pub use pg::TestDb;

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

/// A channel to a server the test started.
pub async fn connect(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the service")
}

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
        let nats = Nats::start().await;
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

    pub async fn organization(&self) -> OrganizationServiceClient<Channel> {
        OrganizationServiceClient::new(self.channel(ServiceName::Organization).await)
    }
    pub async fn party(&self) -> org::party_service_client::PartyServiceClient<Channel> {
        org::party_service_client::PartyServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn enterprises(
        &self,
    ) -> org::enterprise_service_client::EnterpriseServiceClient<Channel> {
        org::enterprise_service_client::EnterpriseServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn care(&self) -> org::care_service_client::CareServiceClient<Channel> {
        org::care_service_client::CareServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn governance(&self) -> GovernanceServiceClient<Channel> {
        GovernanceServiceClient::new(self.channel(ServiceName::Governance).await)
    }
    pub async fn gateway(&self) -> GridGatewayServiceClient<Channel> {
        GridGatewayServiceClient::new(self.channel(ServiceName::Governance).await)
    }
    pub async fn education(
        &self,
    ) -> redsupply_proto::education::v1::education_service_client::EducationServiceClient<Channel>
    {
        redsupply_proto::education::v1::education_service_client::EducationServiceClient::new(
            self.channel(ServiceName::Education).await,
        )
    }
    pub async fn points(&self) -> PointsServiceClient<Channel> {
        PointsServiceClient::new(self.channel(ServiceName::Stations).await)
    }
    pub async fn stations(&self) -> StationsServiceClient<Channel> {
        StationsServiceClient::new(self.channel(ServiceName::Stations).await)
    }
    pub async fn health(
        &self,
        name: ServiceName,
    ) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel(name).await)
    }

    /// A token for `role` with `subject`.
    pub fn token(&self, role: &str, subject: &str) -> String {
        self.auth.issue(subject, &[role], None).expect("token")
    }

    /// A token for `role` with `subject` that serves `communities` and `grids`.
    pub fn scoped_token(
        &self,
        role: &str,
        subject: &str,
        communities: &[Uuid],
        grids: &[Uuid],
    ) -> String {
        let scope = kit::auth::Scope {
            communities: communities.to_vec(),
            grids: grids.to_vec(),
            platform: None,
        };
        self.auth
            .issue_scoped(subject, &[role], &scope, None)
            .expect("token")
    }

    /// A `grid_system` token for a platform that mirrors every grid the county has now.
    pub async fn platform_token(&self, platform: &str) -> String {
        let grids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM governance.grids ORDER BY id")
            .fetch_all(&self.db.pool().await)
            .await
            .expect("grids");
        let scope = kit::auth::Scope {
            communities: Vec::new(),
            grids,
            platform: Some(platform.to_owned()),
        };
        self.auth
            .issue_scoped(platform, &[roles::GRID_SYSTEM], &scope, None)
            .expect("token")
    }

    pub fn admin_token(&self) -> String {
        self.token(roles::COUNTY_ADMIN, "test-admin")
    }

    /// The case as `GetCase` shows it to county staff.
    pub async fn case(&self, id: &str) -> redsupply_proto::governance::v1::Case {
        self.governance()
            .await
            .get_case(with_bearer(
                redsupply_proto::governance::v1::GetCaseRequest { id: id.into() },
                &self.admin_token(),
            ))
            .await
            .expect("the case")
            .into_inner()
            .case
            .expect("a case in the answer")
    }

    /// Submits a tip of `category` at (lat, lng) for `reporter` (a new request id) and returns it
    /// as accepted, before dispatch.
    pub async fn submit_tip_at(
        &self,
        reporter: Uuid,
        token: &str,
        category: redsupply_proto::governance::v1::TipCategory,
        (latitude, longitude): (f64, f64),
    ) -> redsupply_proto::governance::v1::Tip {
        self.governance()
            .await
            .submit_tip(with_bearer(
                redsupply_proto::governance::v1::SubmitTipRequest {
                    request_id: Uuid::now_v7().to_string(),
                    reporter_id: reporter.to_string(),
                    category: category as i32,
                    description: "Broken streetlight".into(),
                    location: Some(LatLng {
                        latitude,
                        longitude,
                    }),
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect("tip accepted")
            .into_inner()
            .tip
            .expect("a tip in the answer")
    }

    /// The tip once dispatched (it has a case), as county staff read it.
    pub async fn dispatched_tip(&self, id: &str) -> redsupply_proto::governance::v1::Tip {
        let admin = self.admin_token();
        eventually("the tip to be dispatched", || {
            let (id, admin) = (id.to_owned(), admin.clone());
            async move {
                let t = self
                    .governance()
                    .await
                    .get_tip(with_bearer(
                        redsupply_proto::governance::v1::GetTipRequest { id },
                        &admin,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .tip?;
                (!t.case_id.is_empty()).then_some(t)
            }
        })
        .await
    }

    /// Registers a worker and returns its id and a worker token for it.
    pub async fn register_worker(&self, name: &str) -> (Uuid, String) {
        self.register_worker_in(None, name).await
    }

    /// A worker of `community` (registered by county staff) and a worker token for them.
    pub async fn register_worker_in(&self, community: Option<Uuid>, name: &str) -> (Uuid, String) {
        let w = self
            .organization()
            .await
            .register_worker(with_bearer(
                org::RegisterWorkerRequest {
                    request_id: Uuid::now_v7().to_string(),
                    name: name.into(),
                    phone: "13900000000".into(),
                    platform: "Meituan".into(),
                    community_id: community.map(|c| c.to_string()),
                    ..Default::default()
                },
                &self.admin_token(),
            ))
            .await
            .expect("register worker")
            .into_inner()
            .worker
            .unwrap();
        let id = Uuid::parse_str(&w.id).unwrap();
        let token = self.token(roles::WORKER, &w.id);
        (id, token)
    }

    /// Creates a square grid with its south-west corner at (lat, lng) and `size` degrees a side, and
    /// waits until governance's read model holds it.
    pub async fn create_grid(&self, name: &str, lat: f64, lng: f64, size: f64) -> Uuid {
        self.create_grid_in(None, name, lat, lng, size).await
    }

    /// A community (as county staff create it).
    pub async fn create_community(&self, name: &str) -> Uuid {
        let c = self
            .organization()
            .await
            .upsert_community(with_bearer(
                org::UpsertCommunityRequest {
                    community: Some(org::Community {
                        name: name.into(),
                        ..Default::default()
                    }),
                    request_id: Uuid::now_v7().to_string(),
                    expected_version: 0,
                },
                &self.admin_token(),
            ))
            .await
            .expect("upsert community")
            .into_inner()
            .community
            .unwrap();
        Uuid::parse_str(&c.id).unwrap()
    }

    /// A square grid of `community` with its south-west corner at (lat, lng), once governance
    /// knows it.
    pub async fn create_grid_in(
        &self,
        community: Option<Uuid>,
        name: &str,
        lat: f64,
        lng: f64,
        size: f64,
    ) -> Uuid {
        let boundary = vec![
            LatLng {
                latitude: lat,
                longitude: lng,
            },
            LatLng {
                latitude: lat,
                longitude: lng + size,
            },
            LatLng {
                latitude: lat + size,
                longitude: lng + size,
            },
            LatLng {
                latitude: lat + size,
                longitude: lng,
            },
        ];
        let grid = self
            .organization()
            .await
            .upsert_grid(with_bearer(
                org::UpsertGridRequest {
                    grid: Some(org::Grid {
                        name: name.into(),
                        boundary,
                        community_id: community.map(|c| c.to_string()).unwrap_or_default(),
                        ..Default::default()
                    }),
                    request_id: Uuid::now_v7().to_string(),
                    expected_version: 0,
                },
                &self.admin_token(),
            ))
            .await
            .expect("upsert grid")
            .into_inner()
            .grid
            .unwrap();
        let id = Uuid::parse_str(&grid.id).unwrap();
        let pool = self.db.pool().await;
        eventually("governance to learn the grid", || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM governance.grids WHERE id = $1
                       AND community_id IS NOT DISTINCT FROM $2",
                )
                .bind(id)
                .bind(community)
                .fetch_one(&pool)
                .await
                .ok()?;
                (n == 1).then_some(())
            }
        })
        .await;
        id
    }

    /// Waits until `count_sql` (a `count(*)` with `$1` for the id) finds the row: a read model
    /// that fills by event.
    pub async fn await_row(&self, what: &str, count_sql: &'static str, id: Uuid) {
        let pool = self.db.pool().await;
        eventually(what, || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(count_sql)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (n == 1).then_some(())
            }
        })
        .await;
    }

    /// Waits until stations' read models know the worker (its registration arrives by event).
    pub async fn stations_know_worker(&self, worker: Uuid) {
        self.await_row(
            "stations to learn the worker",
            "SELECT count(*) FROM stations.workers WHERE id = $1",
            worker,
        )
        .await;
    }

    /// Waits until stations' read models know the community (it arrives by event).
    pub async fn stations_know_community(&self, community: Uuid) {
        self.await_row(
            "stations to learn the community",
            "SELECT count(*) FROM stations.communities WHERE id = $1",
            community,
        )
        .await;
    }

    /// Waits until a consumer has nothing pending and nothing unacknowledged.
    pub async fn consumer_idle(
        &self,
        producer: &str,
        durable: &str,
    ) -> async_nats::jetstream::consumer::Info {
        let js = self.rt.bus.jetstream.clone();
        let stream = kit::bus::stream_name(producer);
        eventually(&format!("{durable} to be idle"), || {
            let js = js.clone();
            let stream = stream.clone();
            async move {
                let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
                    .get_stream(&stream)
                    .await
                    .ok()?
                    .get_consumer(durable)
                    .await
                    .ok()?;
                let info = consumer.info().await.ok()?.clone();
                (info.num_pending == 0 && info.num_ack_pending == 0).then_some(info)
            }
        })
        .await
    }
}

impl TestApp {
    /// Publishes an integration event as its producer's relay would (for consumers whose producer
    /// belongs to another part of the system).
    pub async fn publish_event(&self, subject: &str, message: &impl prost::Message) -> Uuid {
        let producer = subject.split('.').nth(1).unwrap_or_default();
        self.publish_event_as(subject, &format!("redsupply/{producer}"), message)
            .await
    }

    /// Like [`publish_event`](Self::publish_event), claiming to come from `source` (`ce-source`).
    pub async fn publish_event_as(
        &self,
        subject: &str,
        source: &str,
        message: &impl prost::Message,
    ) -> Uuid {
        let id = Uuid::now_v7();
        let mut h = async_nats::HeaderMap::new();
        h.insert(kit::bus::headers::ID, id.to_string().as_str());
        h.insert(kit::bus::headers::MSG_ID, id.to_string().as_str());
        h.insert(kit::bus::headers::SOURCE, source);
        self.rt
            .bus
            .jetstream
            .send_publish(
                subject.to_owned(),
                async_nats::jetstream::message::PublishMessage::build()
                    .payload(message.encode_to_vec().into())
                    .headers(h),
            )
            .await
            .expect("publish")
            .await
            .expect("acknowledged");
        id
    }

    /// Every event `producer` has published on `subject` so far, decoded, oldest first.
    pub async fn published<M: prost::Message + Default>(
        &self,
        producer: &str,
        subject: &str,
    ) -> Vec<M> {
        use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
        use futures::StreamExt;
        let stream = self
            .rt
            .bus
            .jetstream
            .get_stream(kit::bus::stream_name(producer))
            .await
            .expect("the producer's stream exists");
        let mut consumer = stream
            .create_consumer(pull::Config {
                filter_subject: subject.to_owned(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .expect("an ephemeral consumer");
        let pending = consumer.info().await.expect("consumer info").num_pending as usize;
        let mut out = Vec::with_capacity(pending);
        if pending == 0 {
            return out;
        }
        let mut messages = consumer
            .fetch()
            .max_messages(pending)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch");
        while let Some(Ok(m)) = messages.next().await {
            out.push(M::decode(m.payload.clone()).expect("the event decodes"));
        }
        out
    }

    /// A worker's balance as the API reports it, or its refusal (NOT_FOUND while stations knows
    /// nothing of the worker).
    pub async fn try_balance(&self, worker: Uuid) -> Result<i64, tonic::Status> {
        Ok(self
            .points()
            .await
            .get_balance(with_bearer(
                redsupply_proto::stations::v1::GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                &self.admin_token(),
            ))
            .await?
            .into_inner()
            .balance
            .expect("balance")
            .points)
    }

    /// A worker's balance as the API reports it.
    pub async fn balance(&self, worker: Uuid) -> i64 {
        self.try_balance(worker).await.expect("balance")
    }

    /// Waits until the worker's balance is `points`; meanwhile stations may not know the worker
    /// yet (its registration and its points arrive by events).
    pub async fn await_balance(&self, worker: Uuid, points: i64) {
        let mut last = 0;
        let reached = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.try_balance(worker).await {
                    Ok(p) if p == points => return,
                    Ok(p) => last = p,
                    Err(s) if s.code() == tonic::Code::NotFound => {}
                    Err(s) => panic!("balance: {s:?}"),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(reached.is_ok(), "balance stayed at {last}, not {points}");
    }

    /// Every balance equals the sum of its worker's ledger entries.
    pub async fn assert_ledger_replays(&self) {
        let drift: Vec<(Uuid, i64, i64)> = sqlx::query_as(
            "SELECT b.worker_id, b.points, COALESCE(sum(l.points), 0)::bigint
             FROM stations.balances b LEFT JOIN stations.ledger_entries l ON l.worker_id = b.worker_id
             GROUP BY b.worker_id, b.points HAVING b.points <> COALESCE(sum(l.points), 0)",
        )
        .fetch_all(&self.db.pool().await)
        .await
        .expect("ledger query");
        assert!(
            drift.is_empty(),
            "balances differ from their ledgers: {drift:?}"
        );
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.rt.shutdown.cancel();
    }
}
