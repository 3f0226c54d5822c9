//! The desk's FAQ: answered questions published in texts staff checked, never naming who asked.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FaqRow {
    pub id: Uuid,
    pub question_id: Uuid,
    pub topic: i16,
    pub community_id: Option<Uuid>,
    pub question: String,
    pub answer: String,
    pub published_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub version: i64,
}

macro_rules! faq_columns {
    () => {
        "id, question_id, topic, community_id, question, answer, published_at, withdrawn_at, version"
    };
}

pub struct NewEntry<'a> {
    pub id: Uuid,
    pub question_id: Uuid,
    pub topic: i16,
    pub community_id: Option<Uuid>,
    pub question: &'a str,
    pub answer: &'a str,
    pub published_by: &'a str,
}

pub async fn insert(tx: &mut PgConnection, e: &NewEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO faq_entries (id, question_id, topic, community_id, question, answer, published_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.id)
    .bind(e.question_id)
    .bind(e.topic)
    .bind(e.community_id)
    .bind(e.question)
    .bind(e.answer)
    .bind(e.published_by)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<FaqRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        faq_columns!(),
        " FROM faq_entries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The live entry made of `question`, if any.
pub async fn live_of(conn: &mut PgConnection, question: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM faq_entries WHERE question_id = $1 AND withdrawn_at IS NULL")
        .bind(question)
        .fetch_optional(conn)
        .await
}

/// Withdraws a locked entry, with a new version.
pub async fn withdraw(tx: &mut PgConnection, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE faq_entries SET withdrawn_at = now(), withdrawn_reason = $2, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(())
}

/// Live entries where each of `words` (ILIKE patterns; none: all entries) is in the question or
/// the answer.
pub async fn search(
    pool: &PgPool,
    words: &[String],
    topic: Option<i16>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<FaqRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        faq_columns!(),
        " FROM faq_entries
         WHERE withdrawn_at IS NULL AND ($1::smallint IS NULL OR topic = $1)
           AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS w (pattern)
                           WHERE NOT (question ILIKE w.pattern OR answer ILIKE w.pattern))
           AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4"
    ))
    .bind(topic)
    .bind(words)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn count_live(pool: &PgPool, communities: Option<&[Uuid]>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM faq_entries
         WHERE withdrawn_at IS NULL AND ($1::uuid[] IS NULL OR community_id = ANY ($1))",
    )
    .bind(communities)
    .fetch_one(pool)
    .await
}
