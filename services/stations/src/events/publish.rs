//! The events stations publishes, built from rows (pure); the use cases enqueue them in the
//! change's transaction. Subjects are the shared constants of `redsupply_proto::subjects`.

use chrono::Utc;
use kit::{bus::NewEvent, time::to_timestamp};
use redsupply_proto::{
    common::v1::LatLng,
    events::v1 as ev,
    subjects::stations::{
        AMENITY_STATUS_CHANGED, POINTS_AWARDED, POINTS_REVERSED, REWARD_REDEEMED, SOURCE,
        STATION_UPSERTED,
    },
};
use uuid::Uuid;

use crate::store::{EntryRow, RedemptionRow, StationRow};

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
pub fn points_awarded(entry: &EntryRow, balance: i64) -> NewEvent {
    let msg = ev::PointsAwarded {
        entry_id: entry.id.to_string(),
        worker_id: entry.worker_id.to_string(),
        points: entry.points,
        reason: entry.reason.clone(),
        source_event_id: entry.source_event_id.to_string(),
        balance,
        occurred_at: Some(to_timestamp(entry.created_at)),
    };
    NewEvent::new(SOURCE, POINTS_AWARDED, entry.worker_id, &msg)
}

/// A compensating entry that takes back `reversed`, with the balance after it.
pub fn points_reversed(entry: &EntryRow, reversed: Uuid, balance: i64) -> NewEvent {
    let msg = ev::PointsReversed {
        entry_id: entry.id.to_string(),
        worker_id: entry.worker_id.to_string(),
        points: entry.points,
        reason: entry.reason.clone(),
        reversed_entry_id: reversed.to_string(),
        source_event_id: entry.source_event_id.to_string(),
        balance,
        occurred_at: Some(to_timestamp(entry.created_at)),
    };
    NewEvent::new(SOURCE, POINTS_REVERSED, entry.worker_id, &msg)
}

pub fn reward_redeemed(row: &RedemptionRow, balance: i64) -> NewEvent {
    let msg = ev::RewardRedeemed {
        redemption_id: row.id.to_string(),
        worker_id: row.worker_id.to_string(),
        community_id: row.community_id.to_string(),
        reward_id: row.reward_id.to_string(),
        quantity: row.quantity,
        points: row.points,
        balance,
        occurred_at: Some(to_timestamp(Utc::now())),
    };
    NewEvent::new(SOURCE, REWARD_REDEEMED, row.id, &msg)
}
