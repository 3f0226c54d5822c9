//! Enterprises and outlets with the five-clears ledger (五个清台账): headcount, party members,
//! situation, needs and responsible officer, each with the date a census visit last confirmed it.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, rules,
};

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

macro_rules! enterprise_columns {
    () => {
        "id, name, kind, brand, community_id, address, headcount, headcount_on, party_members, party_members_on,
         situation, situation_on, needs, needs_on, responsible_officer, responsible_officer_on, last_visited_on,
         visits, version, updated_at, deleted_at"
    };
}

pub struct EnterpriseChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
    pub brand: &'a str,
    pub community_id: Option<Uuid>,
    pub address: &'a str,
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

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: EnterpriseChange<'_>,
) -> Result<EnterpriseRow, ChangeError> {
    let mut tx = pool.begin().await?;
    if let Some(community) = c.community_id
        && !change::exists(&mut tx, Aggregate::Community, community).await?
    {
        return Err(ChangeError::invalid(
            "enterprise.community_id",
            format!("community {community} does not exist"),
        ));
    }
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Enterprise, id, c.expected_version).await?;
            sqlx::query(
                "UPDATE enterprises SET name = $2, kind = $3, brand = $4, community_id = $5, address = $6,
                    version = version + 1, updated_at = now()
                 WHERE id = $1",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .bind(c.brand)
            .bind(c.community_id)
            .bind(c.address)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Enterprise, id)
                    .await?
            {
                return Ok(get(&mut tx, existing)
                    .await?
                    .expect("claimed enterprise exists"));
            }
            sqlx::query(
                "INSERT INTO enterprises (id, name, kind, brand, community_id, address)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(c.name)
            .bind(c.kind)
            .bind(c.brand)
            .bind(c.community_id)
            .bind(c.address)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let row = get(&mut tx, id).await?.expect("enterprise just written");
    events::enterprise_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<EnterpriseRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Enterprise, id, expected_version).await?;
    change::mark_deleted(&mut tx, Aggregate::Enterprise, id).await?;
    let row = get(&mut tx, id).await?.expect("enterprise exists");
    events::enterprise_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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

/// The enterprise an issue was raised for: `None` when there is no such issue.
pub async fn enterprise_of_issue(
    pool: &PgPool,
    issue: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar("SELECT enterprise_id FROM enterprise_issues WHERE id = $1")
        .bind(issue)
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
}

macro_rules! select_visits {
    () => {
        "SELECT id, enterprise_id, visited_on, visitor, headcount, party_members, situation, needs, responsible_officer, notes FROM census_visits"
    };
}

/// Records the visit and updates each figure it confirmed, unless a later visit already did.
pub async fn record_visit(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    visit: CensusVisitRow,
) -> Result<(CensusVisitRow, EnterpriseRow), ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::CensusVisit, id).await?
    {
        let v: CensusVisitRow = sqlx::query_as(concat!(select_visits!(), " WHERE id = $1"))
            .bind(existing)
            .fetch_one(&mut *tx)
            .await?;
        let e = get(&mut tx, v.enterprise_id)
            .await?
            .expect("visited enterprise");
        return Ok((v, e));
    }
    match change::lock(&mut tx, Aggregate::Enterprise, visit.enterprise_id, 0).await {
        Err(ChangeError::NotFound { id, .. }) => {
            return Err(ChangeError::invalid(
                "visit.enterprise_id",
                format!("enterprise {id} does not exist"),
            ));
        }
        other => other?,
    };
    let e = get(&mut tx, visit.enterprise_id).await?.expect("locked");
    let on = visit.visited_on;
    let confirms = |last: Option<NaiveDate>, given: bool| given && rules::visit_confirms(last, on);
    sqlx::query(
        "INSERT INTO census_visits (id, enterprise_id, visited_on, visitor, headcount, party_members, situation, needs, responsible_officer, notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(visit.enterprise_id)
    .bind(on)
    .bind(&visit.visitor)
    .bind(visit.headcount)
    .bind(visit.party_members)
    .bind(&visit.situation)
    .bind(&visit.needs)
    .bind(&visit.responsible_officer)
    .bind(&visit.notes)
    .execute(&mut *tx)
    .await?;
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
    .bind(on)
    .bind(confirms(e.headcount_on, visit.headcount.is_some()))
    .bind(visit.headcount)
    .bind(confirms(e.party_members_on, visit.party_members.is_some()))
    .bind(visit.party_members)
    .bind(confirms(e.situation_on, visit.situation.is_some()))
    .bind(&visit.situation)
    .bind(confirms(e.needs_on, visit.needs.is_some()))
    .bind(&visit.needs)
    .bind(confirms(
        e.responsible_officer_on,
        visit.responsible_officer.is_some(),
    ))
    .bind(&visit.responsible_officer)
    .execute(&mut *tx)
    .await?;
    let e = get(&mut tx, visit.enterprise_id).await?.expect("locked");
    events::enterprise_changed(&mut tx, &e).await?;
    tx.commit().await?;
    Ok((CensusVisitRow { id, ..visit }, e))
}

pub async fn list_visits(
    pool: &PgPool,
    enterprise_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CensusVisitRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_visits!(),
        " WHERE enterprise_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(enterprise_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
