//! Dead letters: events a consumer gave up on, kept with their payload, headers and last error so
//! an operator can see them and, once the cause is fixed, replay them. A replay publishes the same
//! event again (same `ce-id`, a fresh `Nats-Msg-Id` so JetStream's duplicate window lets it
//! through): consumers that already applied it skip it by their inbox (or their effect's own key,
//! `Handler::keyed_by_effect`); the one that parked it applies it now.

use std::collections::HashMap;

use async_nats::jetstream::message::PublishMessage;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, types::Json};
use uuid::Uuid;

use super::{Bus, headers};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub event_id: Option<Uuid>,
    pub subject: String,
    pub error: String,
    pub deliveries: i64,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("dead letter {0} not found")]
    NotFound(i64),
    #[error("dead letter {0} was already replayed")]
    AlreadyReplayed(i64),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("publish: {0}")]
    Publish(#[from] async_nats::jetstream::context::PublishError),
}

#[derive(sqlx::FromRow)]
struct Parked {
    subject: String,
    headers: Json<HashMap<String, String>>,
    payload: Vec<u8>,
    replayed_at: Option<DateTime<Utc>>,
}

/// Dead letters of the pool's schema, newest first; replayed ones only when asked.
pub async fn list(pool: &PgPool, include_replayed: bool) -> Result<Vec<DeadLetter>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, consumer, event_id, subject, error, deliveries, created_at, replayed_at
         FROM dead_letters WHERE $1 OR replayed_at IS NULL ORDER BY id DESC LIMIT 1000",
    )
    .bind(include_replayed)
    .fetch_all(pool)
    .await
}

/// Publishes dead letter `id` again and marks it replayed.
pub async fn replay(pool: &PgPool, bus: &Bus, id: i64) -> Result<DeadLetter, ReplayError> {
    let mut tx = pool.begin().await?;
    let parked: Parked = sqlx::query_as(
        "SELECT subject, headers, payload, replayed_at FROM dead_letters WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ReplayError::NotFound(id))?;
    let Parked {
        subject,
        headers: Json(stored),
        payload,
        replayed_at,
    } = parked;
    if replayed_at.is_some() {
        return Err(ReplayError::AlreadyReplayed(id));
    }
    let mut h = async_nats::HeaderMap::new();
    for (k, v) in &stored {
        if k != headers::MSG_ID {
            h.insert(k.as_str(), v.as_str());
        }
    }
    let original = stored.get(headers::ID).cloned().unwrap_or_default();
    h.insert(headers::MSG_ID, format!("{original}:replay:{id}").as_str());
    bus.jetstream
        .send_publish(
            subject,
            PublishMessage::build().payload(payload.into()).headers(h),
        )
        .await?
        .await?;
    let letter = sqlx::query_as(
        "UPDATE dead_letters SET replayed_at = now() WHERE id = $1
         RETURNING id, consumer, event_id, subject, error, deliveries, created_at, replayed_at",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(letter)
}
