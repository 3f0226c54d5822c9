//! Revisions of what was recorded (census visits, enterprise issues, forums, care visits and
//! hardship files): each correction or withdrawal, who made it, when and why, which fields it
//! changed, and the record as it stood before (its protobuf encoding, `kind` saying which
//! message). A care record's revision holds its reason and its before sealed, as care is.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const CORRECTED: i16 = 1;
pub const WITHDRAWN: i16 = 2;

/// Which message `before` encodes.
pub const CENSUS_VISIT: i16 = 1;
pub const ENTERPRISE_ISSUE: i16 = 2;
pub const FORUM: i16 = 3;
/// Care kinds: `before` and the reason are sealed.
pub const CARE_VISIT: i16 = 4;
pub const HARDSHIP_FILE: i16 = 5;

/// The kinds `EnterpriseService.ListRevisions` lists, and `CareService.ListCareRevisions`.
pub const ENTERPRISE_KINDS: &[i16] = &[CENSUS_VISIT, ENTERPRISE_ISSUE, FORUM];
pub const CARE_KINDS: &[i16] = &[CARE_VISIT, HARDSHIP_FILE];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevisionRow {
    pub id: Uuid,
    pub record_id: Uuid,
    pub version: i64,
    pub action: i16,
    pub fields: Vec<String>,
    pub reason: String,
    pub reason_sealed: Option<Vec<u8>>,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub kind: i16,
    pub before: Vec<u8>,
}

/// A change of one record: the version it made, what, why, by whom, and what stood before.
pub struct Revision<'a> {
    pub record_id: Uuid,
    pub version: i64,
    pub action: i16,
    pub fields: &'a [String],
    /// Empty where the reason is sealed.
    pub reason: &'a str,
    pub reason_sealed: Option<&'a [u8]>,
    pub by: &'a str,
    pub kind: i16,
    pub before: &'a [u8],
}

pub async fn insert(tx: &mut PgConnection, r: &Revision<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revisions (id, record_id, version, action, fields, reason, changed_by, kind, before,
            reason_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(r.record_id)
    .bind(r.version)
    .bind(r.action)
    .bind(r.fields)
    .bind(r.reason)
    .bind(r.by)
    .bind(r.kind)
    .bind(r.before)
    .bind(r.reason_sealed)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The record's revisions of the given kinds, oldest first, a page after `after`.
pub async fn list(
    pool: &PgPool,
    record: Uuid,
    kinds: &[i16],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RevisionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, version, action, fields, reason, reason_sealed, changed_by, changed_at,
            kind, before
         FROM revisions WHERE record_id = $1 AND kind = ANY($4) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(record)
    .bind(after)
    .bind(limit)
    .bind(kinds)
    .fetch_all(pool)
    .await
}
