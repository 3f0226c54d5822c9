//! Care's use cases (`CareService`), each one transaction holding the change and its event:
//! holiday visits to workers (能量补给), and hardship files of workers in difficulty with the help
//! given, each of them corrected or withdrawn with a revision. The texts are personal, so they
//! are sealed like phone numbers, and so are a revision's reason and before; events carry only
//! ids, dates and counts.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::corrections::{Change, revision};
use crate::{
    change::{self, Aggregate, ChangeError},
    domain,
    domain::personal::Vault,
    events::publish,
    store::{
        care::{self, CareRecord, CareVisitRow, HardshipFile, HardshipFileRow, Help, NewCareVisit},
        revisions::{self, CARE_VISIT, HARDSHIP_FILE, Revision},
    },
};

async fn require_worker(tx: &mut PgConnection, id: Uuid) -> Result<(), ChangeError> {
    if change::exists(tx, Aggregate::Worker, id).await? {
        Ok(())
    } else {
        Err(ChangeError::invalid(
            "worker_id",
            format!("worker {id} does not exist"),
        ))
    }
}

pub async fn record_visit(
    pool: &PgPool,
    vault: &Vault,
    caller: &str,
    request_id: &str,
    v: NewCareVisit<'_>,
) -> Result<CareVisitRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::CareVisit, id).await?
    {
        return Ok(care::visit(&mut tx, existing).await?);
    }
    require_worker(&mut tx, v.worker_id).await?;
    let row = care::insert_visit(&mut tx, vault, id, &v).await?;
    publish::care_visit_recorded(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn open_file(
    pool: &PgPool,
    vault: &Vault,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    difficulty: &str,
) -> Result<HardshipFileRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::HardshipFile, id).await?
    {
        return Ok(care::file(&mut tx, existing)
            .await?
            .expect("claimed file exists"));
    }
    require_worker(&mut tx, worker_id).await?;
    care::insert_file(&mut tx, vault, id, worker_id, difficulty).await?;
    let row = care::file(&mut tx, id).await?.expect("file just written");
    publish::hardship_file_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

async fn lock_open(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    expected_version: i64,
) -> Result<HardshipFile, ChangeError> {
    change::lock(tx, Aggregate::HardshipFile, id, expected_version).await?;
    let row = care::file(tx, id).await?.expect("locked file exists");
    if row.closed_at.is_some() {
        return Err(ChangeError::Precondition(format!(
            "hardship file {id} is closed"
        )));
    }
    row.open(vault)
        .map_err(|e| ChangeError::Precondition(e.to_string()))
}

pub async fn record_help(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    expected_version: i64,
    help: Help,
) -> Result<HardshipFileRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let mut f = lock_open(&mut tx, vault, id, expected_version).await?;
    if f.help.len() >= domain::MAX_HELP_ENTRIES {
        return Err(ChangeError::Precondition(format!(
            "hardship file {id} holds the most entries of help a file may ({}); close it and open another",
            domain::MAX_HELP_ENTRIES
        )));
    }
    f.help.push(help);
    care::write_help(&mut tx, vault, id, &f.help).await?;
    let row = care::file(&mut tx, id).await?.expect("file exists");
    publish::hardship_file_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn close_file(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    expected_version: i64,
    outcome: &str,
) -> Result<HardshipFileRow, ChangeError> {
    let mut tx = pool.begin().await?;
    lock_open(&mut tx, vault, id, expected_version).await?;
    care::close_file(&mut tx, vault, id, outcome).await?;
    let row = care::file(&mut tx, id).await?.expect("file exists");
    publish::hardship_file_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// The change's revision of a care record, its reason and before sealed.
async fn insert_sealed_revision(
    tx: &mut PgConnection,
    vault: &Vault,
    c: &Change<'_>,
    (id, version, kind): (Uuid, i64, i16),
) -> Result<(), sqlx::Error> {
    let reason = vault.seal(c.reason);
    let before = vault.seal_bytes(c.before);
    let r = Revision {
        reason: "",
        reason_sealed: Some(&reason),
        before: &before,
        ..revision(c, id, version, kind)
    };
    revisions::insert(tx, &r).await
}

/// The visit corrected (`Some`: its date, occasion, visitor and notes; the worker stays) or
/// withdrawn (`None`).
pub async fn change_visit(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    corrected: Option<NewCareVisit<'_>>,
    c: &Change<'_>,
) -> Result<CareVisitRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::CareVisit, id, c.expected_version).await?;
    match corrected {
        Some(v) => care::correct_visit(&mut tx, vault, id, &v).await?,
        None => care::withdraw(&mut tx, vault, CareRecord::Visit, id, c.reason).await?,
    }
    let row = care::visit(&mut tx, id).await?;
    insert_sealed_revision(&mut tx, vault, c, (id, row.version, CARE_VISIT)).await?;
    publish::care_visit_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// What a hardship file's correction writes: its difficulty, its help (whole), and the outcome
/// of a closed file.
pub struct FileCorrection {
    pub difficulty: String,
    pub help: Vec<Help>,
    pub outcome: String,
}

/// The file corrected (`Some`) or withdrawn (`None`). An open file has no outcome to correct; a
/// closed one keeps an outcome.
pub async fn change_file(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    corrected: Option<FileCorrection>,
    c: &Change<'_>,
) -> Result<HardshipFileRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::HardshipFile, id, c.expected_version).await?;
    match corrected {
        Some(f) => {
            let closed = care::file(&mut tx, id)
                .await?
                .expect("locked file exists")
                .closed_at
                .is_some();
            let outcome = match (closed, f.outcome.trim().is_empty()) {
                (true, true) => {
                    return Err(ChangeError::invalid(
                        "file.outcome",
                        "a closed file keeps its outcome",
                    ));
                }
                (false, false) => {
                    return Err(ChangeError::invalid(
                        "file.outcome",
                        "an open file has no outcome to correct: close it",
                    ));
                }
                (true, false) => Some(f.outcome.as_str()),
                (false, true) => None,
            };
            if f.help.len() > domain::MAX_HELP_ENTRIES {
                return Err(ChangeError::invalid(
                    "file.help",
                    format!(
                        "a file holds at most {} entries of help",
                        domain::MAX_HELP_ENTRIES
                    ),
                ));
            }
            care::correct_file(&mut tx, vault, id, &f.difficulty, &f.help, outcome).await?;
        }
        None => care::withdraw(&mut tx, vault, CareRecord::HardshipFile, id, c.reason).await?,
    }
    let row = care::file(&mut tx, id).await?.expect("file exists");
    insert_sealed_revision(&mut tx, vault, c, (id, row.version, HARDSHIP_FILE)).await?;
    publish::hardship_file_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
