//! The points supermarkets: rewards, stock and redemptions.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RewardRow {
    pub id: Uuid,
    pub name: String,
    pub points_cost: i64,
    pub active: bool,
}

pub async fn save_reward(
    pool: &PgPool,
    caller: &str,
    request_id: Option<&str>,
    id: Option<Uuid>,
    name: &str,
    points_cost: i64,
    active: bool,
) -> Result<Option<RewardRow>, sqlx::Error> {
    if let Some(id) = id {
        return sqlx::query_as(
            "UPDATE rewards SET name = $2, points_cost = $3, active = $4 WHERE id = $1
             RETURNING id, name, points_cost, active",
        )
        .bind(id)
        .bind(name)
        .bind(points_cost)
        .bind(active)
        .fetch_optional(pool)
        .await;
    }
    let inserted: Option<RewardRow> = sqlx::query_as(
        "INSERT INTO rewards (id, name, points_cost, active, created_by, request_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (created_by, request_id) DO NOTHING RETURNING id, name, points_cost, active",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(points_cost)
    .bind(active)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await?;
    if inserted.is_some() {
        return Ok(inserted);
    }
    sqlx::query_as(
        "SELECT id, name, points_cost, active FROM rewards WHERE created_by = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id)
    .fetch_optional(pool)
    .await
}

pub async fn reward(conn: &mut PgConnection, id: Uuid) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, points_cost, active FROM rewards WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    pub id: Uuid,
    pub name: String,
    pub points_cost: i64,
    pub active: bool,
    pub quantity: i64,
}

/// Every active reward with its stock in the community (zero where none was supplied).
pub async fn catalog(pool: &PgPool, community: Uuid) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.points_cost, r.active, COALESCE(s.quantity, 0) AS quantity
         FROM rewards r LEFT JOIN stock s ON s.reward_id = r.id AND s.community_id = $1
         WHERE r.active ORDER BY r.points_cost, r.id",
    )
    .bind(community)
    .fetch_all(pool)
    .await
}

/// Adds supplied stock (idempotent on the caller's request id); returns the stock now held.
pub async fn supply(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    station: Uuid,
    community: Uuid,
    reward: Uuid,
    quantity: i64,
) -> Result<i64, sqlx::Error> {
    let fresh = sqlx::query(
        "INSERT INTO stock_supplies (id, station_id, community_id, reward_id, quantity, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (created_by, request_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(station)
    .bind(community)
    .bind(reward)
    .bind(quantity)
    .bind(caller)
    .bind(request_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        sqlx::query(
            "INSERT INTO stock (community_id, reward_id, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (community_id, reward_id) DO UPDATE SET quantity = stock.quantity + EXCLUDED.quantity",
        )
        .bind(community)
        .bind(reward)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT quantity FROM stock WHERE community_id = $1 AND reward_id = $2), 0)",
    )
    .bind(community)
    .bind(reward)
    .fetch_one(tx)
    .await
}

/// Takes `quantity` from stock if that much is there; false otherwise.
pub async fn take_stock(
    tx: &mut PgConnection,
    community: Uuid,
    reward: Uuid,
    quantity: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE stock SET quantity = quantity - $3
         WHERE community_id = $1 AND reward_id = $2 AND quantity >= $3",
    )
    .bind(community)
    .bind(reward)
    .bind(quantity)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RedemptionRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub community_id: Uuid,
    pub reward_id: Uuid,
    pub quantity: i64,
    pub points: i64,
    pub redeemed_at: DateTime<Utc>,
}

pub async fn redemption_by_request(
    tx: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, community_id, reward_id, quantity, points, redeemed_at FROM redemptions
         WHERE worker_id = $1 AND request_id = $2",
    )
    .bind(worker)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub async fn insert_redemption(
    tx: &mut PgConnection,
    r: &RedemptionRow,
    request_id: &str,
) -> Result<RedemptionRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO redemptions (id, worker_id, community_id, reward_id, quantity, points, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, worker_id, community_id, reward_id, quantity, points, redeemed_at",
    )
    .bind(r.id)
    .bind(r.worker_id)
    .bind(r.community_id)
    .bind(r.reward_id)
    .bind(r.quantity)
    .bind(r.points)
    .bind(request_id)
    .fetch_one(tx)
    .await
}
