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
    // The row and its NOTIFY in one round trip.
    sqlx::query(
        "WITH e AS (INSERT INTO outbox (event_id, subject, source, ce_subject, payload, traceparent, tracestate)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING 1)
         SELECT pg_notify(current_schema() || '_outbox', '') FROM e",
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
    Ok(id)
}

/// Events as the columns of the outbox table, one array per column: what `enqueue_batch` binds,
/// and what a producer binds ([`OutboxRows::bind_to`]) when it writes its outbox rows in the same
/// statement as its change
/// (`INSERT INTO outbox (event_id, subject, source, ce_subject, payload, traceparent, tracestate)
/// SELECT ... FROM UNNEST($a::uuid[], $b::text[], $c::text[], $d::text[], $e::bytea[], $f::text[],
/// $g::text[])`, then `pg_notify(current_schema() || '_outbox', '')` once).
pub struct OutboxRows {
    /// The event ids (UUIDv7), in the order of the events given.
    pub ids: Vec<Uuid>,
    pub subjects: Vec<String>,
    pub sources: Vec<String>,
    pub aggregates: Vec<String>,
    pub payloads: Vec<Vec<u8>>,
    pub traceparents: Vec<Option<String>>,
    pub tracestates: Vec<Option<String>>,
}

impl OutboxRows {
    /// `traces[i]` is the trace context of the request that produced `events[i]`.
    pub fn new(
        events: Vec<NewEvent>,
        traces: &[std::collections::HashMap<String, String>],
    ) -> Self {
        let n = events.len();
        let mut rows = Self {
            ids: (0..n).map(|_| Uuid::now_v7()).collect(),
            subjects: Vec::with_capacity(n),
            sources: Vec::with_capacity(n),
            aggregates: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            traceparents: Vec::with_capacity(n),
            tracestates: Vec::with_capacity(n),
        };
        for (i, e) in events.into_iter().enumerate() {
            rows.subjects.push(e.subject);
            rows.sources.push(e.source.to_owned());
            rows.aggregates.push(e.aggregate_id);
            rows.payloads.push(e.payload);
            let trace = traces.get(i);
            rows.traceparents
                .push(trace.and_then(|t| t.get("traceparent").cloned()));
            rows.tracestates
                .push(trace.and_then(|t| t.get("tracestate").cloned()));
        }
        rows
    }

    /// Binds the seven column arrays, in the column order of the INSERT above, after whatever
    /// `query` has bound already.
    pub fn bind_to<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.ids)
            .bind(&self.subjects)
            .bind(&self.sources)
            .bind(&self.aggregates)
            .bind(&self.payloads)
            .bind(&self.traceparents)
            .bind(&self.tracestates)
    }
}

/// Writes many events in one statement (and one `NOTIFY`), each with the trace context its
/// request carried (`traces[i]` for `events[i]`): for producers that group-commit many requests.
pub async fn enqueue_batch(
    conn: &mut PgConnection,
    events: Vec<NewEvent>,
    traces: &[std::collections::HashMap<String, String>],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows = OutboxRows::new(events, traces);
    // The rows and one NOTIFY in one round trip.
    rows.bind_to(sqlx::query(
        "WITH e AS (INSERT INTO outbox (event_id, subject, source, ce_subject, payload, traceparent, tracestate)
                    SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[])
                    RETURNING 1)
         SELECT pg_notify(current_schema() || '_outbox', '') FROM (SELECT 1 FROM e LIMIT 1) AS one",
    ))
    .execute(&mut *conn)
    .await?;
    Ok(rows.ids)
}
