//! Enterprises and outlets with the five-clears ledger (五个清台账): headcount, party members,
//! situation, needs and responsible officer, each with the date a census visit last confirmed it;
//! and the census visits themselves.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnterpriseRow {
    pub id: Uuid,
    pub name: String,
    pub kind: i16,
    pub brand: String,
    pub community_id: Option<Uuid>,
    pub address: String,
    pub headcount: Option<i32>,
    pub headcount_on: Option<NaiveDate>,
    pub party_members: Option<i32>,
    pub party_members_on: Option<NaiveDate>,
    pub situation: Option<String>,
    pub situation_on: Option<NaiveDate>,
    pub needs: Option<String>,
    pub needs_on: Option<NaiveDate>,
    pub responsible_officer: Option<String>,
    pub responsible_officer_on: Option<NaiveDate>,
    pub last_visited_on: Option<NaiveDate>,
    pub visits: i32,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The columns an enterprise is written with (the ledger is the census visits' to write).
pub struct EnterpriseFields<'a> {
    pub name: &'a str,
    pub kind: i16,
    pub brand: &'a str,
    pub community_id: Option<Uuid>,
    pub address: &'a str,
}

macro_rules! enterprise_columns {
    () => {
        "id, name, kind, brand, community_id, address, headcount, headcount_on, party_members, party_members_on,
         situation, situation_on, needs, needs_on, responsible_officer, responsible_officer_on, last_visited_on,
         visits, version, updated_at, deleted_at"
    };
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<Option<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        enterprise_columns!(),
        " FROM enterprises WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    f: &EnterpriseFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enterprises SET name = $2, kind = $3, brand = $4, community_id = $5, address = $6,
            version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.brand)
    .bind(f.community_id)
    .bind(f.address)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    f: &EnterpriseFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enterprises (id, name, kind, brand, community_id, address)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.brand)
    .bind(f.community_id)
    .bind(f.address)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub struct EnterpriseFilter {
    pub kind: Option<i16>,
    pub community_id: Option<Uuid>,
    pub surveyed_only: bool,
    /// The caller's scope (None: the whole county).
    pub in_communities: Option<Vec<Uuid>>,
}

/// The community of an enterprise: `None` when there is no such enterprise.
pub async fn community_of(pool: &PgPool, id: Uuid) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM enterprises WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(
    pool: &PgPool,
    f: &EnterpriseFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        enterprise_columns!(),
        " FROM enterprises
         WHERE deleted_at IS NULL AND ($1::smallint IS NULL OR kind = $1)
           AND ($2::uuid IS NULL OR community_id = $2) AND (NOT $3 OR visits > 0)
           AND ($4::uuid IS NULL OR id > $4)
           AND ($6::uuid[] IS NULL OR community_id = ANY($6))
         ORDER BY id LIMIT $5"
    ))
    .bind(f.kind)
    .bind(f.community_id)
    .bind(f.surveyed_only)
    .bind(after)
    .bind(limit)
    .bind(f.in_communities.as_deref())
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct CensusVisitRow {
    pub id: Uuid,
    pub enterprise_id: Uuid,
    pub visited_on: NaiveDate,
    pub visitor: String,
    pub headcount: Option<i32>,
    pub party_members: Option<i32>,
    pub situation: Option<String>,
    pub needs: Option<String>,
    pub responsible_officer: Option<String>,
    pub notes: String,
    pub version: i64,
    /// Set once the visit is withdrawn: it no longer counts in the ledger.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: String,
}

macro_rules! select_visits {
    () => {
        "SELECT id, enterprise_id, visited_on, visitor, headcount, party_members, situation, needs, responsible_officer, notes,
            version, withdrawn_at, withdrawn_reason
         FROM census_visits"
    };
}

pub async fn census_visit(tx: &mut PgConnection, id: Uuid) -> Result<CensusVisitRow, sqlx::Error> {
    sqlx::query_as(concat!(select_visits!(), " WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
}

pub async fn insert_census_visit(
    tx: &mut PgConnection,
    id: Uuid,
    visit: &CensusVisitRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO census_visits (id, enterprise_id, visited_on, visitor, headcount, party_members, situation, needs, responsible_officer, notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(visit.enterprise_id)
    .bind(visit.visited_on)
    .bind(&visit.visitor)
    .bind(visit.headcount)
    .bind(visit.party_members)
    .bind(&visit.situation)
    .bind(&visit.needs)
    .bind(&visit.responsible_officer)
    .bind(&visit.notes)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the corrected visit (the same id and enterprise) with a new version.
pub async fn correct_census_visit(
    tx: &mut PgConnection,
    visit: &CensusVisitRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE census_visits SET visited_on = $2, visitor = $3, headcount = $4, party_members = $5,
            situation = $6, needs = $7, responsible_officer = $8, notes = $9, version = version + 1
         WHERE id = $1",
    )
    .bind(visit.id)
    .bind(visit.visited_on)
    .bind(&visit.visitor)
    .bind(visit.headcount)
    .bind(visit.party_members)
    .bind(&visit.situation)
    .bind(&visit.needs)
    .bind(&visit.responsible_officer)
    .bind(&visit.notes)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the visit withdrawn, with a new version.
pub async fn withdraw_census_visit(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE census_visits SET withdrawn_at = now(), withdrawn_reason = $2, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Derives the enterprise's ledger again from the visits that stand: each figure from the latest
/// visit that gave it (by visit date, then by recording), the last visit date and the count of
/// visits; with a new version. (A visit corrected or withdrawn may have been what a figure
/// stood on.)
pub async fn derive_ledger(tx: &mut PgConnection, enterprise: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH v AS (SELECT * FROM census_visits WHERE enterprise_id = $1 AND withdrawn_at IS NULL)
         UPDATE enterprises e SET
            (headcount, headcount_on) = (SELECT headcount, visited_on FROM v
                WHERE headcount IS NOT NULL ORDER BY visited_on DESC, id DESC LIMIT 1),
            (party_members, party_members_on) = (SELECT party_members, visited_on FROM v
                WHERE party_members IS NOT NULL ORDER BY visited_on DESC, id DESC LIMIT 1),
            (situation, situation_on) = (SELECT situation, visited_on FROM v
                WHERE situation IS NOT NULL ORDER BY visited_on DESC, id DESC LIMIT 1),
            (needs, needs_on) = (SELECT needs, visited_on FROM v
                WHERE needs IS NOT NULL ORDER BY visited_on DESC, id DESC LIMIT 1),
            (responsible_officer, responsible_officer_on) = (SELECT responsible_officer, visited_on
                FROM v WHERE responsible_officer IS NOT NULL ORDER BY visited_on DESC, id DESC LIMIT 1),
            last_visited_on = (SELECT max(visited_on) FROM v),
            visits = (SELECT count(*) FROM v),
            version = e.version + 1,
            updated_at = now()
         WHERE e.id = $1",
    )
    .bind(enterprise)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Which of a census visit's figures the ledger takes.
pub struct Confirmed {
    pub headcount: bool,
    pub party_members: bool,
    pub situation: bool,
    pub needs: bool,
    pub responsible_officer: bool,
}

/// Writes the figures of the visit the ledger takes, each dated by the visit, and counts the
/// visit; with a new version.
pub async fn apply_census_visit(
    tx: &mut PgConnection,
    visit: &CensusVisitRow,
    confirmed: &Confirmed,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enterprises SET
            headcount = CASE WHEN $3 THEN $4 ELSE headcount END,
            headcount_on = CASE WHEN $3 THEN $2 ELSE headcount_on END,
            party_members = CASE WHEN $5 THEN $6 ELSE party_members END,
            party_members_on = CASE WHEN $5 THEN $2 ELSE party_members_on END,
            situation = CASE WHEN $7 THEN $8 ELSE situation END,
            situation_on = CASE WHEN $7 THEN $2 ELSE situation_on END,
            needs = CASE WHEN $9 THEN $10 ELSE needs END,
            needs_on = CASE WHEN $9 THEN $2 ELSE needs_on END,
            responsible_officer = CASE WHEN $11 THEN $12 ELSE responsible_officer END,
            responsible_officer_on = CASE WHEN $11 THEN $2 ELSE responsible_officer_on END,
            last_visited_on = GREATEST(last_visited_on, $2),
            visits = visits + 1,
            version = version + 1,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(visit.enterprise_id)
    .bind(visit.visited_on)
    .bind(confirmed.headcount)
    .bind(visit.headcount)
    .bind(confirmed.party_members)
    .bind(visit.party_members)
    .bind(confirmed.situation)
    .bind(&visit.situation)
    .bind(confirmed.needs)
    .bind(&visit.needs)
    .bind(confirmed.responsible_officer)
    .bind(&visit.responsible_officer)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list_visits(
    pool: &PgPool,
    enterprise_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CensusVisitRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_visits!(),
        // By visit date, newest first (paper forms are entered late and out of order); the
        // page token is the last visit's id, its place found through its date.
        " WHERE enterprise_id = $1
           AND ($2::uuid IS NULL
                OR (visited_on, id) < (SELECT c.visited_on, c.id FROM census_visits c WHERE c.id = $2))
         ORDER BY visited_on DESC, id DESC LIMIT $3"
    ))
    .bind(enterprise_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
