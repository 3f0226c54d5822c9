//! Corrections and cancellations of an activity: each bumps its version and says who and when.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An activity's fields as staff correct them.
pub struct Correction<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
}

pub async fn correct_activity(
    tx: &mut PgConnection,
    id: Uuid,
    c: &Correction<'_>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE activities SET title = $2, description = $3, starts_at = $4, ends_at = $5,
             capacity = $6, changed_by = $7, changed_at = now(), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.title)
    .bind(c.description)
    .bind(c.starts_at)
    .bind(c.ends_at)
    .bind(c.capacity)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn cancel_activity(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE activities SET cancelled_at = now(), cancel_reason = $2, changed_by = $3,
             changed_at = now(), version = version + 1
         WHERE id = $1 AND cancelled_at IS NULL",
    )
    .bind(id)
    .bind(reason)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}
