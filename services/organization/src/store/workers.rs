//! Workers and their report-ins: registration (personal numbers sealed by the vault, beside their
//! lookup hashes), edits, the community a report-in moves a worker to, the organization a worker
//! joins, the volunteer roles governance appoints, and the searches over them.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::personal::Vault;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: Uuid,
    pub name: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub id_number_sealed: Option<Vec<u8>>,
    pub platform: String,
    pub enterprise_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub party_member: bool,
    pub version: i64,
    pub registered_at: DateTime<Utc>,
    pub organization_id: Option<Uuid>,
    pub reported_in_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub volunteer_roles: Vec<String>,
}

pub struct NewWorker {
    pub name: String,
    pub phone: String,
    /// Optional resident ID number.
    pub id_number: Option<String>,
    pub platform: String,
    pub enterprise_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub party_member: bool,
}

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

macro_rules! worker_columns {
    () => {
        "id, name, phone_sealed, id_number_sealed, platform, enterprise_id, community_id, party_member, version, registered_at, organization_id, reported_in_at, deleted_at,
         ARRAY(SELECT r.role FROM worker_volunteer_roles r WHERE r.worker_id = workers.id ORDER BY r.role) AS volunteer_roles"
    };
}

/// The live worker (other than `except`) already registered with this phone or ID number, and
/// which of the two it shares; looked up through the lookup hashes (no number is read: each
/// number's hashes under every configured key, current first, since stored hashes may still be
/// the previous key's during a rotation), under a lock on each hash so that two registrations
/// (or a registration and a restore) of the same person at once cannot both pass.
pub async fn registered_with(
    tx: &mut PgConnection,
    phone_hashes: &[Vec<u8>],
    id_number_hashes: &[Vec<u8>],
    except: Option<Uuid>,
) -> Result<Option<(Uuid, &'static str)>, sqlx::Error> {
    let mut keys: Vec<&[u8]> = phone_hashes
        .iter()
        .chain(id_number_hashes)
        .map(Vec::as_slice)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(encode($1, 'hex'), 20))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    let found: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, coalesce(phone_hash = ANY($1), false) FROM workers
         WHERE deleted_at IS NULL AND ($3::uuid IS NULL OR id <> $3)
           AND (phone_hash = ANY($1) OR id_number_hash = ANY($2))
         ORDER BY id LIMIT 1",
    )
    .bind(phone_hashes)
    .bind(id_number_hashes)
    .bind(except)
    .fetch_optional(tx)
    .await?;
    Ok(found.map(|(id, by_phone)| (id, if by_phone { "phone" } else { "id_number" })))
}

/// The worker's lookup hashes: phone, and ID number if recorded.
pub async fn hashes_of(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), sqlx::Error> {
    sqlx::query_as("SELECT phone_hash, id_number_hash FROM workers WHERE id = $1")
        .bind(id)
        .fetch_one(tx)
        .await
}

/// The worker this caller registered with `request_id`, if any.
pub async fn by_request(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
) -> Result<Option<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE registered_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id)
    .fetch_optional(tx)
    .await
}

/// Inserts the worker unless this caller already registered one with `request_id`; returns the
/// worker and whether it is new.
pub async fn insert_worker(
    tx: &mut PgConnection,
    vault: &Vault,
    caller: &str,
    request_id: &str,
    w: &NewWorker,
) -> Result<(WorkerRow, bool), sqlx::Error> {
    let inserted: Option<WorkerRow> = sqlx::query_as(concat!("INSERT INTO workers (id, name, phone_sealed, phone_hash, id_number_sealed, id_number_hash, platform, enterprise_id, community_id, party_member, registered_by, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (registered_by, request_id) DO NOTHING
         RETURNING ", worker_columns!()))
    .bind(Uuid::now_v7())
    .bind(&w.name)
    .bind(vault.seal(&w.phone))
    .bind(vault.lookup_hash(&w.phone))
    .bind(w.id_number.as_deref().map(|n| vault.seal(n)))
    .bind(w.id_number.as_deref().map(|n| vault.lookup_hash(n)))
    .bind(&w.platform)
    .bind(w.enterprise_id)
    .bind(w.community_id)
    .bind(w.party_member)
    .bind(caller)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE registered_by = $1 AND request_id = $2"
    ))
    .bind(caller)
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok((existing, false))
}

/// The community of a worker: `None` when there is no such worker, `Some(None)` for a worker of no
/// community.
pub async fn worker_community(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM workers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Of `ids`, the workers (that exist) outside `communities`.
pub async fn workers_outside(
    pool: &PgPool,
    ids: &[Uuid],
    communities: &[Uuid],
) -> Result<Vec<(Uuid, Option<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, community_id FROM workers
         WHERE id = ANY($1) AND (community_id IS NULL OR NOT community_id = ANY($2))",
    )
    .bind(ids)
    .bind(communities)
    .fetch_all(pool)
    .await
}

pub async fn worker(pool: &PgPool, id: Uuid) -> Result<Option<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The worker, in the transaction that changes them.
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

/// Applies an edit (numbers sealed, with their lookup hashes) and bumps the version.
pub async fn update(
    tx: &mut PgConnection,
    vault: &Vault,
    id: Uuid,
    edit: &WorkerEdit,
) -> Result<(), sqlx::Error> {
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
    Ok(())
}

/// Sets the organization the worker is a member of (None: none), with a new version; with
/// `party_member` false their party membership is cleared too.
pub async fn set_organization(
    tx: &mut PgConnection,
    worker: Uuid,
    organization: Option<Uuid>,
    party_member: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE workers SET organization_id = $2, party_member = party_member AND $3,
            version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(worker)
    .bind(organization)
    .bind(party_member)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportInRow {
    pub id: Uuid,
    pub worker_id: Uuid,
    pub community_id: Uuid,
    pub note: String,
    pub reported_at: DateTime<Utc>,
}

pub async fn insert_report_in(
    tx: &mut PgConnection,
    id: Uuid,
    worker_id: Uuid,
    community_id: Uuid,
    note: &str,
) -> Result<ReportInRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO report_ins (id, worker_id, community_id, note) VALUES ($1, $2, $3, $4)
         RETURNING id, worker_id, community_id, note, reported_at",
    )
    .bind(id)
    .bind(worker_id)
    .bind(community_id)
    .bind(note)
    .fetch_one(&mut *tx)
    .await
}

/// The worker's community becomes the one they reported in to, with a new version.
pub async fn move_to_community(
    tx: &mut PgConnection,
    worker_id: Uuid,
    community_id: Uuid,
    reported_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE workers SET community_id = $2, reported_in_at = $3, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(worker_id)
    .bind(community_id)
    .bind(reported_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn report_in(tx: &mut PgConnection, id: Uuid) -> Result<ReportInRow, sqlx::Error> {
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

/// Adds volunteer roles to the worker (roles they hold are kept).
pub async fn add_volunteer_roles(
    tx: &mut PgConnection,
    worker: Uuid,
    roles: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO worker_volunteer_roles (worker_id, role) SELECT $1, unnest($2::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(worker)
    .bind(roles)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Seals any phone still stored in clear (rows from before encryption); returns how many.
pub async fn seal_clear_phones(pool: &PgPool, vault: &Vault) -> Result<u64, sqlx::Error> {
    let clear: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, phone FROM workers WHERE phone IS NOT NULL")
            .fetch_all(pool)
            .await?;
    for (id, phone) in &clear {
        sqlx::query(
            "UPDATE workers SET phone_sealed = $2, phone_hash = $3, phone = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(vault.seal(phone))
        .bind(vault.lookup_hash(phone))
        .execute(pool)
        .await?;
    }
    Ok(clear.len() as u64)
}

pub struct WorkerFilter {
    /// An `ILIKE` pattern for the name, built by `kit::api::contains_pattern` (the caller's `%`,
    /// `_` and backslash escaped with backslash, the default escape character the statement uses).
    pub name_pattern: Option<String>,
    /// The number's lookup hashes under every configured key.
    pub phone_hashes: Option<Vec<Vec<u8>>>,
    pub platform: Option<String>,
    pub community_id: Option<Uuid>,
    pub party_member: Option<bool>,
    pub enterprise_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    /// The caller's scope (None: the whole county).
    pub in_communities: Option<Vec<Uuid>>,
}

pub async fn search_workers(
    pool: &PgPool,
    f: &WorkerFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers
         WHERE deleted_at IS NULL AND ($1::text IS NULL OR name ILIKE $1)
           AND ($2::bytea[] IS NULL OR phone_hash = ANY($2))
           AND ($3::text IS NULL OR platform = $3)
           AND ($4::uuid IS NULL OR community_id = $4)
           AND ($5::bool IS NULL OR party_member = $5)
           AND ($6::uuid IS NULL OR id > $6)
           AND ($8::uuid IS NULL OR enterprise_id = $8)
           AND ($9::uuid IS NULL OR organization_id = $9)
           AND ($10::uuid[] IS NULL OR community_id = ANY($10))
         ORDER BY id LIMIT $7"
    ))
    .bind(&f.name_pattern)
    .bind(&f.phone_hashes)
    .bind(&f.platform)
    .bind(f.community_id)
    .bind(f.party_member)
    .bind(after)
    .bind(limit)
    .bind(f.enterprise_id)
    .bind(f.organization_id)
    .bind(f.in_communities.as_deref())
    .fetch_all(pool)
    .await
}

/// Every worker after `after` (by id, deleted ones included), `limit` of them.
pub async fn workers_after(
    tx: &mut PgConnection,
    after: Uuid,
    limit: i64,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(tx)
    .await
}
