//! The bus as a test drives it: publishing integration events as a producer's relay would, and
//! reading back what a producer has published.

use std::time::Duration;

use uuid::Uuid;

use crate::TestApp;

impl TestApp {
    /// `hours` of volunteer service by `worker`, confirmed, as governance would announce them
    /// (10 points an hour under the default rules).
    pub async fn confirmed_volunteer_hours(&self, worker: Uuid, hours: f64) -> Uuid {
        self.publish_event(
            redsupply_proto::subjects::governance::VOLUNTEER_SERVICE_CONFIRMED,
            &redsupply_proto::events::v1::VolunteerServiceConfirmed {
                record_id: Uuid::now_v7().to_string(),
                worker_id: worker.to_string(),
                hours,
                recorded_hours: hours,
                confirmed_by: "county-admin".into(),
                ..Default::default()
            },
        )
        .await
    }

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
        self.republish_event(subject, source, id, message).await;
        id
    }

    /// Publishes event `id` again, as a relay does that crashed between its publish and its
    /// confirmation and comes back after JetStream's duplicate window: the same `ce-id`, a new
    /// `Nats-Msg-Id`, so the stream holds it twice and every consumer receives it again.
    pub async fn republish_event(
        &self,
        subject: &str,
        source: &str,
        id: Uuid,
        message: &impl prost::Message,
    ) {
        let mut h = async_nats::HeaderMap::new();
        h.insert(kit::bus::headers::ID, id.to_string().as_str());
        h.insert(
            kit::bus::headers::MSG_ID,
            Uuid::now_v7().to_string().as_str(),
        );
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
}
