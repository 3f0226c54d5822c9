//! Governance SQL, one file per table family: the row types here, then [`tips`], [`cases`],
//! [`transitions`], [`grids`], [`stats`], the case feed in [`feed`], the volunteer team in
//! [`volunteers`] and the worker read model in [`workers`]. Everything is re-exported,
//! so callers write `store::…`.

use chrono::{DateTime, Utc};
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{self as pb},
};
use uuid::Uuid;

use kit::time::to_timestamp;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TipRow {
    pub id: Uuid,
    pub request_id: String,
    pub reporter_id: Uuid,
    pub submitted_by: String,
    pub category: i16,
    pub description: String,
    pub latitude: f64,
    pub longitude: f64,
    pub photo_urls: Vec<String>,
    pub observed_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub status: i16,
    pub case_id: Option<Uuid>,
    pub rejection_reason: String,
    pub confirmed_fixed: Option<bool>,
}

impl TipRow {
    pub fn to_pb(&self) -> pb::Tip {
        pb::Tip {
            id: self.id.to_string(),
            reporter_id: self.reporter_id.to_string(),
            category: i32::from(self.category),
            description: self.description.clone(),
            location: Some(LatLng {
                latitude: self.latitude,
                longitude: self.longitude,
            }),
            photo_urls: self.photo_urls.clone(),
            observed_at: Some(to_timestamp(self.observed_at)),
            status: i32::from(self.status),
            case_id: self.case_id.map(|c| c.to_string()).unwrap_or_default(),
            submitted_at: Some(to_timestamp(self.submitted_at)),
            request_id: self.request_id.clone(),
            // Filled where the case is at hand (GetTip, ListTips).
            case_status: 0,
            case_note: String::new(),
            case_number: String::new(),
            rejection_reason: self.rejection_reason.clone(),
            case_resolution: 0,
            confirmed_fixed: self.confirmed_fixed,
        }
    }

    /// Adds what the reporter is told of the tip's case.
    pub fn with_case(mut tip: pb::Tip, case: &CaseFeedback) -> pb::Tip {
        tip.case_status = i32::from(case.status);
        tip.case_note = case.public_reply.clone();
        tip.case_number = case.number.clone().unwrap_or_default();
        tip.case_resolution = i32::from(case.resolution);
        tip
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: Uuid,
    pub grid_id: Option<Uuid>,
    pub department: String,
    pub status: i16,
    pub category: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub due_at: DateTime<Utc>,
    pub note: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub number: Option<String>,
    pub external_ref: String,
    pub escalated_at: Option<DateTime<Utc>>,
    pub reporter_count: i64,
    pub public_reply: String,
    pub resolution: i16,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a reporter is told of their tip's case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseFeedback {
    pub id: Uuid,
    pub status: i16,
    pub public_reply: String,
    pub number: Option<String>,
    pub resolution: i16,
}

impl CaseRow {
    pub fn to_pb(&self, tip_ids: &[Uuid]) -> pb::Case {
        pb::Case {
            id: self.id.to_string(),
            tip_ids: tip_ids.iter().map(Uuid::to_string).collect(),
            grid_id: self.grid_id.map(|g| g.to_string()).unwrap_or_default(),
            department: self.department.clone(),
            status: i32::from(self.status),
            due_at: Some(to_timestamp(self.due_at)),
            category: i32::from(self.category),
            location: Some(LatLng {
                latitude: self.latitude,
                longitude: self.longitude,
            }),
            created_at: Some(to_timestamp(self.created_at)),
            updated_at: Some(to_timestamp(self.updated_at)),
            version: self.version,
            note: self.note.clone(),
            number: self.number.clone().unwrap_or_default(),
            external_ref: self.external_ref.clone(),
            escalated_at: self.escalated_at.map(to_timestamp),
            reporter_count: self.reporter_count as i32,
            public_reply: self.public_reply.clone(),
            resolution: i32::from(self.resolution),
            closed_at: self.closed_at.map(to_timestamp),
        }
    }
}

/// Which grids a list covers: every grid and the county queue (`grids: None`), or these grids and
/// the grids of these communities. Built from the caller's scope by the api.
#[derive(Debug, Clone, Default)]
pub struct GridScope {
    pub grids: Option<Vec<Uuid>>,
    pub communities: Vec<Uuid>,
}

/// SQL: `$col` (a grid id) lies in the scope bound as `$grids` (uuid[] or NULL) and `$communities`.
macro_rules! in_grid_scope {
    ($col:literal, $grids:literal, $communities:literal) => {
        concat!(
            "(",
            $grids,
            "::uuid[] IS NULL OR ",
            $col,
            " = ANY(",
            $grids,
            ") OR ",
            $col,
            " IN (SELECT id FROM grids WHERE community_id = ANY(",
            $communities,
            "::uuid[])))"
        )
    };
}

macro_rules! tip_columns {
    () => {
        "id, request_id, reporter_id, submitted_by, category, description, latitude, longitude, photo_urls, observed_at, submitted_at, status, case_id,
         rejection_reason, confirmed_fixed"
    };
}
macro_rules! case_columns {
    () => {
        "id, grid_id, department, status, category, latitude, longitude, due_at, note, version, created_at, updated_at,
         number, external_ref, escalated_at, public_reply, resolution, closed_at,
         (SELECT count(DISTINCT t.reporter_id) FROM tips t WHERE t.case_id = cases.id AND t.status <> 4) AS reporter_count"
    };
}

pub struct NewTip {
    pub request_id: String,
    pub reporter_id: Uuid,
    pub submitted_by: String,
    pub category: i16,
    pub description: String,
    pub latitude: f64,
    pub longitude: f64,
    pub photo_urls: Vec<String>,
    pub observed_at: DateTime<Utc>,
}

impl NewTip {
    /// The row this tip becomes when stored at `at` (a new id, received, in no case yet). `at`
    /// should have the database's microsecond precision, as an event announcing the row carries it.
    pub fn to_row(&self, at: DateTime<Utc>) -> TipRow {
        TipRow {
            id: Uuid::now_v7(),
            request_id: self.request_id.clone(),
            reporter_id: self.reporter_id,
            submitted_by: self.submitted_by.clone(),
            category: self.category,
            description: self.description.clone(),
            latitude: self.latitude,
            longitude: self.longitude,
            photo_urls: self.photo_urls.clone(),
            observed_at: self.observed_at,
            submitted_at: at,
            status: pb::TipStatus::Received as i16,
            case_id: None,
            rejection_reason: String::new(),
            confirmed_fixed: None,
        }
    }
}

// After the column macros above, which they use.
mod cases;
mod feed;
mod grids;
mod stats;
mod tips;
mod transitions;
mod volunteers;
mod workers;

pub use cases::*;
pub use feed::*;
pub use grids::*;
pub use stats::*;
pub use tips::*;
pub use transitions::*;
pub use volunteers::*;
pub use workers::*;
