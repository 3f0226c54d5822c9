//! The producing half of the outbox: an event is a row written in the caller's transaction, so it
//! exists exactly when the change it announces does. `NOTIFY` wakes the relay once that commits.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::telemetry;

/// An integration event to publish on `subject` (also its CloudEvents type).
pub struct NewEvent {
    pub subject: String,
    /// `redsupply/<service>`, the CloudEvents source.
    pub source: &'static str,
    /// The aggregate's id, the CloudEvents subject.
    pub aggregate_id: String,
    pub payload: Vec<u8>,
}

impl NewEvent {
    pub fn new(
        source: &'static str,
        subject: impl Into<String>,
        aggregate_id: impl ToString,
        message: &impl prost::Message,
    ) -> Self {
        Self {
            subject: subject.into(),
            source,
            aggregate_id: aggregate_id.to_string(),
            payload: message.encode_to_vec(),
        }
    }
}

/// Writes the event into the outbox of the connection's schema, inside the caller's transaction,
/// with the current trace context. Returns the event id (UUIDv7).
pub async fn enqueue(conn: &mut PgConnection, event: NewEvent) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let trace = telemetry::current_context_headers();
    sqlx::query(
        "INSERT INTO outbox (event_id, subject, source, ce_subject, payload, traceparent, tracestate)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&event.subject)
    .bind(event.source)
    .bind(&event.aggregate_id)
    .bind(&event.payload)
    .bind(trace.get("traceparent"))
    .bind(trace.get("tracestate"))
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify(current_schema() || '_outbox', '')")
        .execute(&mut *conn)
        .await?;
    Ok(id)
}
