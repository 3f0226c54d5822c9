//! The enterprises' use cases (`EnterpriseService`), each one transaction holding the change and
//! its event: enterprises and outlets, with the five-clears ledger (五个清台账) each census visit
//! confirms figure by figure; quarterly forums with enterprises (联席会议, 恳谈会) and the issues
//! raised there, tracked to resolution with dates.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    domain,
    events::publish,
    store::{
        enterprises::{self, CensusVisitRow, Confirmed, EnterpriseFields, EnterpriseRow},
        forums::{self, ForumRow, IssueRow, NewIssue, RESOLVED},
    },
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

pub async fn upsert_enterprise(
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
    publish::enterprise_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_enterprise(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<EnterpriseRow, ChangeError> {
    super::soft_delete(
        pool,
        Aggregate::Enterprise,
        id,
        expected_version,
        super::always,
        async |tx| Ok(enterprises::get(tx, id).await?.expect("enterprise exists")),
        async |tx, row| publish::enterprise_changed(tx, row).await,
    )
    .await
}

/// Undoes an enterprise's deletion.
pub async fn restore_enterprise(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<EnterpriseRow, ChangeError> {
    super::restore(
        pool,
        Aggregate::Enterprise,
        id,
        expected_version,
        super::always,
        async |tx| Ok(enterprises::get(tx, id).await?.expect("enterprise exists")),
        async |tx, row| publish::enterprise_changed(tx, row).await,
    )
    .await
}

/// Records the visit and updates each figure it confirmed, unless a later visit already did.
pub async fn record_census_visit(
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
    let confirms =
        |last: Option<NaiveDate>, given: bool| given && domain::calendar::visit_confirms(last, on);
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
    publish::enterprise_changed(&mut tx, &e).await?;
    let visit = enterprises::census_visit(&mut tx, id).await?;
    tx.commit().await?;
    Ok((visit, e))
}

pub async fn record_forum(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    title: &str,
    held_on: NaiveDate,
    enterprise_ids: &[Uuid],
) -> Result<ForumRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::Forum, id).await?
    {
        return Ok(forums::forum(&mut tx, existing).await?);
    }
    change::require_all(
        &mut tx,
        Aggregate::Enterprise,
        "forum.enterprise_ids",
        enterprise_ids,
    )
    .await?;
    forums::insert_forum(&mut tx, id, title, held_on, enterprise_ids).await?;
    let row = forums::forum(&mut tx, id).await?;
    publish::forum_recorded(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn raise_enterprise_issue(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    n: NewIssue<'_>,
) -> Result<IssueRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, request_id, Aggregate::EnterpriseIssue, id).await?
    {
        return Ok(forums::issue(&mut tx, existing).await?);
    }
    let held_on = match forums::standing_held_on(&mut tx, n.forum_id).await? {
        Some(Some(on)) => on,
        Some(None) => {
            return Err(ChangeError::Deleted {
                what: Aggregate::Forum,
                id: n.forum_id,
            });
        }
        None => {
            return Err(ChangeError::invalid(
                "forum_id",
                format!("forum {} does not exist", n.forum_id),
            ));
        }
    };
    if let Some(e) = n.enterprise_id
        && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
    {
        return Err(ChangeError::invalid(
            "enterprise_id",
            format!("enterprise {e} does not exist"),
        ));
    }
    let raised_on = n.raised_on.unwrap_or(held_on);
    if raised_on < held_on {
        return Err(ChangeError::invalid(
            "raised_on",
            format!("must not be before its forum was held ({held_on})"),
        ));
    }
    forums::insert_issue(&mut tx, id, &n, raised_on).await?;
    let row = forums::issue(&mut tx, id).await?;
    publish::enterprise_issue_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn resolve_enterprise_issue(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    resolution: &str,
    resolved_on: NaiveDate,
) -> Result<IssueRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::EnterpriseIssue, id, expected_version).await?;
    let current = forums::issue(&mut tx, id).await?;
    if current.status == RESOLVED {
        return Err(ChangeError::Precondition(format!(
            "enterprise issue {id} was already resolved"
        )));
    }
    if resolved_on < current.raised_on {
        return Err(ChangeError::invalid(
            "resolved_on",
            format!(
                "must not be before the issue was raised ({})",
                current.raised_on
            ),
        ));
    }
    forums::resolve_issue(&mut tx, id, resolution, resolved_on).await?;
    let row = forums::issue(&mut tx, id).await?;
    publish::enterprise_issue_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
