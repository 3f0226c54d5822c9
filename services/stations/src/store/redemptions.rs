//! Redemptions in the points supermarkets, with their status (pending, handed over, cancelled),
//! the lots each took from, and the clerk's list.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

macro_rules! redemption_columns {
    () => {
        "d.id, d.worker_id, d.community_id, d.reward_id, d.quantity, d.points, d.redeemed_at, d.status,
         d.changed_at, d.changed_by, d.cancel_reason, r.name AS reward_name"
    };
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
    /// 1 pending, 2 handed over, 3 cancelled.
    pub status: i16,
    pub changed_at: Option<DateTime<Utc>>,
    pub changed_by: Option<String>,
    pub cancel_reason: String,
    pub reward_name: String,
}

pub const PENDING: i16 = 1;
pub const HANDED_OVER: i16 = 2;
pub const CANCELLED: i16 = 3;

pub async fn redemption_by_request(
    tx: &mut PgConnection,
    worker: Uuid,
    request_id: &str,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        redemption_columns!(),
        " FROM redemptions d JOIN rewards r ON r.id = d.reward_id
         WHERE d.worker_id = $1 AND d.request_id = $2"
    ))
    .bind(worker)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

pub async fn redemption(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        redemption_columns!(),
        " FROM redemptions d JOIN rewards r ON r.id = d.reward_id WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn lock_redemption(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        redemption_columns!(),
        " FROM redemptions d JOIN rewards r ON r.id = d.reward_id WHERE d.id = $1 FOR UPDATE OF d"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub struct NewRedemption<'a> {
    pub id: Uuid,
    pub worker: Uuid,
    pub community: Uuid,
    pub reward: Uuid,
    pub quantity: i64,
    pub points: i64,
    pub request_id: &'a str,
}

pub async fn insert_redemption(
    tx: &mut PgConnection,
    r: &NewRedemption<'_>,
) -> Result<RedemptionRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO redemptions (id, worker_id, community_id, reward_id, quantity, points, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.id)
    .bind(r.worker)
    .bind(r.community)
    .bind(r.reward)
    .bind(r.quantity)
    .bind(r.points)
    .bind(r.request_id)
    .execute(&mut *tx)
    .await?;
    Ok(redemption(tx, r.id).await?.expect("just inserted"))
}

/// Moves a redemption to `status` (handed over or cancelled) by `by`.
pub async fn set_redemption_status(
    tx: &mut PgConnection,
    id: Uuid,
    status: i16,
    by: &str,
    reason: &str,
) -> Result<RedemptionRow, sqlx::Error> {
    sqlx::query(
        "UPDATE redemptions SET status = $2, changed_at = now(), changed_by = $3, cancel_reason = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(by)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(redemption(tx, id).await?.expect("locked"))
}

/// Which redemptions a list shows.
#[derive(Debug, Clone, Copy)]
pub struct RedemptionFilter {
    pub community: Option<Uuid>,
    pub worker: Option<Uuid>,
    pub status: Option<i16>,
}

/// Matching redemptions, newest first, after `before`.
pub async fn redemptions(
    pool: &PgPool,
    f: RedemptionFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RedemptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        redemption_columns!(),
        " FROM redemptions d JOIN rewards r ON r.id = d.reward_id
         WHERE ($1::uuid IS NULL OR d.community_id = $1) AND ($2::uuid IS NULL OR d.worker_id = $2)
           AND ($3::int2 IS NULL OR d.status = $3) AND ($4::uuid IS NULL OR d.id < $4)
         ORDER BY d.id DESC LIMIT $5"
    ))
    .bind(f.community)
    .bind(f.worker)
    .bind(f.status)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn count_redemptions(pool: &PgPool, f: RedemptionFilter) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM redemptions d
         WHERE ($1::uuid IS NULL OR d.community_id = $1) AND ($2::uuid IS NULL OR d.worker_id = $2)
           AND ($3::int2 IS NULL OR d.status = $3)",
    )
    .bind(f.community)
    .bind(f.worker)
    .bind(f.status)
    .fetch_one(pool)
    .await
}

/// Records which lots a redemption took from.
pub async fn record_redemption_lots(
    tx: &mut PgConnection,
    redemption: Uuid,
    lots: &[(Uuid, i64)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO redemption_lots (redemption_id, lot_id, quantity)
         SELECT $1, l, q FROM UNNEST($2::uuid[], $3::int8[]) AS u(l, q)",
    )
    .bind(redemption)
    .bind(lots.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(lots.iter().map(|l| l.1).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// Gives a cancelled redemption's goods back to its lots and to the stock.
pub async fn give_back(tx: &mut PgConnection, r: &RedemptionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE stock SET quantity = quantity + $3 WHERE community_id = $1 AND reward_id = $2",
    )
    .bind(r.community_id)
    .bind(r.reward_id)
    .bind(r.quantity)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE stock_supplies l SET remaining = l.remaining + t.quantity
         FROM redemption_lots t WHERE t.redemption_id = $1 AND l.id = t.lot_id",
    )
    .bind(r.id)
    .execute(tx)
    .await?;
    Ok(())
}
