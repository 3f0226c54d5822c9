//! The points supermarkets: rewards (the county's default catalog and each community's own) and
//! stock in lots that keep the station that supplied them (redemptions: `redemptions.rs`).
//! A community's stock row is the lock every change of its lots takes first.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

macro_rules! reward_columns {
    () => {
        "id, name, points_cost, active, community_id"
    };
}

macro_rules! lot_columns {
    () => {
        "l.id, l.station_id, s.name AS station_name, l.community_id, l.reward_id, r.name AS reward_name,
         l.quantity, l.remaining, l.supplied_at, l.created_by"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RewardRow {
    pub id: Uuid,
    pub name: String,
    pub points_cost: i64,
    pub active: bool,
    /// None: the county's default catalog.
    pub community_id: Option<Uuid>,
}

impl RewardRow {
    /// Whether the reward is on `community`'s catalog.
    pub fn offered_in(&self, community: Uuid) -> bool {
        self.community_id.is_none_or(|c| c == community)
    }
}

/// What a reward is to be.
pub struct RewardChange<'a> {
    pub name: &'a str,
    pub points_cost: i64,
    pub active: bool,
}

/// Creates a reward once per (caller, request id); the reward and whether it is new.
pub async fn create_reward(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    community: Option<Uuid>,
    r: &RewardChange<'_>,
) -> Result<(RewardRow, bool), sqlx::Error> {
    let insert = sqlx::query_as(concat!(
        "INSERT INTO rewards (id, name, points_cost, active, created_by, request_id, community_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (created_by, request_id) DO NOTHING RETURNING ",
        reward_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(r.name)
    .bind(r.points_cost)
    .bind(r.active)
    .bind(caller)
    .bind(request_id)
    .bind(community);
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        reward_columns!(),
        " FROM rewards WHERE created_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id);
    kit::db::create_once(tx, insert, existing).await
}

pub async fn update_reward(
    tx: &mut PgConnection,
    id: Uuid,
    r: &RewardChange<'_>,
) -> Result<RewardRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE rewards SET name = $2, points_cost = $3, active = $4 WHERE id = $1 RETURNING ",
        reward_columns!()
    ))
    .bind(id)
    .bind(r.name)
    .bind(r.points_cost)
    .bind(r.active)
    .fetch_one(tx)
    .await
}

pub async fn reward(conn: &mut PgConnection, id: Uuid) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        reward_columns!(),
        " FROM rewards WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn lock_reward(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RewardRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        reward_columns!(),
        " FROM rewards WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    #[sqlx(flatten)]
    pub reward: RewardRow,
    pub quantity: i64,
}

/// Every active reward on the community's catalog (the county's defaults and its own) with its
/// stock there (zero where none was supplied).
pub async fn catalog(pool: &PgPool, community: Uuid) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.points_cost, r.active, r.community_id, COALESCE(s.quantity, 0) AS quantity
         FROM rewards r LEFT JOIN stock s ON s.reward_id = r.id AND s.community_id = $1
         WHERE r.active AND (r.community_id IS NULL OR r.community_id = $1)
         ORDER BY r.points_cost, r.id",
    )
    .bind(community)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LotRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub station_name: String,
    pub community_id: Uuid,
    pub reward_id: Uuid,
    pub reward_name: String,
    pub quantity: i64,
    pub remaining: i64,
    pub supplied_at: DateTime<Utc>,
    pub created_by: String,
}

/// A supply: the lot it brought, whether it is new (a retried request answers the first), and
/// the community's stock of the reward afterwards.
pub struct Supplied {
    pub lot: LotRow,
    pub fresh: bool,
    pub stock: i64,
}

pub struct NewLot<'a> {
    pub caller: &'a str,
    pub request_id: &'a str,
    pub station: Uuid,
    pub community: Uuid,
    pub reward: Uuid,
    pub quantity: i64,
}

/// Adds a lot (idempotent on the caller's request id) and its quantity to the stock.
pub async fn supply(tx: &mut PgConnection, n: &NewLot<'_>) -> Result<Supplied, sqlx::Error> {
    let fresh: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO stock_supplies (id, station_id, community_id, reward_id, quantity, remaining, created_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT (created_by, request_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(n.station)
    .bind(n.community)
    .bind(n.reward)
    .bind(n.quantity)
    .bind(n.caller)
    .bind(n.request_id)
    .fetch_optional(&mut *tx)
    .await?;
    if fresh.is_some() {
        sqlx::query(
            "INSERT INTO stock (community_id, reward_id, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (community_id, reward_id) DO UPDATE SET quantity = stock.quantity + EXCLUDED.quantity",
        )
        .bind(n.community)
        .bind(n.reward)
        .bind(n.quantity)
        .execute(&mut *tx)
        .await?;
    }
    let lot: LotRow = sqlx::query_as(concat!(
        "SELECT ",
        lot_columns!(),
        " FROM stock_supplies l JOIN stations s ON s.id = l.station_id JOIN rewards r ON r.id = l.reward_id
         WHERE l.created_by = $1 AND l.request_id = $2"
    ))
    .bind(n.caller)
    .bind(n.request_id)
    .fetch_one(&mut *tx)
    .await?;
    let stock = sqlx::query_scalar(
        "SELECT COALESCE((SELECT quantity FROM stock WHERE community_id = $1 AND reward_id = $2), 0)",
    )
    .bind(lot.community_id)
    .bind(lot.reward_id)
    .fetch_one(tx)
    .await?;
    Ok(Supplied {
        lot,
        fresh: fresh.is_some(),
        stock,
    })
}

/// Takes `quantity` from stock if that much is there, the oldest lots first; returns the lots
/// taken from (None: not enough stock).
pub async fn take_stock(
    tx: &mut PgConnection,
    community: Uuid,
    reward: Uuid,
    quantity: i64,
) -> Result<Option<Vec<(Uuid, i64)>>, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE stock SET quantity = quantity - $3
         WHERE community_id = $1 AND reward_id = $2 AND quantity >= $3",
    )
    .bind(community)
    .bind(reward)
    .bind(quantity)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !taken {
        return Ok(None);
    }
    // The stock row is locked now: its lots change under that lock only.
    let lots: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, remaining FROM stock_supplies
         WHERE community_id = $1 AND reward_id = $2 AND remaining > 0 ORDER BY supplied_at, id",
    )
    .bind(community)
    .bind(reward)
    .fetch_all(&mut *tx)
    .await?;
    let mut left = quantity;
    let mut from = Vec::new();
    for (lot, remaining) in lots {
        if left == 0 {
            break;
        }
        let take = remaining.min(left);
        from.push((lot, take));
        left -= take;
    }
    let (ids, amounts): (Vec<Uuid>, Vec<i64>) = from.iter().copied().unzip();
    sqlx::query(
        "UPDATE stock_supplies l SET remaining = l.remaining - u.take
         FROM UNNEST($1::uuid[], $2::int8[]) AS u(id, take) WHERE l.id = u.id",
    )
    .bind(&ids)
    .bind(&amounts)
    .execute(tx)
    .await?;
    if left > 0 {
        // Stock without lots (only if the two were ever changed apart): the count still holds.
        tracing::warn!(community = %community, reward = %reward, left, "stock exceeds its lots");
    }
    Ok(Some(from))
}

/// A community's lots (of one reward, or all), newest first, after the lot `before`.
pub async fn lots(
    pool: &PgPool,
    community: Uuid,
    reward: Option<Uuid>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LotRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        lot_columns!(),
        " FROM stock_supplies l JOIN stations s ON s.id = l.station_id JOIN rewards r ON r.id = l.reward_id
         WHERE l.community_id = $1 AND ($2::uuid IS NULL OR l.reward_id = $2)
           AND ($3::uuid IS NULL OR l.id < $3)
         ORDER BY l.id DESC LIMIT $4"
    ))
    .bind(community)
    .bind(reward)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}
