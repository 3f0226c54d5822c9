//! `redsupply loadtest tips`: an open-loop load generator for tip intake. Tips are sent at a
//! constant arrival rate and each latency is measured from the tip's *intended* send time, so a
//! stall shows up as latency instead of quietly lowering the rate (no coordinated omission).
//! `--verify` then waits (bounded) until every accepted tip has its case and its award, and lists
//! any tip lost or awarded twice. Traffic goes only to the endpoints given, bounded in count and
//! time.

pub mod feed;
mod verify;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use kit::{auth::with_bearer, time::from_timestamp};
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        GetCaseRequest, GetTipRequest, SubmitTipRequest, TipStatus,
        governance_service_client::GovernanceServiceClient,
    },
    roles,
    stations::v1::{ListLedgerEntriesRequest, points_service_client::PointsServiceClient},
};
use serde::Serialize;
use tokio::{sync::Semaphore, time::Instant};
use tonic::transport::Channel;
use uuid::Uuid;

/// Where tips land: the demo county's 3 × 3 block of grids around the seat.
const AREA: ((f64, f64), (f64, f64)) = ((29.725, 29.755), (103.555, 103.585));
/// Most requests in flight; beyond it a send is counted as a client-side error.
const MAX_IN_FLIGHT: usize = 20_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub governance: Vec<String>,
    pub stations: String,
    /// Tips per second.
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    /// Reporters to spread tips over; 0: enough to stay under the per-reporter rate limit.
    pub workers: usize,
    /// Channels per endpoint.
    pub connections: usize,
    pub verify: bool,
    pub verify_timeout: Duration,
    pub progress: bool,
}

/// Mints the bearer token for a reporter (worker role) or returns a fixed token.
pub enum Tokens {
    Fixed(String),
    Minted(Arc<kit::auth::Authenticator>),
}

impl Tokens {
    fn for_worker(&self, worker: Uuid) -> String {
        match self {
            Tokens::Fixed(t) => t.clone(),
            Tokens::Minted(a) => a
                .issue(&worker.to_string(), &[roles::WORKER], Some(3_600))
                .unwrap_or_default(),
        }
    }
    fn staff(&self) -> String {
        match self {
            Tokens::Fixed(t) => t.clone(),
            Tokens::Minted(a) => a
                .issue("loadtest", &[roles::COUNTY_ADMIN], Some(3_600))
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1_000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub sent: u64,
    pub accepted: u64,
    pub errors: BTreeMap<String, u64>,
    pub intake: Percentiles,
    pub verified: bool,
    pub to_case: Option<Percentiles>,
    pub to_points: Option<Percentiles>,
    /// Tips accepted but without a case or an award when verification gave up.
    pub lost: Vec<String>,
    /// Tips with more than one award (or a case that does not hold them).
    pub duplicated: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let p = |name: &str, p: &Percentiles| {
            format!(
                "{name:<22} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
            )
        };
        out.push_str(&format!(
            "rate: target {:.0}/s, achieved {:.1}/s; sent {}, accepted {}\n",
            self.target_rate, self.achieved_rate, self.sent, self.accepted
        ));
        out.push_str(&format!(
            "{:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
        ));
        out.push_str(&p("intake", &self.intake));
        if let Some(c) = &self.to_case {
            out.push_str(&p("accepted -> case", c));
        }
        if let Some(c) = &self.to_points {
            out.push_str(&p("accepted -> points", c));
        }
        for (code, n) in &self.errors {
            out.push_str(&format!("error {code}: {n}\n"));
        }
        if self.verified {
            out.push_str(&format!(
                "verify: {} lost, {} duplicated\n",
                self.lost.len(),
                self.duplicated.len()
            ));
            for t in self.lost.iter().take(20) {
                out.push_str(&format!("  lost {t}\n"));
            }
            for t in self.duplicated.iter().take(20) {
                out.push_str(&format!("  duplicated {t}\n"));
            }
        }
        out
    }
}

struct Accepted {
    tip: String,
    reporter: Uuid,
}

async fn channels(endpoints: &[String], per: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for e in endpoints {
        for _ in 0..per.max(1) {
            out.push(
                tonic::transport::Endpoint::from_shared(e.clone())?
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true)
                    .connect()
                    .await?,
            );
        }
    }
    Ok(out)
}

/// Runs the load, then (with `verify`) the verification; returns the report.
pub async fn run(o: &Options, tokens: &Tokens) -> anyhow::Result<Report> {
    anyhow::ensure!(
        o.rate > 0.0 && o.rate <= 100_000.0,
        "--rate must be within (0, 100000]"
    );
    anyhow::ensure!(
        o.duration <= Duration::from_secs(3_600),
        "--duration is at most an hour"
    );
    let workers = if o.workers > 0 {
        o.workers
    } else {
        // The default limit is 10 tips a minute per reporter: stay well under it.
        ((o.rate * 60.0 / 6.0).ceil() as usize).max(100)
    };
    let reporters: Vec<(Uuid, String)> = (0..workers)
        .map(|_| {
            let w = Uuid::now_v7();
            (w, tokens.for_worker(w))
        })
        .collect();
    let clients: Vec<GovernanceServiceClient<Channel>> = channels(&o.governance, o.connections)
        .await?
        .into_iter()
        .map(GovernanceServiceClient::new)
        .collect();

    let total = ((o.warmup + o.duration).as_secs_f64() * o.rate).round() as u64;
    let warm = (o.warmup.as_secs_f64() * o.rate).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / o.rate);
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid bounds"),
    ));
    let errors: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
    let (sent, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + interval * warm as u32;

    let progress = o.progress.then(|| {
        let (sent, done, histogram) = (sent.clone(), done.clone(), histogram.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let (s, d) = (sent.load(Ordering::Relaxed), done.load(Ordering::Relaxed));
                let p99 =
                    histogram.lock().expect("histogram").value_at_quantile(0.99) as f64 / 1_000.0;
                eprint!(
                    "\r  sent {s:>8}  done {d:>8}  in flight {:>6}  intake p99 {p99:>8.2} ms   ",
                    s - d
                );
            }
        })
    });

    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let intended = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(intended).await;
        let (reporter, token) = reporters[(i as usize) % reporters.len()].clone();
        let mut client = clients[(i as usize) % clients.len()].clone();
        // Where a replica is gone, the tip goes once more (same request_id) to the next one, as
        // a rider's app retries.
        // (Channels are grouped by endpoint, `connections` to each.)
        let mut fallback = (o.governance.len() > 1)
            .then(|| clients[(i as usize + o.connections.max(1)) % clients.len()].clone());
        let (histogram, errors, accepted, done) = (
            histogram.clone(),
            errors.clone(),
            accepted.clone(),
            done.clone(),
        );
        let measured = intended >= measure_from;
        sent.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            *errors
                .lock()
                .expect("errors")
                .entry("client_saturated".into())
                .or_default() += 1;
            done.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (lat, lng) = {
            let f = (i as f64 * 0.618_033_988_75).fract();
            let g = (i as f64 * 0.754_877_666_25).fract();
            (
                AREA.0.0 + f * (AREA.0.1 - AREA.0.0),
                AREA.1.0 + g * (AREA.1.1 - AREA.1.0),
            )
        };
        tasks.push(tokio::spawn(async move {
            let req = SubmitTipRequest {
                request_id: format!("lt-{i}"),
                reporter_id: reporter.to_string(),
                category: (i % 8 + 1) as i32,
                description: format!("load test tip {i}"),
                location: Some(LatLng {
                    latitude: lat,
                    longitude: lng,
                }),
                photo_urls: vec![],
                observed_at: None,
            };
            let mut result = client.submit_tip(with_bearer(req.clone(), &token)).await;
            if let (Err(status), Some(other)) = (&result, fallback.as_mut())
                && status.code() == tonic::Code::Unavailable
            {
                result = other.submit_tip(with_bearer(req, &token)).await;
            }
            let elapsed = Instant::now().saturating_duration_since(intended);
            drop(permit);
            match result {
                Ok(r) => {
                    if measured {
                        let _ = histogram
                            .lock()
                            .expect("histogram")
                            .record(elapsed.as_micros().max(1) as u64);
                    }
                    if let Some(t) = r.into_inner().tip {
                        accepted.lock().expect("accepted").push(Accepted {
                            tip: t.id,
                            reporter,
                        });
                    }
                }
                Err(s) => {
                    *errors
                        .lock()
                        .expect("errors")
                        .entry(format!("{:?}", s.code()))
                        .or_default() += 1;
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let accepted = std::mem::take(&mut *accepted.lock().expect("accepted"));
    let intake = Percentiles::of(&histogram.lock().expect("histogram"));
    let mut report = Report {
        target_rate: o.rate,
        achieved_rate: total as f64 / wall.max(1e-9),
        sent: total,
        accepted: accepted.len() as u64,
        errors: std::mem::take(&mut *errors.lock().expect("errors")),
        intake,
        ..Default::default()
    };
    if o.verify {
        verify::verify(o, tokens, &clients, &accepted, &mut report).await?;
    }
    Ok(report)
}
