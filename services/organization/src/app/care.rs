//! Care's use cases (`CareService`), each one transaction holding the change and its event:
//! holiday visits to workers (能量补给), and hardship files of workers in difficulty with the help
//! given. The texts are personal, so they are sealed like phone numbers; events carry only ids,
//! dates and counts.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    domain,
    domain::personal::Vault,
    events::publish,
    store::care::{self, CareVisitRow, HardshipFile, HardshipFileRow, Help, NewCareVisit},
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
