//! The catalogue of every metric the services export, so each has HELP text and a unit from the
//! process's start, histograms of counts get buckets that fit counts, and the failure counters
//! alerts watch exist at zero before their first increment (`increase(...) > 0` sees the first
//! dead letter of a pod). Beside them: `build_info`, the process's own figures (CPU, memory, open
//! files, start time) and the database pool's (connections in use and idle, acquire time).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// What a metric is: a counter, a gauge or a histogram (of seconds, or of counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Seconds,
    Counts,
    /// Seconds an event waited from its commit at the producer to its effect here: longer than a
    /// call, so buckets up to minutes (an outage's backlog).
    Delay,
}

/// Every metric: name, kind, HELP.
pub const CATALOGUE: &[(&str, Kind, &str)] = &[
    (
        "build_info",
        Kind::Gauge,
        "1, labelled with the running release (version) and the services this process serves",
    ),
    (
        "grpc_server_handled_total",
        Kind::Counter,
        "gRPC calls completed, by method and status code",
    ),
    (
        "grpc_server_handling_seconds",
        Kind::Seconds,
        "Time to answer a gRPC call, by method",
    ),
    (
        "database_up",
        Kind::Gauge,
        "1 while the last database check answered within 2 s, else 0",
    ),
    (
        "nats_connected",
        Kind::Gauge,
        "1 while the NATS connection is up, else 0",
    ),
    (
        "db_pool_connections",
        Kind::Gauge,
        "Database pool connections, by state (in_use, idle) and the pool's limit (max)",
    ),
    (
        "db_pool_acquire_seconds",
        Kind::Seconds,
        "Time the health check waited for a pooled database connection",
    ),
    (
        "consumer_pending",
        Kind::Gauge,
        "Events of the stream not yet delivered to the durable consumer",
    ),
    (
        "consumer_ack_pending",
        Kind::Gauge,
        "Events delivered to the durable consumer and not yet acknowledged",
    ),
    (
        "consumer_event_delay_seconds",
        Kind::Delay,
        "Time from an event's commit at its producer to the commit of its effect here, by consumer and subject (tip to case: governance-dispatch; tip to award: stations-points on redsupply.governance.tip.submitted)",
    ),
    (
        "consumer_applied_total",
        Kind::Counter,
        "Events the consumer applied",
    ),
    (
        "consumer_groups_applied_total",
        Kind::Counter,
        "Groups of events the consumer applied in one transaction",
    ),
    (
        "consumer_duplicates_total",
        Kind::Counter,
        "Redelivered events the consumer had already applied (acknowledged, not applied again)",
    ),
    (
        "consumer_redeliveries_total",
        Kind::Counter,
        "Events delivered to the consumer more than once",
    ),
    (
        "consumer_failures_total",
        Kind::Counter,
        "Attempts to apply an event that failed (it is retried, then dead-lettered)",
    ),
    (
        "consumer_dead_letters_total",
        Kind::Counter,
        "Events the consumer gave up on and kept as dead letters",
    ),
    (
        "outbox_published_total",
        Kind::Counter,
        "Outbox events the relay published and JetStream acknowledged",
    ),
    (
        "outbox_publish_failures_total",
        Kind::Counter,
        "Outbox publishes that failed (retried)",
    ),
    (
        "outbox_backlog",
        Kind::Gauge,
        "Outbox events committed and not yet published",
    ),
    (
        "relay_slot_lag_bytes",
        Kind::Gauge,
        "WAL relay: bytes of WAL written since the position the relay confirmed (PostgreSQL keeps them)",
    ),
    (
        "relay_slot_active",
        Kind::Gauge,
        "WAL relay: 1 while a session (of any replica) holds the service's replication slot",
    ),
    (
        "relay_holds_slot",
        Kind::Gauge,
        "WAL relay: 1 while this process's relay holds the slot, 0 while it waits as a standby",
    ),
    (
        "intake_batch_size",
        Kind::Counts,
        "Tips committed together by one intake commit",
    ),
    (
        "tips_submitted_total",
        Kind::Counter,
        "Tips submitted, new or a retry of one already taken (new=true|false)",
    ),
    (
        "tips_rate_limited_total",
        Kind::Counter,
        "Tips refused because their reporter exceeded the per-minute limit",
    ),
    (
        "feed_lag_seconds",
        Kind::Gauge,
        "Age of the oldest case change the feed still holds back for an open transaction",
    ),
    (
        "feed_watchers",
        Kind::Gauge,
        "Clients watching the case feed",
    ),
    (
        "feed_undecodable_total",
        Kind::Counter,
        "Feed rows that did not decode and were skipped",
    ),
    (
        "coverage_cache_total",
        Kind::Counter,
        "Coverage map requests, by cache result (hit, miss)",
    ),
    (
        "process_cpu_seconds_total",
        // A gauge: the `metrics` crate counts in whole numbers, and CPU time needs hundredths.
        Kind::Gauge,
        "CPU time the process used, user and system (a running total; rate() it)",
    ),
    (
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the process",
    ),
    (
        "process_open_fds",
        Kind::Gauge,
        "Open file descriptors of the process",
    ),
    (
        "process_start_time_seconds",
        Kind::Gauge,
        "When the process started, in seconds since the Unix epoch",
    ),
];

/// Buckets of histograms of counts (a batch's size).
pub const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Buckets of histograms of seconds.
pub const SECOND_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of event delays: 5 ms to 10 minutes.
pub const DELAY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

/// A Prometheus exporter with the catalogue's buckets: seconds by default, counts and delays
/// where a histogram's kind says so.
pub fn exporter() -> metrics_exporter_prometheus::PrometheusBuilder {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let mut builder = PrometheusBuilder::new()
        .set_buckets(SECOND_BUCKETS)
        .expect("second buckets are not empty");
    for (name, kind, _) in CATALOGUE {
        let buckets = match kind {
            Kind::Counts => COUNT_BUCKETS,
            Kind::Delay => DELAY_BUCKETS,
            _ => continue,
        };
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .expect("buckets are not empty");
    }
    builder
}

/// Gives every metric of the catalogue its HELP text and unit (before or after the recorder sees
/// its first sample).
pub fn describe() {
    for (name, kind, help) in CATALOGUE {
        let name = *name;
        match kind {
            Kind::Counter if name.ends_with("_seconds_total") => {
                describe_counter!(name, Unit::Seconds, *help)
            }
            Kind::Counter => describe_counter!(name, *help),
            Kind::Gauge if name.ends_with("_bytes") => describe_gauge!(name, Unit::Bytes, *help),
            Kind::Gauge if name.ends_with("_seconds_total") => {
                describe_gauge!(name, Unit::Seconds, *help)
            }
            Kind::Gauge => describe_gauge!(name, *help),
            Kind::Seconds | Kind::Delay => describe_histogram!(name, Unit::Seconds, *help),
            Kind::Counts => describe_histogram!(name, *help),
        }
    }
}

/// `build_info{version, services}` = 1.
pub fn record_build_info(services: &str) {
    metrics::gauge!(
        "build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "services" => services.to_owned()
    )
    .set(1.0);
}

/// The failure and progress counters of a durable consumer, at zero until they count.
pub fn register_consumer(durable: &'static str) {
    for name in [
        "consumer_applied_total",
        "consumer_groups_applied_total",
        "consumer_duplicates_total",
        "consumer_redeliveries_total",
        "consumer_failures_total",
        "consumer_dead_letters_total",
    ] {
        metrics::counter!(name, "consumer" => durable).increment(0);
    }
}

/// The relay's counters for `producer`'s outbox, at zero until they count.
pub fn register_relay(producer: &'static str) {
    for name in ["outbox_published_total", "outbox_publish_failures_total"] {
        metrics::counter!(name, "service" => producer).increment(0);
    }
}

/// Samples the process's own figures every 5 s for as long as the runtime runs: one sampler per
/// process, however many services it serves.
pub fn spawn_process_sampler() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        tokio::spawn(async {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                sample_process();
            }
        });
    });
}

/// The process's CPU time, resident memory, open files and start time, read from `/proc` (on
/// other systems nothing is recorded).
pub fn sample_process() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces) in `(...)`.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime (14, 15) and starttime (22), counted from 1 with pid and comm.
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let ticks = 100.0; // USER_HZ on Linux
    if let (Some(u), Some(s)) = (field(14), field(15)) {
        metrics::gauge!("process_cpu_seconds_total").set((u + s) / ticks);
    }
    if let Some(kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
    {
        metrics::gauge!("process_resident_memory_bytes").set(kb * 1024.0);
    }
    if let (Some(start), Some(boot)) = (field(22), boot_time()) {
        metrics::gauge!("process_start_time_seconds").set(boot + start / ticks);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
}

fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// `service`'s pool: connections in use and idle, and its limit.
pub fn record_pool(pool: &sqlx::PgPool, service: &'static str) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    let gauge = |state: &'static str| metrics::gauge!("db_pool_connections", "service" => service, "state" => state);
    gauge("in_use").set((size - idle).max(0.0));
    gauge("idle").set(idle);
    gauge("max").set(f64::from(pool.options().get_max_connections()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus scrapes from a fresh process: every metric with HELP and TYPE, a
    /// consumer's dead letters at zero before the first one, batch sizes in count buckets.
    #[test]
    fn a_fresh_scrape_has_help_for_every_metric_and_failure_counters_at_zero() {
        let recorder = exporter().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            record_build_info("governance");
            register_consumer("stations-awards");
            register_relay("governance");
            sample_process();
            metrics::histogram!("intake_batch_size").record(3.0);
            metrics::histogram!("consumer_event_delay_seconds", "consumer" => "stations-points")
                .record(45.0);
        });
        let scrape = handle.render();
        assert!(
            scrape.contains("consumer_dead_letters_total{consumer=\"stations-awards\"} 0"),
            "{scrape}"
        );
        assert!(scrape.contains("outbox_publish_failures_total{service=\"governance\"} 0"));
        assert!(
            scrape.contains("intake_batch_size_bucket{le=\"4\"} 1"),
            "{scrape}"
        );
        assert!(
            scrape.contains(
                "consumer_event_delay_seconds_bucket{consumer=\"stations-points\",le=\"60\"} 1"
            ),
            "an outage's delay falls in a bucket of minutes: {scrape}"
        );
        assert!(scrape.contains("build_info{"));
        let typed: Vec<&str> = scrape
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(typed.len() >= 10, "{scrape}");
        for name in typed {
            assert!(
                scrape.contains(&format!("# HELP {name} ")),
                "{name} has no HELP: {scrape}"
            );
        }
    }

    #[test]
    fn every_metric_the_services_record_is_in_the_catalogue() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if !path.ends_with("target") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for macro_ in ["counter!(", "gauge!(", "histogram!("] {
                    for (i, _) in text.match_indices(macro_) {
                        let after = text[i + macro_.len()..].trim_start();
                        let Some(name) = after.strip_prefix('"').and_then(|r| r.split('"').next())
                        else {
                            continue;
                        };
                        let a_name =
                            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
                        if name.is_empty() || !name.chars().all(a_name) {
                            continue;
                        }
                        if !CATALOGUE.iter().any(|(n, _, _)| *n == name) {
                            missing.push(format!("{}: {name}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "metrics without a catalogue entry: {missing:?}"
        );
    }
}
