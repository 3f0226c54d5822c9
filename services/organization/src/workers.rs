//! A worker's record after registration: edits (by staff, or by the worker themselves), soft
//! deletion, report-in to a community, and the volunteer roles governance appoints.

use chrono::{DateTime, Utc};
use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{events::v1 as ev, governance::v1::VolunteerRole};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    personal::Vault,
    store::WorkerRow,
    worker_columns,
};

/// The fields an edit changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct WorkerEdit {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `Some(None)` clears the ID number.
    pub id_number: Option<Option<String>>,
    pub platform: Option<String>,
    /// `Some(None)`: no enterprise.
    pub enterprise_id: Option<Option<Uuid>>,
    pub party_member: Option<bool>,
}

pub async fn load(tx: &mut PgConnection, id: Uuid) -> Result<WorkerRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn update(
    pool: &PgPool,
    vault: &Vault,
    id: Uuid,
    expected_version: i64,
    edit: WorkerEdit,
) -> Result<WorkerRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, id, expected_version).await?;
    if let Some(Some(e)) = edit.enterprise_id
        && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
    {
        return Err(ChangeError::invalid(
            "enterprise_id",
            format!("enterprise {e} does not exist"),
        ));
    }
    let id_number = edit.id_number.as_ref();
    sqlx::query(
        "UPDATE workers SET
            name = COALESCE($2, name),
            phone_sealed = COALESCE($3, phone_sealed),
            phone_hash = COALESCE($4, phone_hash),
            id_number_sealed = CASE WHEN $5 THEN $6 ELSE id_number_sealed END,
            id_number_hash = CASE WHEN $5 THEN $7 ELSE id_number_hash END,
            platform = COALESCE($8, platform),
            enterprise_id = CASE WHEN $9 THEN $10 ELSE enterprise_id END,
            party_member = COALESCE($11, party_member),
            version = version + 1,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&edit.name)
    .bind(edit.phone.as_deref().map(|p| vault.seal(p)))
    .bind(edit.phone.as_deref().map(|p| vault.lookup_hash(p)))
    .bind(id_number.is_some())
    .bind(id_number.and_then(|n| n.as_deref()).map(|n| vault.seal(n)))
    .bind(
        id_number
            .and_then(|n| n.as_deref())
            .map(|n| vault.lookup_hash(n)),
    )
    .bind(&edit.platform)
    .bind(edit.enterprise_id.is_some())
    .bind(edit.enterprise_id.flatten())
    .bind(edit.party_member)
    .execute(&mut *tx)
    .await?;
    let row = load(&mut tx, id).await?;
    events::worker_updated(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// Soft delete: tips, points and links keep pointing at the worker; searches and coverage skip them.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<WorkerRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, id, expected_version).await?;
    change::mark_deleted(&mut tx, Aggregate::Worker, id).await?;
    let row = load(&mut tx, id).await?;
    events::worker_updated(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportInRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub community_id: Uuid,
    pub note: String,
    pub reported_at: DateTime<Utc>,
}

/// The worker reports in to the community (报到备案); their community becomes this one.
pub async fn report_in(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    worker_id: Uuid,
    community_id: Uuid,
    note: &str,
) -> Result<(ReportInRow, WorkerRow), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, worker_id, 0).await?;
    if !change::exists(&mut tx, Aggregate::Community, community_id).await? {
        return Err(ChangeError::invalid(
            "community_id",
            format!("community {community_id} does not exist"),
        ));
    }
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::ReportIn, id).await?
    {
        let row = report_in_row(&mut tx, existing).await?;
        let worker = load(&mut tx, row.worker_id).await?;
        return Ok((row, worker));
    }
    let row: ReportInRow = sqlx::query_as(
        "INSERT INTO report_ins (id, worker_id, community_id, note) VALUES ($1, $2, $3, $4)
         RETURNING id, worker_id, community_id, note, reported_at",
    )
    .bind(id)
    .bind(worker_id)
    .bind(community_id)
    .bind(note)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE workers SET community_id = $2, reported_in_at = $3, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(worker_id)
    .bind(community_id)
    .bind(row.reported_at)
    .execute(&mut *tx)
    .await?;
    let worker = load(&mut tx, worker_id).await?;
    events::worker_reported_in(&mut tx, &row, worker.version).await?;
    events::worker_updated(&mut tx, &worker).await?;
    tx.commit().await?;
    Ok((row, worker))
}

async fn report_in_row(tx: &mut PgConnection, id: Uuid) -> Result<ReportInRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, community_id, note, reported_at FROM report_ins WHERE id = $1",
    )
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn list_report_ins(
    pool: &PgPool,
    community_id: Option<Uuid>,
    worker_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReportInRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_id, community_id, note, reported_at FROM report_ins
         WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::uuid IS NULL OR worker_id = $2)
           AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(community_id)
    .bind(worker_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Consumer `organization-volunteer-roles`: governance's appointments, shown on the worker.
/// Appointments are only ever added, so applying a set is idempotent in any order.
pub struct VolunteerRoleEvents;

impl Handler for VolunteerRoleEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::VolunteerRoleAppointed = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let roles: Vec<String> = e
            .roles
            .iter()
            .chain(std::iter::once(&e.role))
            .filter_map(|r| VolunteerRole::try_from(*r).ok())
            .filter(|r| *r != VolunteerRole::Unspecified)
            .map(|r| r.as_str_name().to_owned())
            .collect();
        sqlx::query(
            "INSERT INTO worker_volunteer_roles (worker_id, role) SELECT $1, unnest($2::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(worker)
        .bind(&roles)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
