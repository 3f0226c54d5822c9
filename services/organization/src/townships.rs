//! Townships and streets (镇街): the territorial units above communities.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TownshipRow {
    pub id: Uuid,
    pub name: String,
    pub kind: i16,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

pub struct TownshipChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
}

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: TownshipChange<'_>,
) -> Result<TownshipRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let row: TownshipRow = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Township, id, c.expected_version).await?;
            sqlx::query_as(
                "UPDATE townships SET name = $2, kind = $3, version = version + 1, updated_at = now()
                 WHERE id = $1 RETURNING id, name, kind, version, updated_at",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .fetch_one(&mut *tx)
            .await?
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Township, id)
                    .await?
            {
                return Ok(get(&mut tx, existing)
                    .await?
                    .expect("claimed township exists"));
            }
            sqlx::query_as(
                "INSERT INTO townships (id, name, kind) VALUES ($1, $2, $3)
                 RETURNING id, name, kind, version, updated_at",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    // Communities carry their township's name: a rename is a change of each of them too.
    let renamed: Vec<crate::store::CommunityRow> = sqlx::query_as(
        "UPDATE communities SET township = $2, version = version + 1, updated_at = now()
         WHERE township_id = $1 AND township <> $2
         RETURNING id, name, township, version, township_id",
    )
    .bind(row.id)
    .bind(&row.name)
    .fetch_all(&mut *tx)
    .await?;
    for c in &renamed {
        events::community_upserted(&mut tx, c).await?;
    }
    events::township_upserted(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<Option<TownshipRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, kind, version, updated_at FROM townships WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn name(tx: &mut PgConnection, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM townships WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn list(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TownshipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, kind, version, updated_at FROM townships
         WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
