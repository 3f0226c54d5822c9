//! What the desk's figures are made of: the questions of a window, and the experts enrolled.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::desk::Asked;

/// What the figures are made of: questions asked in [from, until) of `communities` (None: all).
pub async fn asked_between(
    pool: &PgPool,
    communities: Option<&[Uuid]>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Asked>, sqlx::Error> {
    type Row = (
        i16,
        i16,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        i16,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT topic, status, asked_at, first_due_at, first_answered_at, rating FROM questions
         WHERE ($1::uuid[] IS NULL OR community_id = ANY ($1))
           AND ($2::timestamptz IS NULL OR asked_at >= $2)
           AND ($3::timestamptz IS NULL OR asked_at < $3)",
    )
    .bind(communities)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(topic, status, asked_at, first_due_at, first_answered_at, rating)| Asked {
                topic,
                status,
                asked_at,
                first_due_at,
                first_answered_at,
                helpful: rating == 1,
            },
        )
        .collect())
}

pub async fn count_experts(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM desk_experts")
        .fetch_one(pool)
        .await
}
