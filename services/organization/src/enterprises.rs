//! Enterprises and outlets with the five-clears ledger (五个清台账): headcount, party members,
//! situation, needs and responsible officer, each with the date a census visit last confirmed it.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events, rules,
    store::enterprises::{self, CensusVisitRow, Confirmed, EnterpriseFields, EnterpriseRow},
};

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
    let fields = EnterpriseFields {
        name: c.name,
        kind: c.kind,
        brand: c.brand,
        community_id: c.community_id,
        address: c.address,
    };
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Enterprise, id, c.expected_version).await?;
            enterprises::update(&mut tx, id, &fields).await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Enterprise, id)
                    .await?
            {
                return Ok(enterprises::get(&mut tx, existing)
                    .await?
                    .expect("claimed enterprise exists"));
            }
            enterprises::insert(&mut tx, id, &fields).await?;
            id
        }
    };
    let row = enterprises::get(&mut tx, id)
        .await?
        .expect("enterprise just written");
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
    let row = enterprises::get(&mut tx, id)
        .await?
        .expect("enterprise exists");
    events::enterprise_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
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
        let v = enterprises::census_visit(&mut tx, existing).await?;
        let e = enterprises::get(&mut tx, v.enterprise_id)
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
    let e = enterprises::get(&mut tx, visit.enterprise_id)
        .await?
        .expect("locked");
    let on: NaiveDate = visit.visited_on;
    let confirms = |last: Option<NaiveDate>, given: bool| given && rules::visit_confirms(last, on);
    let confirmed = Confirmed {
        headcount: confirms(e.headcount_on, visit.headcount.is_some()),
        party_members: confirms(e.party_members_on, visit.party_members.is_some()),
        situation: confirms(e.situation_on, visit.situation.is_some()),
        needs: confirms(e.needs_on, visit.needs.is_some()),
        responsible_officer: confirms(
            e.responsible_officer_on,
            visit.responsible_officer.is_some(),
        ),
    };
    enterprises::insert_census_visit(&mut tx, id, &visit).await?;
    enterprises::apply_census_visit(&mut tx, &visit, &confirmed).await?;
    let e = enterprises::get(&mut tx, visit.enterprise_id)
        .await?
        .expect("locked");
    events::enterprise_changed(&mut tx, &e).await?;
    tx.commit().await?;
    Ok((CensusVisitRow { id, ..visit }, e))
}
