//! The outbox relay: publishes a service's events to JetStream, each once JetStream has it (its
//! `Nats-Msg-Id` is the event id, so a copy published again within the duplicate window is
//! dropped). It reads them from one of two sources (`nats.relay_source`):
//!
//! - [`table`]: the outbox rows, claimed, published and deleted (any PostgreSQL);
//! - [`wal`]: logical decoding messages that a trigger on the outbox writes instead of rows, read
//!   from a replication slot in commit order (`wal_level = logical`).
//!
//! Whichever runs drains what the other left: the WAL relay publishes the rows written before it
//! took over, the table relay the messages still in the slot, so switching loses nothing.

mod envelope;
mod slot;
mod table;
mod visible;
mod wal;

use async_nats::jetstream::{self, message::PublishMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Bus, headers};
use crate::{
    Shutdown,
    settings::{DatabaseSettings, RelaySource},
};

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("publish: {0}")]
    Publish(#[from] jetstream::context::PublishError),
    #[error("replication stream: {0}")]
    Replication(#[from] pgwire_replication::PgWireError),
    #[error("an event in the WAL: {0}")]
    Envelope(#[from] envelope::Malformed),
    #[error("the database URL: {0}")]
    Target(String),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("transaction {0} committed but is not visible after {1:?}")]
    Invisible(u32, std::time::Duration),
    #[error("wal_level is {0}, not logical: the WAL relay cannot read this database")]
    NoLogicalWal(String),
}

/// One event as its producer wrote it, whichever source the relay reads it from.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Envelope {
    event_id: Uuid,
    subject: String,
    source: String,
    ce_subject: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    created_at: DateTime<Utc>,
}

impl Envelope {
    /// The JetStream message: CloudEvents attributes in binary mode, the trace context, and the
    /// event id as `Nats-Msg-Id`.
    fn message(&self) -> PublishMessage {
        let id = self.event_id.to_string();
        let mut h = async_nats::HeaderMap::new();
        h.insert(headers::MSG_ID, id.as_str());
        h.insert(headers::ID, id.as_str());
        h.insert(headers::SPECVERSION, "1.0");
        h.insert(headers::SOURCE, self.source.as_str());
        h.insert(headers::TYPE, self.subject.as_str());
        h.insert(
            headers::TIME,
            self.created_at
                .to_rfc3339_opts(SecondsFormat::Micros, true)
                .as_str(),
        );
        h.insert(headers::SUBJECT, self.ce_subject.as_str());
        h.insert(headers::CONTENT_TYPE, "application/protobuf");
        if let Some(tp) = &self.traceparent {
            h.insert("traceparent", tp.as_str());
        }
        if let Some(ts) = &self.tracestate {
            h.insert("tracestate", ts.as_str());
        }
        PublishMessage::build()
            .payload(self.payload.clone().into())
            .headers(h)
    }

    /// Sends the event; the returned future resolves once JetStream has stored it.
    async fn send(&self, bus: &Bus) -> Result<jetstream::context::PublishAckFuture, RelayError> {
        Ok(bus
            .jetstream
            .send_publish(self.subject.clone(), self.message())
            .await?)
    }
}

/// Starts the relay of `producer`'s events (the schema of `pool`, on the database `database`
/// names), reading the source the settings name. It stops on shutdown after one last flush.
pub fn spawn_relay(
    pool: PgPool,
    database: &DatabaseSettings,
    bus: Bus,
    producer: &'static str,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    crate::metric_catalogue::register_relay(producer);
    let database = database.clone();
    match bus.settings().relay_source {
        RelaySource::Table => tokio::spawn(table::run(pool, database, bus, producer, shutdown)),
        RelaySource::Wal => tokio::spawn(wal::run(pool, database, bus, producer, shutdown)),
    }
}
