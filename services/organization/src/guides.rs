//! The people who guide: party-building instructors (党建指导员) and red commissioners (红色专员),
//! each assigned to one enterprise or several, and instructors to party organizations.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    store::guides::{self, GuideFields, GuideRow},
};

pub struct GuideChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
    pub department: &'a str,
    pub enterprise_ids: Vec<Uuid>,
    pub organization_ids: Vec<Uuid>,
}

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: GuideChange<'_>,
) -> Result<GuideRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::require_all(
        &mut tx,
        Aggregate::Enterprise,
        "guide.enterprise_ids",
        &c.enterprise_ids,
    )
    .await?;
    change::require_all(
        &mut tx,
        Aggregate::Organization,
        "guide.organization_ids",
        &c.organization_ids,
    )
    .await?;
    let fields = GuideFields {
        name: c.name,
        kind: c.kind,
        department: c.department,
        enterprise_ids: &c.enterprise_ids,
        organization_ids: &c.organization_ids,
    };
    let id = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Guide, id, c.expected_version).await?;
            guides::update(&mut tx, id, &fields).await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Guide, id).await?
            {
                return Ok(guides::get(&mut tx, existing).await?);
            }
            guides::insert(&mut tx, id, &fields).await?;
            id
        }
    };
    let row = guides::get(&mut tx, id).await?;
    events::guide_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
) -> Result<GuideRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Guide, id, expected_version).await?;
    change::mark_deleted(&mut tx, Aggregate::Guide, id).await?;
    let row = guides::get(&mut tx, id).await?;
    events::guide_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
