//! Care (能量补给): holiday visits to workers, and hardship files of workers in difficulty with the
//! help given. The texts are personal, so they are sealed like phone numbers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::personal::Vault;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CareVisitRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub visited_on: NaiveDate,
    pub occasion: String,
    pub visitor: String,
    pub notes_sealed: Option<Vec<u8>>,
    pub version: i64,
    /// Set once the visit is withdrawn; the reason sealed.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason_sealed: Option<Vec<u8>>,
}

pub struct NewCareVisit<'a> {
    pub worker_id: Uuid,
    pub visited_on: NaiveDate,
    pub occasion: &'a str,
    pub visitor: &'a str,
    pub notes: &'a str,
}

macro_rules! select_visits {
    () => {
        "SELECT id, worker_id, visited_on, occasion, visitor, notes_sealed, version, withdrawn_at,
            withdrawn_reason_sealed
         FROM care_visits"
    };
}

pub async fn visit(tx: &mut PgConnection, id: Uuid) -> Result<CareVisitRow, sqlx::Error> {
    sqlx::query_as(concat!(select_visits!(), " WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
}

/// Inserts the visit, its notes (if any) sealed.
pub async fn insert_visit(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    v: &NewCareVisit<'_>,
) -> Result<CareVisitRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO care_visits (id, worker_id, visited_on, occasion, visitor, notes_sealed)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, worker_id, visited_on, occasion, visitor, notes_sealed, version, withdrawn_at,
            withdrawn_reason_sealed",
    )
    .bind(id)
    .bind(v.worker_id)
    .bind(v.visited_on)
    .bind(v.occasion)
    .bind(v.visitor)
    .bind((!v.notes.is_empty()).then(|| vault.seal(v.notes)))
    .fetch_one(&mut *tx)
    .await
}

/// Writes the corrected visit (the same id and worker), its notes sealed, with a new version.
pub async fn correct_visit(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    v: &NewCareVisit<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE care_visits SET visited_on = $2, occasion = $3, visitor = $4, notes_sealed = $5,
            version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(v.visited_on)
    .bind(v.occasion)
    .bind(v.visitor)
    .bind((!v.notes.is_empty()).then(|| vault.seal(v.notes)))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a care record withdrawn, its reason sealed, with a new version.
pub async fn withdraw(
    tx: &mut PgConnection,
    vault: &Vault,
    what: CareRecord,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let sql = match what {
        CareRecord::Visit => {
            "UPDATE care_visits SET withdrawn_at = now(), withdrawn_reason_sealed = $2,
                version = version + 1 WHERE id = $1"
        }
        CareRecord::HardshipFile => {
            "UPDATE hardship_files SET withdrawn_at = now(), withdrawn_reason_sealed = $2,
                version = version + 1 WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id)
        .bind(vault.seal(reason))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The two kinds of care record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CareRecord {
    Visit,
    HardshipFile,
}

pub async fn list_visits(
    pool: &PgPool,
    worker_id: Option<Uuid>,
    occasion: Option<&str>,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CareVisitRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_visits!(),
        " WHERE ($1::uuid IS NULL OR worker_id = $1) AND ($2::text IS NULL OR (occasion = $2 AND withdrawn_at IS NULL))
            AND ($3::uuid IS NULL OR id > $3)
            AND ($5::uuid[] IS NULL OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($5)))
          ORDER BY id LIMIT $4"
    ))
    .bind(worker_id)
    .bind(occasion)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}

/// One entry of help given, as kept (sealed) in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Help {
    /// YYYY-MM-DD.
    pub given_on: String,
    pub kind: String,
    pub description: String,
    pub amount_yuan: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HardshipFileRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub difficulty_sealed: Vec<u8>,
    pub help_sealed: Vec<u8>,
    pub help_entries: i32,
    pub outcome_sealed: Option<Vec<u8>>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    /// Set once the file is withdrawn; the reason sealed.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason_sealed: Option<Vec<u8>>,
}

/// A file with its texts opened.
#[derive(Debug, Clone)]
pub struct HardshipFile {
    pub row: HardshipFileRow,
    pub difficulty: String,
    pub help: Vec<Help>,
    pub outcome: String,
    pub withdrawn_reason: String,
}

#[derive(Debug, thiserror::Error)]
#[error("hardship file {0} does not decrypt with the configured key")]
pub struct Undecryptable(pub Uuid);

impl HardshipFileRow {
    pub fn open(self, vault: &Vault) -> Result<HardshipFile, Undecryptable> {
        let id = self.id;
        let text = |s: &[u8]| vault.open(s).map_err(|_| Undecryptable(id));
        let difficulty = text(&self.difficulty_sealed)?;
        let help =
            serde_json::from_str(&text(&self.help_sealed)?).map_err(|_| Undecryptable(id))?;
        let optional = |s: &Option<Vec<u8>>| match s {
            Some(s) => text(s),
            None => Ok(String::new()),
        };
        let outcome = optional(&self.outcome_sealed)?;
        let withdrawn_reason = optional(&self.withdrawn_reason_sealed)?;
        Ok(HardshipFile {
            row: self,
            difficulty,
            help,
            outcome,
            withdrawn_reason,
        })
    }
}

macro_rules! select_files {
    () => {
        "SELECT id, worker_id, difficulty_sealed, help_sealed, help_entries, outcome_sealed, opened_at, closed_at, version,
            withdrawn_at, withdrawn_reason_sealed
         FROM hardship_files"
    };
}

pub async fn file(tx: &mut PgConnection, id: Uuid) -> Result<Option<HardshipFileRow>, sqlx::Error> {
    sqlx::query_as(concat!(select_files!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The worker a hardship file is about.
pub async fn file_worker(pool: &PgPool, file: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT worker_id FROM hardship_files WHERE id = $1")
        .bind(file)
        .fetch_optional(pool)
        .await
}

/// Inserts an open file with no help yet, its difficulty sealed.
pub async fn insert_file(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    worker_id: Uuid,
    difficulty: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hardship_files (id, worker_id, difficulty_sealed, help_sealed) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(worker_id)
    .bind(vault.seal(difficulty))
    .bind(vault.seal("[]"))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Rewrites the file's help (sealed whole), with a new version.
pub async fn write_help(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    help: &[Help],
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(help).expect("help serializes");
    sqlx::query(
        "UPDATE hardship_files SET help_sealed = $2, help_entries = $3, version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(vault.seal(&json))
    .bind(help.len() as i32)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Closes the file with its outcome (sealed), with a new version.
pub async fn close_file(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE hardship_files SET outcome_sealed = $2, closed_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(vault.seal(outcome))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the corrected texts of a file (help sealed whole; the outcome only of a closed file),
/// with a new version.
pub async fn correct_file(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    difficulty: &str,
    help: &[Help],
    outcome: Option<&str>,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(help).expect("help serializes");
    sqlx::query(
        "UPDATE hardship_files SET difficulty_sealed = $2, help_sealed = $3, help_entries = $4,
            outcome_sealed = CASE WHEN closed_at IS NULL THEN NULL ELSE $5 END, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(vault.seal(difficulty))
    .bind(vault.seal(&json))
    .bind(help.len() as i32)
    .bind(outcome.map(|o| vault.seal(o)))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list_files(
    pool: &PgPool,
    worker_id: Option<Uuid>,
    open: Option<bool>,
    in_communities: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<HardshipFileRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_files!(),
        " WHERE ($1::uuid IS NULL OR worker_id = $1) AND ($2::bool IS NULL OR ((closed_at IS NULL) = $2 AND withdrawn_at IS NULL))
            AND ($3::uuid IS NULL OR id > $3)
            AND ($5::uuid[] IS NULL OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($5)))
          ORDER BY id LIMIT $4"
    ))
    .bind(worker_id)
    .bind(open)
    .bind(after)
    .bind(limit)
    .bind(in_communities)
    .fetch_all(pool)
    .await
}
