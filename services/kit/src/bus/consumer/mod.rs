//! Idempotent consumers: a durable JetStream pull consumer whose handler runs in a transaction that
//! also records `(consumer, event id)` in the inbox, unless the effect is keyed by the event itself
//! ([`Handler::keyed_by_effect`]). Events arriving within `consumer_linger_ms` share a transaction.
//! The effect commits, then the event is acknowledged; a redelivery finds its inbox row (or its
//! effect) and changes nothing. A failing event is redelivered with back-off, and after
//! `max_deliver` attempts (or at once, when it cannot be decoded) parked as a dead letter.

mod effects;

use std::{collections::HashMap, sync::Arc, time::Instant};

use async_nats::jetstream::{
    AckKind,
    consumer::{AckPolicy, PullConsumer, pull},
};
use futures::{FutureExt, StreamExt};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    Bus, BusError, Event, Faults,
    handler::{ConsumerSpec, Handler, HandlerError},
    headers,
};
use crate::{
    Shutdown,
    shutdown::{backoff, sleep_or_shutdown},
    telemetry,
};

/// Starts a consumer task; it runs until shutdown. Services start theirs through
/// [`crate::Runtime::spawn_consumer`].
pub(crate) fn spawn_consumer<H: Handler>(
    pool: PgPool,
    bus: Bus,
    spec: ConsumerSpec,
    handler: Arc<H>,
    faults: Arc<Faults>,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    let runner = Runner {
        pool,
        bus,
        spec,
        handler,
        faults,
    };
    tokio::spawn(runner.run(shutdown))
}

struct Runner<H> {
    pool: PgPool,
    bus: Bus,
    spec: ConsumerSpec,
    handler: Arc<H>,
    faults: Arc<Faults>,
}

enum Outcome {
    Applied,
    Duplicate,
    /// No effect here (see [`Handler::ignores`]).
    Ignored,
}

/// How long `event` took from its commit at the producer (its `ce-time`) to its effect's commit
/// here: tip to case, tip to award, and every other event's trip.
fn record_delay(durable: &'static str, event: &Event) {
    let Some(at) = event
        .headers
        .get(headers::TIME)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        return;
    };
    let delay = chrono::Utc::now().signed_duration_since(at);
    let seconds = delay.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    metrics::histogram!(
        "consumer_event_delay_seconds",
        "consumer" => durable,
        // The contract's subjects only: a producer cannot mint series by inventing subjects.
        "subject" => if redsupply_proto::subjects::is_event(&event.subject) {
            event.subject.clone()
        } else {
            "other".to_owned()
        }
    )
    .record(seconds.max(0.0));
}

/// What became of a pull while a group was gathered from it.
enum Pull {
    /// More may come.
    Open,
    /// Every message it asked for came, or it expired: pull again.
    Ended,
    /// It broke off: look the consumer up again.
    Broken,
}

/// The consumer task ends as a crashed process would (tests only).
struct Crashed;

struct Prepared {
    msg: async_nats::jetstream::Message,
    event: Event,
    span: tracing::Span,
    has_id: bool,
    /// Why the event cannot be trusted (it claims a sender its subject does not prove).
    untrusted: Option<String>,
}

impl<H: Handler> Runner<H> {
    async fn run(self, shutdown: Shutdown) {
        let durable = self.spec.durable;
        crate::metric_catalogue::register_consumer(durable);
        let mut failures = 0u32;
        'outer: while !shutdown.is_cancelled() {
            let mut consumer = match self.consumer().await {
                Ok(c) => c,
                Err(e) => {
                    // A missing stream appears as soon as its producer starts: look again soon.
                    let delay = if matches!(e, BusError::StreamMissing(_)) {
                        tracing::info!(error = %e, consumer = durable, "consumer waits for its stream");
                        std::time::Duration::from_millis(100)
                    } else {
                        failures += 1;
                        tracing::warn!(error = %e, consumer = durable, "consumer waits for JetStream");
                        backoff(failures)
                    };
                    if sleep_or_shutdown(delay, &shutdown).await {
                        break;
                    }
                    continue;
                }
            };
            failures = 0;
            let mut last_lag = Instant::now();
            while !shutdown.is_cancelled() {
                if last_lag.elapsed().as_secs() >= 5 {
                    last_lag = Instant::now();
                    if let Ok(info) = consumer.info().await {
                        metrics::gauge!("consumer_pending", "consumer" => durable)
                            .set(info.num_pending as f64);
                        metrics::gauge!("consumer_ack_pending", "consumer" => durable)
                            .set(info.num_ack_pending as f64);
                    }
                }
                let batch = consumer
                    .batch()
                    .max_messages(self.bus.settings().consumer_batch)
                    // A batch lives `expires` + 5 s; small batches finish well within it.
                    .expires(std::time::Duration::from_secs(2))
                    .messages()
                    .await;
                let mut messages = match batch {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, consumer = durable, "pull failed; reconnecting");
                        if sleep_or_shutdown(backoff(1), &shutdown).await {
                            break 'outer;
                        }
                        continue 'outer;
                    }
                };
                loop {
                    let next = tokio::select! {
                        next = messages.next() => next,
                        _ = shutdown.cancelled() => break 'outer,
                    };
                    let Some(next) = next else { break };
                    match next {
                        Ok(msg) => {
                            // Whatever else arrives within the linger joins this transaction.
                            let (group, pull) = self.gather(msg, &mut messages).await;
                            if self.process_group(group).await.is_err() {
                                tracing::warn!(
                                    consumer = durable,
                                    "consumer crashed (fault injected)"
                                );
                                return;
                            }
                            match pull {
                                Pull::Open => {}
                                Pull::Ended => break,
                                Pull::Broken => continue 'outer,
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, consumer = durable, "pull interrupted");
                            if sleep_or_shutdown(backoff(1), &shutdown).await {
                                break 'outer;
                            }
                            continue 'outer;
                        }
                    }
                    if shutdown.is_cancelled() {
                        break 'outer;
                    }
                }
            }
        }
        tracing::info!(consumer = durable, "consumer stopped");
    }

    /// The group `first` opens: what else arrives within `consumer_linger` of it, up to
    /// `consumer_batch`; and what became of the pull meanwhile.
    async fn gather(
        &self,
        first: async_nats::jetstream::Message,
        messages: &mut async_nats::jetstream::consumer::pull::Batch,
    ) -> (Vec<async_nats::jetstream::Message>, Pull) {
        let settings = self.bus.settings();
        let deadline = tokio::time::Instant::now() + settings.consumer_linger();
        let mut group = vec![first];
        while group.len() < settings.consumer_batch.max(1) {
            let next = match messages.next().now_or_never() {
                Some(next) => next,
                None => match tokio::time::timeout_at(deadline, messages.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            match next {
                Some(Ok(m)) => group.push(m),
                Some(Err(_)) => return (group, Pull::Broken),
                None => return (group, Pull::Ended),
            }
        }
        (group, Pull::Open)
    }

    async fn consumer(&self) -> Result<PullConsumer, BusError> {
        let err = |e: async_nats::Error| BusError::Consumer {
            consumer: self.spec.durable.to_owned(),
            source: e,
        };
        // The producer creates its stream (NATS lets only it): a consumer that starts first waits.
        let name = super::stream_name(self.spec.producer);
        let stream = self
            .bus
            .jetstream
            .get_stream(&name)
            .await
            .map_err(|_| BusError::StreamMissing(name.clone()))?;
        let config = pull::Config {
            durable_name: Some(self.spec.durable.to_owned()),
            filter_subject: self.spec.subject.to_owned(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.bus.settings().ack_wait(),
            max_ack_pending: 10_000,
            ..Default::default()
        };
        let mut consumer: PullConsumer = stream
            .get_or_create_consumer(self.spec.durable, config.clone())
            .await
            .map_err(|e| err(e.into()))?;
        let existing = consumer.info().await.map_err(|e| err(e.into()))?;
        if existing.config.filter_subject != self.spec.subject {
            // A durable left by an older release with another filter: replace it. It restarts from
            // the stream's first event; the inbox (or the effect's key) makes the replay harmless.
            tracing::warn!(
                consumer = self.spec.durable,
                old = %existing.config.filter_subject,
                new = %self.spec.subject,
                "replacing a consumer whose subject filter changed"
            );
            stream
                .delete_consumer(self.spec.durable)
                .await
                .map_err(|e| err(e.into()))?;
            consumer = stream
                .get_or_create_consumer(self.spec.durable, config)
                .await
                .map_err(|e| err(e.into()))?;
        }
        Ok(consumer)
    }

    fn prepare(&self, msg: async_nats::jetstream::Message) -> Prepared {
        let durable = self.spec.durable;
        let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
        let mut hdrs = HashMap::new();
        if let Some(h) = &msg.headers {
            for (name, values) in h.iter() {
                if let Some(v) = values.first() {
                    hdrs.insert(name.to_string(), v.to_string());
                }
            }
        }
        let id = hdrs
            .get(headers::ID)
            .or_else(|| hdrs.get(headers::MSG_ID))
            .and_then(|s| Uuid::parse_str(s).ok());
        let event = Event {
            id: id.unwrap_or_else(Uuid::nil),
            subject: msg.subject.to_string(),
            headers: hdrs,
            payload: msg.payload.clone(),
            delivered,
        };
        if delivered > 1 {
            metrics::counter!("consumer_redeliveries_total", "consumer" => durable).increment(1);
        }
        let span = tracing::info_span!(
            "consume",
            consumer = durable,
            event.id = %event.id,
            event.subject = %event.subject,
            delivered,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        telemetry::set_parent_from(&span, &event.headers);
        telemetry::record_ids(&span);
        let untrusted = super::trust::sender_mismatch(self.spec.producer, &event);
        Prepared {
            msg,
            event,
            span,
            has_id: id.is_some(),
            untrusted,
        }
    }

    /// Applies a group of events in one transaction (one commit, one fsync, however many events
    /// arrived together), each in a savepoint of its own so that one failing event does not undo
    /// the others; then acknowledges each according to its outcome.
    async fn process_group(
        &self,
        msgs: Vec<async_nats::jetstream::Message>,
    ) -> Result<(), Crashed> {
        let (untrusted, prepared): (Vec<Prepared>, Vec<Prepared>) = msgs
            .into_iter()
            .map(|m| self.prepare(m))
            .partition(|i| i.untrusted.is_some());
        for mut item in untrusted {
            let reason = item.untrusted.take().unwrap_or_default();
            tracing::warn!(consumer = self.spec.durable, subject = %item.event.subject, %reason, "untrusted event");
            self.finish(item, Err(HandlerError::permanent(reason)))
                .await?;
        }
        let (ignored, items): (Vec<Prepared>, Vec<Prepared>) = prepared
            .into_iter()
            .partition(|i| i.has_id && self.handler.ignores(&i.event));
        for item in ignored {
            self.finish(item, Ok(Outcome::Ignored)).await?;
        }
        if items.is_empty() {
            return Ok(());
        }
        if items.len() > 1 && items.iter().all(|i| i.has_id) {
            // The group's span is a root of its own, linked to the trace of every event in it.
            let group = tracing::info_span!(
                "consume group",
                consumer = self.spec.durable,
                events = items.len()
            );
            telemetry::link_to(&group, items.iter().map(|i| &i.span));
            match self.apply_group(&items).instrument(group).await {
                Ok(outcomes) => {
                    metrics::counter!("consumer_groups_applied_total", "consumer" => self.spec.durable)
                        .increment(1);
                    for (item, outcome) in items.into_iter().zip(outcomes) {
                        self.finish(item, Ok(outcome)).await?;
                    }
                    return Ok(());
                }
                Err(e) if e.infrastructure => {
                    let text = e.to_string();
                    for item in items {
                        let err = HandlerError {
                            permanent: false,
                            infrastructure: true,
                            source: text.clone().into(),
                        };
                        self.finish(item, Err(err)).await?;
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(consumer = self.spec.durable, error = %e, "the group failed as a whole; applying its events one by one");
                }
            }
        }
        let mut results: Vec<Result<Outcome, HandlerError>> = Vec::with_capacity(items.len());
        let committed: Result<(), HandlerError> = async {
            let mut tx = crate::db::begin_generic(&self.pool).await?;
            for item in &items {
                if !item.has_id {
                    results.push(Err(HandlerError::permanent(
                        "the event has no ce-id header",
                    )));
                    continue;
                }
                let outcome = async {
                    let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                    let outcome = self.apply_in(&mut savepoint, &item.event).await?;
                    savepoint.commit().await?;
                    Ok(outcome)
                }
                .instrument(item.span.clone())
                .await;
                results.push(outcome);
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = committed {
            // Nothing of the group stands: every event is retried.
            let (infra, text) = (e.infrastructure, e.to_string());
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(HandlerError {
                    permanent: false,
                    infrastructure: infra,
                    source: text.clone().into(),
                });
            }
            results.resize_with(items.len(), || {
                Err(HandlerError {
                    permanent: false,
                    infrastructure: infra,
                    source: text.clone().into(),
                })
            });
        }
        for (item, result) in items.into_iter().zip(results) {
            self.finish(item, result).await?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        item: Prepared,
        result: Result<Outcome, HandlerError>,
    ) -> Result<(), Crashed> {
        let durable = self.spec.durable;
        let Prepared {
            msg, event, span, ..
        } = item;
        let delivered = event.delivered;
        let _enter = span.enter();
        match result {
            Ok(Outcome::Applied) => {
                self.handler.after_commit(&event);
                metrics::counter!("consumer_applied_total", "consumer" => durable).increment(1);
                record_delay(durable, &event);
                if self.faults.take_crash_after_commit(durable) {
                    return Err(Crashed);
                }
                ack(&msg, AckKind::Ack).await;
            }
            Ok(Outcome::Duplicate) => {
                metrics::counter!("consumer_duplicates_total", "consumer" => durable).increment(1);
                tracing::debug!("already applied; acknowledging");
                ack(&msg, AckKind::Ack).await;
            }
            Ok(Outcome::Ignored) => ack(&msg, AckKind::Ack).await,
            Err(e) if e.infrastructure => {
                metrics::counter!("consumer_failures_total", "consumer" => durable).increment(1);
                let delay = backoff(delivered.min(30) as u32);
                tracing::warn!(error = %e, ?delay, "database unavailable; the event waits");
                ack(&msg, AckKind::Nak(Some(delay))).await;
            }
            Err(e) if e.permanent || delivered >= self.bus.settings().max_deliver => {
                match self.park(&event, &e).await {
                    Ok(()) => {
                        metrics::counter!("consumer_dead_letters_total", "consumer" => durable)
                            .increment(1);
                        tracing::error!(error = %e, "event parked as a dead letter");
                        ack(&msg, AckKind::Term).await;
                    }
                    Err(db) => {
                        tracing::error!(error = %e, park_error = %db, "could not park the event; retrying");
                        let delay = self.bus.settings().backoff(delivered);
                        ack(&msg, AckKind::Nak(Some(delay))).await;
                    }
                }
            }
            Err(e) => {
                metrics::counter!("consumer_failures_total", "consumer" => durable).increment(1);
                let delay = self.bus.settings().backoff(delivered);
                tracing::warn!(error = %e, ?delay, "handler failed; will be redelivered");
                ack(&msg, AckKind::Nak(Some(delay))).await;
            }
        }
        Ok(())
    }
}

async fn ack(msg: &async_nats::jetstream::Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        // The event comes back after ack_wait; the inbox (or the effect's key) makes it harmless.
        tracing::warn!(error = %e, "acknowledgement failed");
    }
}
