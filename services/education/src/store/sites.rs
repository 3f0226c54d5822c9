//! Learning sites: where courses are taught.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteRow {
    pub id: Uuid,
    pub name: String,
    pub community_id: Option<Uuid>,
    pub address: String,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
}

pub struct NewSite<'a> {
    pub name: &'a str,
    pub community_id: Option<Uuid>,
    pub address: &'a str,
    pub capacity: i32,
}

/// Inserts unless this caller already created a site with `request_id`.
pub async fn insert_site(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    s: &NewSite<'_>,
) -> Result<(SiteRow, bool), sqlx::Error> {
    let insert = sqlx::query_as(
        "INSERT INTO learning_sites (id, name, community_id, address, capacity, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (created_by, request_id) DO NOTHING
         RETURNING id, name, community_id, address, capacity, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(s.name)
    .bind(s.community_id)
    .bind(s.address)
    .bind(s.capacity)
    .bind(caller)
    .bind(request_id);
    let existing = sqlx::query_as(
        "SELECT id, name, community_id, address, capacity, created_at FROM learning_sites
         WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id);
    kit::db::create_once(tx, insert, existing).await
}

pub async fn list_sites(
    pool: &PgPool,
    community_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, community_id, address, capacity, created_at FROM learning_sites
         WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(community_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The community of a learning site: `None` when there is no such site.
pub async fn site_community(
    pool: &PgPool,
    site: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM learning_sites WHERE id = $1")
        .bind(site)
        .fetch_optional(pool)
        .await
}
