//! The events stations publishes, built from rows (pure); the use cases enqueue them in the
//! change's transaction. Subjects are the shared constants of `redsupply_proto::subjects`.

use chrono::Utc;
use kit::{bus::NewEvent, time::to_timestamp};
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    stations::v1 as pb,
    subjects::stations::{
        AMENITY_STATUS_CHANGED, NOMINATION_CHANGED, POINTS_AWARDED, POINTS_RELEASED,
        POINTS_REVERSED, REDEMPTION_CHANGED, REWARD_CHANGED, REWARD_REDEEMED, SELECTION_CHANGED,
        SOURCE, STATION_UPSERTED, STOCK_SUPPLIED,
    },
};
use uuid::Uuid;

use crate::{
    domain::Balance,
    store::{EntryRow, LotRow, NominationRow, RedemptionRow, RewardRow, SelectionRow, StationRow},
};

pub fn station_upserted(row: &StationRow) -> NewEvent {
    let msg = ev::StationUpserted {
        station_id: row.id.to_string(),
        name: row.name.clone(),
        location: Some(LatLng {
            latitude: row.latitude,
            longitude: row.longitude,
        }),
        version: row.version,
        occurred_at: Some(to_timestamp(Utc::now())),
        retired: row.retired_at.is_some(),
    };
    NewEvent::new(SOURCE, STATION_UPSERTED, row.id, &msg)
}

pub fn amenity_status_changed(
    station: Uuid,
    amenity: i16,
    status: i32,
    note: &str,
    reported_by: &str,
) -> NewEvent {
    let msg = ev::AmenityStatusChanged {
        station_id: station.to_string(),
        amenity: i32::from(amenity),
        status,
        note: note.to_owned(),
        reported_by: reported_by.to_owned(),
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    NewEvent::new(SOURCE, AMENITY_STATUS_CHANGED, station, &msg)
}

/// An award's entry, with the worker's balance after it.
pub fn points_awarded(entry: &EntryRow, balance: Balance) -> NewEvent {
    let m = entry.movement();
    let msg = ev::PointsAwarded {
        entry_id: entry.id.to_string(),
        worker_id: entry.worker_id.to_string(),
        points: entry.points,
        reason: entry.reason.clone(),
        source_event_id: entry.source_event_id.to_string(),
        balance: balance.available,
        occurred_at: Some(to_timestamp(entry.created_at)),
        pending: m.pending_change > 0,
        pending_balance: balance.pending,
        debt: balance.debt,
        repaid: m.repaid(),
    };
    NewEvent::new(SOURCE, POINTS_AWARDED, entry.worker_id, &msg)
}

/// A compensating entry that takes back (some of) `reversed`, with the balance after it.
pub fn points_reversed(entry: &EntryRow, reversed: Uuid, balance: Balance) -> NewEvent {
    let msg = ev::PointsReversed {
        entry_id: entry.id.to_string(),
        worker_id: entry.worker_id.to_string(),
        points: entry.points,
        reason: entry.reason.clone(),
        reversed_entry_id: reversed.to_string(),
        source_event_id: entry.source_event_id.to_string(),
        balance: balance.available,
        occurred_at: Some(to_timestamp(entry.created_at)),
        pending_balance: balance.pending,
        debt: balance.debt,
        from_pending: -entry.pending_change,
        into_debt: entry.debt_change.max(0),
    };
    NewEvent::new(SOURCE, POINTS_REVERSED, entry.worker_id, &msg)
}

/// Pending points of `released` become available.
pub fn points_released(entry: &EntryRow, released: Uuid, balance: Balance) -> NewEvent {
    let m = entry.movement();
    let msg = ev::PointsReleased {
        entry_id: entry.id.to_string(),
        worker_id: entry.worker_id.to_string(),
        released_entry_id: released.to_string(),
        points: -m.pending_change,
        repaid: m.repaid(),
        balance: balance.available,
        pending_balance: balance.pending,
        debt: balance.debt,
        occurred_at: Some(to_timestamp(entry.created_at)),
    };
    NewEvent::new(SOURCE, POINTS_RELEASED, entry.worker_id, &msg)
}

pub fn reward_redeemed(row: &RedemptionRow, balance: Balance) -> NewEvent {
    let msg = ev::RewardRedeemed {
        redemption_id: row.id.to_string(),
        worker_id: row.worker_id.to_string(),
        community_id: row.community_id.to_string(),
        reward_id: row.reward_id.to_string(),
        quantity: row.quantity,
        points: row.points,
        balance: balance.available,
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    NewEvent::new(SOURCE, REWARD_REDEEMED, row.id, &msg)
}

pub fn reward_changed(row: &RewardRow, by: &str) -> NewEvent {
    let msg = ev::RewardChanged {
        reward_id: row.id.to_string(),
        name: row.name.clone(),
        points_cost: row.points_cost,
        active: row.active,
        community_id: row.community_id.map(|c| c.to_string()).unwrap_or_default(),
        changed_by: by.to_owned(),
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    NewEvent::new(SOURCE, REWARD_CHANGED, row.id, &msg)
}

/// A lot supplied, with the community's stock of the reward after it.
pub fn stock_supplied(lot: &LotRow, stock: i64) -> NewEvent {
    let msg = ev::StockSupplied {
        lot_id: lot.id.to_string(),
        station_id: lot.station_id.to_string(),
        community_id: lot.community_id.to_string(),
        reward_id: lot.reward_id.to_string(),
        quantity: lot.quantity,
        stock,
        supplied_by: lot.created_by.clone(),
        occurred_at: Some(to_timestamp(lot.supplied_at)),
    };
    NewEvent::new(SOURCE, STOCK_SUPPLIED, lot.id, &msg)
}

/// A redemption handed over or cancelled (`returned` points given back), with the worker's
/// balance after it.
pub fn redemption_changed(
    row: &RedemptionRow,
    by: &str,
    returned: i64,
    balance: Balance,
) -> NewEvent {
    let msg = ev::RedemptionChanged {
        redemption_id: row.id.to_string(),
        worker_id: row.worker_id.to_string(),
        community_id: row.community_id.to_string(),
        reward_id: row.reward_id.to_string(),
        status: i32::from(row.status),
        reason: row.cancel_reason.clone(),
        changed_by: by.to_owned(),
        points_returned: returned,
        balance: balance.available,
        occurred_at: Some(to_timestamp(row.changed_at.unwrap_or_else(Utc::now))),
    };
    NewEvent::new(SOURCE, REDEMPTION_CHANGED, row.id, &msg)
}

/// A selection opened or closed.
pub fn selection_changed(row: &SelectionRow, by: &str) -> NewEvent {
    let status = if row.closed_at.is_some() {
        pb::SelectionStatus::Closed
    } else {
        pb::SelectionStatus::Open
    };
    let msg = ev::SelectionChanged {
        selection_id: row.id.to_string(),
        title: row.title.clone(),
        period: row.period.clone(),
        categories: row.categories.iter().map(|&c| i32::from(c)).collect(),
        status: status as i32,
        award_points: row.award_points,
        changed_by: by.to_owned(),
        version: row.version,
        occurred_at: Some(to_timestamp(row.closed_at.unwrap_or(row.opened_at))),
        places: row.places,
        period_start: Some(to_timestamp(row.period_start)),
        period_end: Some(to_timestamp(row.period_end)),
    };
    NewEvent::new(SOURCE, SELECTION_CHANGED, row.id, &msg)
}

/// A nomination made or reviewed, with the reason given for it.
pub fn nomination_changed(row: &NominationRow, reason: &str, by: &str) -> NewEvent {
    let msg = ev::NominationChanged {
        nomination_id: row.id.to_string(),
        selection_id: row.selection_id.to_string(),
        category: i32::from(row.category),
        worker_id: row.worker_id.to_string(),
        community_id: row.community_id.map(|c| c.to_string()).unwrap_or_default(),
        status: i32::from(row.status),
        reason: reason.to_owned(),
        changed_by: by.to_owned(),
        points_awarded: row.points_awarded,
        version: row.version,
        occurred_at: Some(to_timestamp(row.reviewed_at.unwrap_or(row.nominated_at))),
        enterprise_id: row.enterprise_id.map(|e| e.to_string()).unwrap_or_default(),
    };
    NewEvent::new(SOURCE, NOMINATION_CHANGED, row.id, &msg)
}
