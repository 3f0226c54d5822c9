//! `redsupply loadtest feed`: what `WatchCases` costs and carries. It lays out one grid per watcher
//! (away from the demo county), opens a case in each, and measures
//! 1. the idle cost of open streams: database statements per second with no stream, one, and all
//!    of them open and idle (from `pg_stat_statements` when the server preloads it, else from
//!    `pg_stat_database` transaction counts);
//! 2. the feed under load: case changes at a constant arrival rate (note updates through
//!    `UpdateCase`, round-robin over the cases) while every watcher follows its own grid; each change
//!    must reach exactly the watcher of its grid, once, and the time from the update's answer to the
//!    message is recorded.
//!
//! Only the endpoints given are contacted; the load is bounded by `--rate` and `--duration`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use hdrhistogram::Histogram;
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        CaseStatus, GetCaseRequest, GetTipRequest, SubmitTipRequest, TipCategory,
        UpdateCaseRequest, WatchCasesRequest, governance_service_client::GovernanceServiceClient,
        grid_gateway_service_client::GridGatewayServiceClient,
    },
    organization::v1::{
        Grid, UpsertGridRequest, organization_service_client::OrganizationServiceClient,
    },
    roles,
};
use serde::Serialize;
use sqlx::PgPool;
use tokio::time::Instant;
use tonic::transport::Channel;
use uuid::Uuid;

use super::Percentiles;

#[derive(Debug, Clone)]
pub struct Options {
    pub governance: String,
    pub organization: String,
    pub watchers: usize,
    /// Case changes per second.
    pub rate: f64,
    pub duration: Duration,
    /// Length of each idle-cost window.
    pub idle: Duration,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct IdleCost {
    /// Where the counts come from: `pg_stat_statements` (statements) or `pg_stat_database`
    /// (transactions).
    pub source: String,
    pub no_stream_per_s: f64,
    pub one_stream_per_s: f64,
    pub all_streams_per_s: f64,
    /// (one − none): what a single idle stream adds.
    pub per_stream_one: f64,
    /// (all − none) / watchers.
    pub per_stream_all: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FeedReport {
    pub watchers: usize,
    pub target_rate: f64,
    pub idle: IdleCost,
    pub updates_sent: u64,
    pub updates_ok: u64,
    pub update_errors: u64,
    /// Updates answered per second during the run.
    pub achieved_rate: f64,
    pub delivered: u64,
    /// Messages delivered per second, from the first update to the last delivery.
    pub delivered_per_s: f64,
    /// Answered updates whose change no watcher got in time.
    pub missing: u64,
    /// Changes a watcher got more than once, or a watcher of another grid got.
    pub duplicated: u64,
    pub misrouted: u64,
    /// From UpdateCase's answer to the watcher's message.
    pub delivery: Percentiles,
}

impl FeedReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.misrouted == 0
    }

    pub fn table(&self) -> String {
        let d = &self.delivery;
        format!(
            "idle cost ({}), per second: none {:.1}, one stream {:.1}, {} streams {:.1} \
             → {:.2} per stream (one), {:.2} per stream ({})\n\
             load: {} watchers, target {:.0} changes/s, achieved {:.1}/s ({} sent, {} errors)\n\
             delivered {} ({:.1}/s); missing {}, duplicated {}, misrouted {}\n\
             delivery latency ms: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}\n",
            self.idle.source,
            self.idle.no_stream_per_s,
            self.idle.one_stream_per_s,
            self.watchers,
            self.idle.all_streams_per_s,
            self.idle.per_stream_one,
            self.idle.per_stream_all,
            self.watchers,
            self.watchers,
            self.target_rate,
            self.achieved_rate,
            self.updates_sent,
            self.update_errors,
            self.delivered,
            self.delivered_per_s,
            self.missing,
            self.duplicated,
            self.misrouted,
            d.p50_ms,
            d.p90_ms,
            d.p99_ms,
            d.p999_ms,
            d.max_ms,
        )
    }
}

/// What the watchers got: (watcher, case id, note, arrival).
type Seen = Arc<Mutex<Vec<(usize, String, String, Instant)>>>;

async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    Ok(
        tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect()
            .await?,
    )
}

/// Statements (or transactions) the database has run so far, and the counter's name.
async fn database_work(pool: &PgPool) -> anyhow::Result<(String, f64)> {
    let preloaded: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
            .fetch_one(pool)
            .await?;
    if preloaded.contains("pg_stat_statements")
        && sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .is_ok()
    {
        let calls: f64 = sqlx::query_scalar(
            "SELECT coalesce(sum(calls), 0)::float8 FROM pg_stat_statements s
             JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()",
        )
        .fetch_one(pool)
        .await?;
        return Ok(("pg_stat_statements calls".into(), calls));
    }
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(pool)
        .await
        .ok();
    let xacts: f64 = sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::float8 FROM pg_stat_database
         WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await?;
    Ok(("pg_stat_database transactions".into(), xacts))
}

/// The database's work per second over `window`.
async fn work_rate(pool: &PgPool, window: Duration) -> anyhow::Result<(String, f64)> {
    let (source, before) = database_work(pool).await?;
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let (_, after) = database_work(pool).await?;
    // The two measuring statements themselves.
    Ok((
        source,
        (after - before - 2.0).max(0.0) / t.elapsed().as_secs_f64(),
    ))
}

/// Opens a stream on one grid and forwards every case message's (note, arrival) to `seen`.
async fn spawn_watcher(
    gateway: GridGatewayServiceClient<Channel>,
    token: String,
    grid: Uuid,
    index: usize,
    seen: Seen,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut gateway = gateway;
    let mut stream = gateway
        .watch_cases(with_bearer(
            WatchCasesRequest {
                grid_ids: vec![grid.to_string()],
                ..Default::default()
            },
            &token,
        ))
        .await?
        .into_inner();
    Ok(tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Some(case) = m.case {
                seen.lock()
                    .expect("seen")
                    .push((index, case.id, case.note, Instant::now()));
            }
        }
    }))
}

pub async fn run(
    o: &Options,
    auth: &kit::auth::Authenticator,
    pool: &PgPool,
) -> anyhow::Result<FeedReport> {
    anyhow::ensure!(
        o.watchers >= 1 && o.watchers <= 500,
        "--watchers must be within 1..500"
    );
    anyhow::ensure!(
        o.rate > 0.0 && o.rate <= 10_000.0,
        "--rate must be within (0, 10000]"
    );
    anyhow::ensure!(
        o.duration <= Duration::from_secs(600),
        "--duration is at most 600 s"
    );
    let admin = auth.issue("loadtest", &[roles::COUNTY_ADMIN], Some(3_600))?;
    // A grid platform's token names the grids it mirrors: one platform per watcher (a caller
    // holds only `watch_streams_per_caller` streams), one for the updates that covers them all.
    let platform_token = |name: String, grids: Vec<Uuid>| {
        let scope = kit::auth::Scope {
            communities: Vec::new(),
            grids,
            platform: Some(name.clone()),
        };
        auth.issue_scoped(&name, &[roles::GRID_SYSTEM], &scope, Some(3_600))
    };
    let watcher_token =
        |i: usize, grid: Uuid| platform_token(format!("loadtest-platform-{i}"), vec![grid]);
    let gov_channel = channel(&o.governance).await?;
    let mut governance = GovernanceServiceClient::new(gov_channel.clone());
    let gateway = GridGatewayServiceClient::new(gov_channel);
    let mut organization = OrganizationServiceClient::new(channel(&o.organization).await?);

    // One small grid per watcher in rows in the county's south-west, away from the demo's grids,
    // a case in each. Each position has a fixed request_id, so a later run finds the same grids
    // (a new grid there would overlap the old one).
    let run = Uuid::now_v7().simple().to_string();
    let mut grids = Vec::with_capacity(o.watchers);
    for i in 0..o.watchers {
        let (lat, lng) = (
            29.47 + 0.01 * (i / 40) as f64,
            103.31 + 0.01 * (i % 40) as f64,
        );
        let corner = |dlat: f64, dlng: f64| LatLng {
            latitude: lat + dlat,
            longitude: lng + dlng,
        };
        let grid = organization
            .upsert_grid(with_bearer(
                UpsertGridRequest {
                    grid: Some(Grid {
                        name: format!("feed bench #{i}"),
                        boundary: vec![
                            corner(0.0, 0.0),
                            corner(0.0, 0.008),
                            corner(0.008, 0.008),
                            corner(0.008, 0.0),
                        ],
                        ..Default::default()
                    }),
                    request_id: format!("feed-bench-grid-{i}"),
                    ..Default::default()
                },
                &admin,
            ))
            .await?
            .into_inner()
            .grid
            .ok_or_else(|| anyhow::anyhow!("UpsertGrid answered no grid"))?;
        grids.push((Uuid::parse_str(&grid.id)?, lat + 0.004, lng + 0.004));
    }
    let platform = platform_token(
        "loadtest-platform".to_owned(),
        grids.iter().map(|g| g.0).collect(),
    )?;
    let mut tips = Vec::with_capacity(o.watchers);
    for (i, (_, lat, lng)) in grids.iter().enumerate() {
        let reporter = Uuid::now_v7();
        let token = auth.issue(&reporter.to_string(), &[roles::WORKER], Some(3_600))?;
        let tip = governance
            .submit_tip(with_bearer(
                SubmitTipRequest {
                    request_id: format!("feed-bench-{run}-{i}"),
                    reporter_id: reporter.to_string(),
                    category: TipCategory::PublicFacility as i32,
                    description: "feed bench".into(),
                    location: Some(LatLng {
                        latitude: *lat,
                        longitude: *lng,
                    }),
                    ..Default::default()
                },
                &token,
            ))
            .await?
            .into_inner()
            .tip
            .ok_or_else(|| anyhow::anyhow!("SubmitTip answered no tip"))?;
        tips.push(tip.id);
    }
    // Each case in its grid (a tip that raced its grid's arrival is routed once the grid is known).
    let until = Instant::now() + Duration::from_secs(120);
    let mut cases = Vec::with_capacity(o.watchers);
    for (tip, (grid, _, _)) in tips.iter().zip(&grids) {
        loop {
            anyhow::ensure!(
                Instant::now() < until,
                "tip {tip} found no case in its grid in 120 s"
            );
            let t = governance
                .get_tip(with_bearer(GetTipRequest { id: tip.clone() }, &admin))
                .await?
                .into_inner()
                .tip
                .unwrap_or_default();
            if !t.case_id.is_empty() {
                let c = governance
                    .get_case(with_bearer(
                        GetCaseRequest {
                            id: t.case_id.clone(),
                        },
                        &admin,
                    ))
                    .await?
                    .into_inner()
                    .case
                    .unwrap_or_default();
                if c.grid_id == grid.to_string() {
                    cases.push(t.case_id);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Idle cost: none, one, all streams open.
    let seen: Seen = Arc::default();
    let (source, none) = work_rate(pool, o.idle).await?;
    let mut watchers = vec![
        spawn_watcher(
            gateway.clone(),
            watcher_token(0, grids[0].0)?,
            grids[0].0,
            0,
            seen.clone(),
        )
        .await?,
    ];
    let (_, one) = work_rate(pool, o.idle).await?;
    for (i, (grid, _, _)) in grids.iter().enumerate().skip(1) {
        watchers.push(
            spawn_watcher(
                gateway.clone(),
                watcher_token(i, *grid)?,
                *grid,
                i,
                seen.clone(),
            )
            .await?,
        );
    }
    let (_, all) = work_rate(pool, o.idle).await?;
    let idle = IdleCost {
        source,
        no_stream_per_s: none,
        one_stream_per_s: one,
        all_streams_per_s: all,
        per_stream_one: one - none,
        per_stream_all: (all - none) / o.watchers as f64,
    };

    // Load: note updates at a constant arrival rate, round-robin over the cases.
    let total = (o.duration.as_secs_f64() * o.rate).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / o.rate);
    let answered: Arc<Mutex<HashMap<String, (usize, Instant)>>> = Arc::default();
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(100);
    let mut sends = Vec::with_capacity(total as usize);
    for n in 0..total {
        let at = start + interval * n as u32;
        tokio::time::sleep_until(at).await;
        let k = n as usize % cases.len();
        let (case, note) = (cases[k].clone(), format!("feed bench {run} {n}"));
        let (mut gateway, token) = (gateway.clone(), platform.clone());
        let (answered, errors) = (answered.clone(), errors.clone());
        sends.push(tokio::spawn(async move {
            let r = gateway
                .update_case(with_bearer(
                    UpdateCaseRequest {
                        case_id: case,
                        // Same status, a new note: one change (the status keeps old servers happy).
                        status: CaseStatus::Assigned as i32,
                        note: note.clone(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await;
            match r {
                Ok(_) => {
                    answered
                        .lock()
                        .expect("answered")
                        .insert(note, (k, Instant::now()));
                }
                Err(_) => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for s in sends {
        let _ = s.await;
    }
    let sent_for = start.elapsed();
    let answered = Arc::try_unwrap(answered)
        .map_err(|_| anyhow::anyhow!("updates still running"))?
        .into_inner()
        .expect("answered");
    // Wait (bounded) for every answered update's message.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = seen.lock().expect("seen").len();
        if got >= answered.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in watchers {
        w.abort();
    }
    let seen = seen.lock().expect("seen").clone();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
    let mut delivered_once: HashMap<&str, u32> = HashMap::new();
    let (mut misrouted, mut last_arrival) = (0u64, start);
    for (watcher, _case, note, at) in &seen {
        let Some((k, answered_at)) = answered.get(note) else {
            continue; // a change from before the load
        };
        if watcher != k {
            misrouted += 1;
            continue;
        }
        *delivered_once.entry(note.as_str()).or_default() += 1;
        histogram
            .record(
                at.saturating_duration_since(*answered_at)
                    .as_micros()
                    .max(1) as u64,
            )
            .ok();
        last_arrival = last_arrival.max(*at);
    }
    let delivered: u64 = delivered_once.values().map(|n| u64::from(*n)).sum();
    let duplicated = delivered_once.values().filter(|n| **n > 1).count() as u64;
    let missing = answered
        .keys()
        .filter(|n| !delivered_once.contains_key(n.as_str()))
        .count() as u64;
    Ok(FeedReport {
        watchers: o.watchers,
        target_rate: o.rate,
        idle,
        updates_sent: total,
        updates_ok: answered.len() as u64,
        update_errors: errors.load(std::sync::atomic::Ordering::Relaxed),
        achieved_rate: answered.len() as f64 / sent_for.as_secs_f64(),
        delivered,
        delivered_per_s: delivered as f64
            / last_arrival
                .saturating_duration_since(start)
                .as_secs_f64()
                .max(1e-3),
        missing,
        duplicated,
        misrouted,
        delivery: Percentiles::of(&histogram),
    })
}
