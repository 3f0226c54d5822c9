//! Quarterly forums with enterprises (联席会议, 恳谈会) and the issues raised there, tracked to
//! resolution with dates.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    store::forums::{self, ForumRow, IssueRow, NewIssue, RESOLVED},
};

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
    events::forum_recorded(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn raise(
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
    let Some(held_on) = forums::held_on(&mut tx, n.forum_id).await? else {
        return Err(ChangeError::invalid(
            "forum_id",
            format!("forum {} does not exist", n.forum_id),
        ));
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
    forums::insert_issue(&mut tx, id, &n, raised_on).await?;
    let row = forums::issue(&mut tx, id).await?;
    events::enterprise_issue_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn resolve(
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
    events::enterprise_issue_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
