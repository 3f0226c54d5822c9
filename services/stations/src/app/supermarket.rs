//! The community points supermarkets: a catalog per community (the county's defaults and the
//! community's own rewards); a worker redeems available points for goods on the same terms as
//! any resident; the clerk hands the goods over, or the redemption is cancelled with a reason and
//! the points and goods go back. A redemption is one transaction holding the worker's balance row
//! lock and a conditional stock decrement, so neither ever goes below zero however many arrive at
//! once; the same request id returns the first redemption. Only a registered worker redeems, and
//! only in a community that exists. Every change is announced.

use kit::bus::enqueue;
use sqlx::PgPool;
use uuid::Uuid;

use super::awards::{REASON_REDEMPTION, REASON_REDEMPTION_CANCELLED};
use crate::{
    domain::{Balance, Movement},
    events::publish,
    store::{self, NewEntry, NewRedemption, RedemptionRow, RewardChange, RewardRow},
};

#[derive(Debug, thiserror::Error)]
pub enum SupermarketError {
    #[error("worker {0} is not registered (or was deleted)")]
    UnregisteredWorker(Uuid),
    #[error("reward {0} not found")]
    UnknownReward(Uuid),
    #[error("community {0} does not exist")]
    UnknownCommunity(Uuid),
    #[error("reward {reward} is another community's, not on the catalog of community {community}")]
    NotInCatalog { reward: Uuid, community: Uuid },
    #[error("this reward is no longer offered")]
    Inactive,
    #[error("not enough points: {needed} needed, {balance} available")]
    InsufficientPoints { needed: i64, balance: i64 },
    #[error("out of stock in this community's supermarket")]
    OutOfStock,
    #[error("a reward stays on the catalog it was created on")]
    CatalogFixed,
    #[error("redemption {0} not found")]
    UnknownRedemption(Uuid),
    #[error("the redemption was {0} already")]
    Closed(&'static str),
    /// The caller may not do this to this record (the check `api` passed in said so).
    #[error("{}", .0.message())]
    Denied(tonic::Status),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct Redeem<'a> {
    pub request_id: &'a str,
    pub worker: Uuid,
    pub community: Uuid,
    pub reward: Uuid,
    pub quantity: i64,
}

pub async fn redeem(
    pool: &PgPool,
    r: &Redeem<'_>,
) -> Result<(RedemptionRow, Balance), SupermarketError> {
    let mut tx = pool.begin().await?;
    let balance = store::lock_balance(&mut tx, r.worker).await?;
    // A retry answers the first redemption, whatever happened since (the worker deleted).
    if let Some(done) = store::redemption_by_request(&mut tx, r.worker, r.request_id).await? {
        return Ok((done, balance));
    }
    if !store::worker_registered(&mut *tx, r.worker).await? {
        return Err(SupermarketError::UnregisteredWorker(r.worker));
    }
    let reward = store::reward(&mut tx, r.reward)
        .await?
        .ok_or(SupermarketError::UnknownReward(r.reward))?;
    if !reward.active {
        return Err(SupermarketError::Inactive);
    }
    if !store::community_known(&mut *tx, r.community).await? {
        return Err(SupermarketError::UnknownCommunity(r.community));
    }
    if !reward.offered_in(r.community) {
        return Err(SupermarketError::NotInCatalog {
            reward: r.reward,
            community: r.community,
        });
    }
    let needed =
        reward
            .points_cost
            .checked_mul(r.quantity)
            .ok_or(SupermarketError::InsufficientPoints {
                needed: i64::MAX,
                balance: balance.available,
            })?;
    // Only available points are spent: pending ones wait for their tip's confirmation.
    if balance.available < needed {
        return Err(SupermarketError::InsufficientPoints {
            needed,
            balance: balance.available,
        });
    }
    let lots = store::take_stock(&mut tx, r.community, r.reward, r.quantity)
        .await?
        .ok_or(SupermarketError::OutOfStock)?;
    let id = Uuid::now_v7();
    let (_, balance) = store::append_entry(
        &mut tx,
        &NewEntry {
            worker: r.worker,
            movement: Movement::spend(needed),
            reason: REASON_REDEMPTION,
            source_event_id: id,
            subject_ref: Some(&format!("redemption:{id}")),
            reverses: None,
            releases: None,
        },
    )
    .await?
    .expect("a fresh id never conflicts");
    let row = store::insert_redemption(
        &mut tx,
        &NewRedemption {
            id,
            worker: r.worker,
            community: r.community,
            reward: r.reward,
            quantity: r.quantity,
            points: needed,
            request_id: r.request_id,
        },
    )
    .await?;
    store::record_redemption_lots(&mut tx, id, &lots).await?;
    enqueue(&mut tx, publish::reward_redeemed(&row, balance)).await?;
    tx.commit().await?;
    Ok((row, balance))
}

/// The clerk handed the goods over; a redemption handed over already is answered as it is.
/// `allowed` sees the redemption first (whose community it is).
pub async fn hand_over<F>(
    pool: &PgPool,
    id: Uuid,
    by: &str,
    allowed: F,
) -> Result<RedemptionRow, SupermarketError>
where
    F: FnOnce(&RedemptionRow) -> Result<(), tonic::Status>,
{
    let mut tx = pool.begin().await?;
    let row = store::lock_redemption(&mut tx, id)
        .await?
        .ok_or(SupermarketError::UnknownRedemption(id))?;
    allowed(&row).map_err(SupermarketError::Denied)?;
    match row.status {
        store::HANDED_OVER => return Ok(row),
        store::CANCELLED => return Err(SupermarketError::Closed("cancelled")),
        _ => {}
    }
    let row = store::set_redemption_status(&mut tx, id, store::HANDED_OVER, by, "").await?;
    // Read, not locked: a hand-over moves no points, and taking the balance row after the
    // redemption's would invert the order a cancellation takes them in.
    let balance = store::balance_in(&mut tx, row.worker_id).await?;
    enqueue(&mut tx, publish::redemption_changed(&row, by, 0, balance)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Cancels a pending redemption: the points go back to the worker (repaying any debt first),
/// the goods to the lots they came from. A cancelled one is answered as it is.
pub async fn cancel<F>(
    pool: &PgPool,
    id: Uuid,
    by: &str,
    reason: &str,
    allowed: F,
) -> Result<(RedemptionRow, Balance), SupermarketError>
where
    F: FnOnce(&RedemptionRow) -> Result<(), tonic::Status>,
{
    let mut tx = pool.begin().await?;
    // The worker's balance row first, as every points change takes it.
    let worker = store::redemption(&mut tx, id)
        .await?
        .ok_or(SupermarketError::UnknownRedemption(id))?
        .worker_id;
    let balance = store::lock_balance(&mut tx, worker).await?;
    let row = store::lock_redemption(&mut tx, id)
        .await?
        .ok_or(SupermarketError::UnknownRedemption(id))?;
    allowed(&row).map_err(SupermarketError::Denied)?;
    match row.status {
        store::CANCELLED => return Ok((row, balance)),
        store::HANDED_OVER => return Err(SupermarketError::Closed("handed over")),
        _ => {}
    }
    let row = store::set_redemption_status(&mut tx, id, store::CANCELLED, by, reason).await?;
    store::give_back(&mut tx, &row).await?;
    let (_, balance) = store::append_entry(
        &mut tx,
        &NewEntry {
            worker,
            movement: Movement::credit(balance, row.points),
            reason: REASON_REDEMPTION_CANCELLED,
            source_event_id: row.id,
            subject_ref: Some(&format!("redemption:{id}")),
            reverses: None,
            releases: None,
        },
    )
    .await?
    .expect("a redemption is cancelled once");
    enqueue(
        &mut tx,
        publish::redemption_changed(&row, by, row.points, balance),
    )
    .await?;
    tx.commit().await?;
    Ok((row, balance))
}

/// A reward to create (no id) or change.
pub struct UpsertReward<'a> {
    pub caller: &'a str,
    pub request_id: &'a str,
    pub id: Option<Uuid>,
    /// None: the county's default catalog.
    pub community: Option<Uuid>,
    pub change: RewardChange<'a>,
}

/// Creates or changes a reward, and announces it when it is new or changed. `allowed` sees the
/// reward's catalog (None: the county's) before anything is written.
pub async fn upsert_reward<F>(
    pool: &PgPool,
    u: &UpsertReward<'_>,
    allowed: F,
) -> Result<RewardRow, SupermarketError>
where
    F: FnOnce(Option<Uuid>) -> Result<(), tonic::Status>,
{
    let mut tx = pool.begin().await?;
    let row = match u.id {
        None => {
            allowed(u.community).map_err(SupermarketError::Denied)?;
            if let Some(c) = u.community
                && !store::community_known(&mut *tx, c).await?
            {
                return Err(SupermarketError::UnknownCommunity(c));
            }
            let (row, fresh) =
                store::create_reward(&mut tx, u.caller, u.request_id, u.community, &u.change)
                    .await?;
            if !fresh {
                return Ok(row);
            }
            row
        }
        Some(id) => {
            let before = store::lock_reward(&mut tx, id)
                .await?
                .ok_or(SupermarketError::UnknownReward(id))?;
            // The catalog a reward is on is fixed: what the caller may change is the one it has.
            allowed(before.community_id).map_err(SupermarketError::Denied)?;
            if u.community.is_some() && u.community != before.community_id {
                return Err(SupermarketError::CatalogFixed);
            }
            let row = store::update_reward(&mut tx, id, &u.change).await?;
            if (row.name.as_str(), row.points_cost, row.active)
                == (before.name.as_str(), before.points_cost, before.active)
            {
                return Ok(row);
            }
            row
        }
    };
    enqueue(&mut tx, publish::reward_changed(&row, u.caller)).await?;
    tx.commit().await?;
    Ok(row)
}
