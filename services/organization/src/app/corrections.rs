//! Corrections and withdrawals of what was recorded — census visits, enterprise issues and
//! forums (care records in `care.rs`) — each in one transaction with its revision (who, why,
//! which fields, the record as it stood) and its event. A census visit changed derives its
//! enterprise's ledger again from the visits that stand; a withdrawn record is kept, marked, and
//! counts no more.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events::publish,
    store::{
        enterprises::{self, CensusVisitRow, EnterpriseRow},
        forums::{self, ForumRow, IssueRow, RESOLVED},
        revisions::{self, CENSUS_VISIT, CORRECTED, ENTERPRISE_ISSUE, FORUM, Revision, WITHDRAWN},
    },
};

/// Why and by whom a record changes, which fields, and its encoding before the change.
pub struct Change<'a> {
    pub by: &'a str,
    pub reason: &'a str,
    pub expected_version: i64,
    /// The fields corrected (empty: a withdrawal).
    pub fields: &'a [String],
    pub before: &'a [u8],
}

/// The change as a revision of `record_id` (its reason and before as given).
pub(crate) fn revision<'a>(
    c: &'a Change<'a>,
    record_id: Uuid,
    version: i64,
    kind: i16,
) -> Revision<'a> {
    Revision {
        record_id,
        version,
        action: if c.fields.is_empty() {
            WITHDRAWN
        } else {
            CORRECTED
        },
        fields: c.fields,
        reason: c.reason,
        reason_sealed: None,
        by: c.by,
        kind,
        before: c.before,
    }
}

/// The visit corrected (`Some`) or withdrawn (`None`), and its enterprise's ledger derived again.
pub async fn change_census_visit(
    pool: &PgPool,
    id: Uuid,
    corrected: Option<CensusVisitRow>,
    c: &Change<'_>,
) -> Result<(CensusVisitRow, EnterpriseRow), ChangeError> {
    let mut tx = pool.begin().await?;
    let enterprise = enterprises::census_visit(&mut tx, id).await?.enterprise_id;
    // The enterprise first, as a new visit takes it: its ledger is what changes.
    change::lock(&mut tx, Aggregate::Enterprise, enterprise, 0).await?;
    change::lock(&mut tx, Aggregate::CensusVisit, id, c.expected_version).await?;
    match corrected {
        Some(visit) => {
            enterprises::correct_census_visit(&mut tx, &CensusVisitRow { id, ..visit }).await?
        }
        None => enterprises::withdraw_census_visit(&mut tx, id, c.reason).await?,
    }
    let visit = enterprises::census_visit(&mut tx, id).await?;
    revisions::insert(&mut tx, &revision(c, id, visit.version, CENSUS_VISIT)).await?;
    enterprises::derive_ledger(&mut tx, enterprise).await?;
    let e = enterprises::get(&mut tx, enterprise)
        .await?
        .expect("locked enterprise");
    publish::enterprise_changed(&mut tx, &e).await?;
    tx.commit().await?;
    Ok((visit, e))
}

/// The issue corrected (`Some`) or withdrawn (`None`). A correction keeps it after its forum and
/// before its resolution, and an enterprise it names must exist.
pub async fn change_enterprise_issue(
    pool: &PgPool,
    id: Uuid,
    corrected: Option<IssueRow>,
    c: &Change<'_>,
) -> Result<IssueRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::EnterpriseIssue, id, c.expected_version).await?;
    let current = forums::issue(&mut tx, id).await?;
    match corrected {
        Some(issue) => {
            // An issue that stands has a forum that stands (a forum is withdrawn only once
            // none of its issues stands), held against a concurrent change of its date.
            let held_on = forums::standing_held_on(&mut tx, current.forum_id)
                .await?
                .flatten()
                .expect("a standing issue's forum stands");
            if issue.raised_on < held_on {
                return Err(ChangeError::invalid(
                    "issue.raised_on",
                    format!("must not be before its forum was held ({held_on})"),
                ));
            }
            if current.status == RESOLVED {
                // A resolved issue keeps what resolving it requires.
                let Some(resolved_on) = issue.resolved_on else {
                    return Err(ChangeError::invalid(
                        "issue.resolved_on",
                        "a resolved issue keeps its date of resolution",
                    ));
                };
                if issue.resolution.trim().is_empty() {
                    return Err(ChangeError::invalid(
                        "issue.resolution",
                        "a resolved issue keeps its resolution",
                    ));
                }
                if resolved_on < issue.raised_on {
                    return Err(ChangeError::invalid(
                        "issue.resolved_on",
                        format!(
                            "must not be before the issue was raised ({})",
                            issue.raised_on
                        ),
                    ));
                }
            } else {
                let given = if issue.resolved_on.is_some() {
                    Some("issue.resolved_on")
                } else {
                    (!issue.resolution.is_empty()).then_some("issue.resolution")
                };
                if let Some(field) = given {
                    return Err(ChangeError::invalid(
                        field,
                        "an open issue has no resolution to correct: resolve it",
                    ));
                }
            }
            // Only an enterprise the correction moves the issue to must be live.
            if let Some(e) = issue.enterprise_id
                && issue.enterprise_id != current.enterprise_id
                && !change::exists(&mut tx, Aggregate::Enterprise, e).await?
            {
                return Err(ChangeError::invalid(
                    "issue.enterprise_id",
                    format!("enterprise {e} does not exist"),
                ));
            }
            forums::correct_issue(&mut tx, &IssueRow { id, ..issue }).await?;
        }
        None => forums::withdraw_issue(&mut tx, id, c.reason).await?,
    }
    let row = forums::issue(&mut tx, id).await?;
    revisions::insert(&mut tx, &revision(c, id, row.version, ENTERPRISE_ISSUE)).await?;
    publish::enterprise_issue_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

/// What a forum's correction writes.
pub struct ForumContent<'a> {
    pub title: &'a str,
    pub held_on: NaiveDate,
    pub enterprise_ids: &'a [Uuid],
}

/// The forum corrected (`Some`) or withdrawn (`None`). Its date stays on or before the day its
/// first issue was raised; it is withdrawn only once none of its issues stands.
pub async fn change_forum(
    pool: &PgPool,
    id: Uuid,
    corrected: Option<ForumContent<'_>>,
    c: &Change<'_>,
) -> Result<ForumRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Forum, id, c.expected_version).await?;
    // Issues raised meanwhile wait for this lock (they hold the forum FOR SHARE).
    let (standing, first_raised) = forums::standing_issues(&mut tx, id).await?;
    match corrected {
        Some(f) => {
            if let Some(first) = first_raised
                && f.held_on > first
            {
                return Err(ChangeError::invalid(
                    "forum.held_on",
                    format!("must not be after the day its first issue was raised ({first})"),
                ));
            }
            // Only enterprises the correction adds must be live.
            let current = forums::forum(&mut tx, id).await?;
            let added: Vec<Uuid> = f
                .enterprise_ids
                .iter()
                .filter(|e| !current.enterprise_ids.contains(e))
                .copied()
                .collect();
            change::require_all(
                &mut tx,
                Aggregate::Enterprise,
                "forum.enterprise_ids",
                &added,
            )
            .await?;
            forums::correct_forum(&mut tx, id, f.title, f.held_on, f.enterprise_ids).await?;
        }
        None => {
            if standing > 0 {
                return Err(ChangeError::Precondition(format!(
                    "forum {id} has {standing} issue(s) that stand: withdraw them first"
                )));
            }
            forums::withdraw_forum(&mut tx, id, c.reason).await?;
        }
    }
    let row = forums::forum(&mut tx, id).await?;
    revisions::insert(&mut tx, &revision(c, id, row.version, FORUM)).await?;
    publish::forum_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
