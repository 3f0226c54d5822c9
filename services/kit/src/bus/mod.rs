//! The event bus: NATS JetStream behind a transactional outbox on the producing side and an
//! idempotent, inbox-deduplicated consumer on the other. One stream per producing service
//! (`REDSUPPLY_<SERVICE>` over `redsupply.<service>.>`), provisioned by whoever needs it first.

mod consumer;
pub mod dead_letters;
mod handler;
mod outbox;
pub mod registry;
mod relay;
mod trust;

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use uuid::Uuid;

pub(crate) use consumer::spawn_consumer;
pub use handler::{ConsumerSpec, Handler, HandlerError};
pub use outbox::{NewEvent, OutboxRows, enqueue, enqueue_batch};
pub use relay::spawn_relay;

use crate::settings::NatsSettings;

/// CloudEvents attributes in binary mode, plus the JetStream de-duplication header.
pub mod headers {
    pub const ID: &str = "ce-id";
    pub const SPECVERSION: &str = "ce-specversion";
    pub const SOURCE: &str = "ce-source";
    pub const TYPE: &str = "ce-type";
    pub const TIME: &str = "ce-time";
    pub const SUBJECT: &str = "ce-subject";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const MSG_ID: &str = "Nats-Msg-Id";
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("connecting to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("provisioning stream {stream}: {source}")]
    Stream {
        stream: String,
        #[source]
        source: jetstream::context::CreateStreamError,
    },
    #[error("stream {0} does not exist yet (its producer creates it when it starts)")]
    StreamMissing(String),
    #[error("creating consumer {consumer}: {source}")]
    Consumer {
        consumer: String,
        #[source]
        source: async_nats::Error,
    },
}

/// The servers of `nats.url`: one URL or a comma-separated list of a cluster's nodes.
fn servers(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A NATS connection with its JetStream context. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    settings: NatsSettings,
}

impl Bus {
    /// Returns at once; the client connects (and reconnects) in the background, so a service starts
    /// and takes tips while NATS is away.
    pub async fn connect(settings: &NatsSettings) -> Result<Self, BusError> {
        let mut options = async_nats::ConnectOptions::new();
        if !settings.user.is_empty() {
            // Replies come to an inbox only this user may read (deploy/nats/redsupply-auth.conf).
            options = options
                .user_and_password(settings.user.clone(), settings.password.expose().to_owned())
                .custom_inbox_prefix(inbox_prefix(&settings.user));
        }
        let client = options
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .name("redsupply")
            .event_callback(|event| async move {
                tracing::info!(%event, "NATS connection event");
            })
            .connect(servers(&settings.url))
            .await?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self {
            client,
            jetstream,
            settings: settings.clone(),
        })
    }

    pub fn settings(&self) -> &NatsSettings {
        &self.settings
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates (or finds) the stream of a producing service. Producers and consumers both call it
    /// with the same configuration, so start-up order does not matter.
    pub async fn ensure_stream(&self, producer: &str) -> Result<stream::Stream, BusError> {
        let name = stream_name(producer);
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("redsupply.{producer}.>")],
                duplicate_window: Duration::from_secs(self.settings.duplicate_window_secs),
                num_replicas: self.settings.stream_replicas,
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(|source| BusError::Stream {
                stream: name,
                source,
            })
    }
}

/// The inbox prefix of a NATS user: `_INBOX_<user>`, subscribable by that user alone.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

pub fn stream_name(producer: &str) -> String {
    format!("REDSUPPLY_{}", producer.to_ascii_uppercase())
}

/// An event as a consumer receives it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub subject: String,
    pub headers: HashMap<String, String>,
    pub payload: Bytes,
    /// Which delivery of this event this is (1 = first).
    pub delivered: i64,
}

impl Event {
    /// Decodes the protobuf payload; a payload that does not decode is a permanent failure.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, HandlerError> {
        M::decode(self.payload.as_ref()).map_err(HandlerError::permanent)
    }
}

/// Switches tests use to make a component fail at a chosen point, the way a crash would.
#[derive(Debug, Default)]
pub struct Faults {
    /// Per consumer: stop dead (no ack) after committing this many more effects.
    crash_after_commit: Mutex<HashMap<String, u32>>,
}

impl Faults {
    /// The consumer `durable` dies after each of its next `times` commits, before acknowledging.
    pub fn crash_after_commit(&self, durable: &str, times: u32) {
        self.crash_after_commit
            .lock()
            .expect("faults lock")
            .insert(durable.to_owned(), times);
    }

    fn take_crash_after_commit(&self, durable: &str) -> bool {
        let mut map = self.crash_after_commit.lock().expect("faults lock");
        match map.get_mut(durable) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cluster_is_given_as_a_comma_separated_list() {
        assert_eq!(
            super::servers("nats://127.0.0.1:54222, nats://127.0.0.1:54223,"),
            ["nats://127.0.0.1:54222", "nats://127.0.0.1:54223"]
        );
        assert_eq!(super::servers("nats://nats:4222"), ["nats://nats:4222"]);
    }
}
