//! The community points supermarkets: stations supply stock; a worker redeems points for goods on
//! the same terms as any resident. A redemption is one transaction holding the worker's balance row
//! lock and a conditional stock decrement, so neither ever goes below zero however many arrive at
//! once; the same request id returns the first redemption. Only a registered worker redeems, and
//! only in a community that exists.

use chrono::Utc;
use kit::bus::enqueue;
use sqlx::PgPool;
use uuid::Uuid;

use super::awards::REASON_REDEMPTION;
use crate::{
    events::publish,
    store::{self, NewEntry, RedemptionRow},
};

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("worker {0} is not registered (or was deleted)")]
    UnregisteredWorker(uuid::Uuid),
    #[error("reward {0} not found")]
    UnknownReward(uuid::Uuid),
    #[error("community {0} does not exist")]
    UnknownCommunity(uuid::Uuid),
    #[error("this reward is no longer offered")]
    Inactive,
    #[error("not enough points: {needed} needed, {balance} held")]
    InsufficientPoints { needed: i64, balance: i64 },
    #[error("out of stock in this community's supermarket")]
    OutOfStock,
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

pub async fn redeem(pool: &PgPool, r: &Redeem<'_>) -> Result<(RedemptionRow, i64), RedeemError> {
    let mut tx = pool.begin().await?;
    if !store::worker_registered(&mut *tx, r.worker).await? {
        return Err(RedeemError::UnregisteredWorker(r.worker));
    }
    let balance = store::lock_balance(&mut tx, r.worker).await?;
    if let Some(done) = store::redemption_by_request(&mut tx, r.worker, r.request_id).await? {
        return Ok((done, balance));
    }
    let reward = store::reward(&mut tx, r.reward)
        .await?
        .ok_or(RedeemError::UnknownReward(r.reward))?;
    if !reward.active {
        return Err(RedeemError::Inactive);
    }
    if !store::community_known(&mut *tx, r.community).await? {
        return Err(RedeemError::UnknownCommunity(r.community));
    }
    let needed =
        reward
            .points_cost
            .checked_mul(r.quantity)
            .ok_or(RedeemError::InsufficientPoints {
                needed: i64::MAX,
                balance,
            })?;
    if balance < needed {
        return Err(RedeemError::InsufficientPoints { needed, balance });
    }
    if !store::take_stock(&mut tx, r.community, r.reward, r.quantity).await? {
        return Err(RedeemError::OutOfStock);
    }
    let id = Uuid::now_v7();
    let (_, balance) = store::append_entry(
        &mut tx,
        &NewEntry {
            worker: r.worker,
            points: -needed,
            reason: REASON_REDEMPTION,
            source_event_id: id,
            subject_ref: Some(&format!("redemption:{id}")),
            reverses: None,
        },
    )
    .await?
    .expect("a fresh id never conflicts");
    let row = store::insert_redemption(
        &mut tx,
        &RedemptionRow {
            id,
            worker_id: r.worker,
            community_id: r.community,
            reward_id: r.reward,
            quantity: r.quantity,
            points: needed,
            redeemed_at: Utc::now(),
        },
        r.request_id,
    )
    .await?;
    enqueue(&mut tx, publish::reward_redeemed(&row, balance)).await?;
    tx.commit().await?;
    Ok((row, balance))
}
