//! The case write path staff, platforms and reporters share: updating a case (status, the internal
//! note, the public reply, the platform's reference) with an optional version check, rejecting a
//! tip (a case whose every tip is rejected closes as void), and the reporter's answer to "is it
//! fixed?". Each use case is one transaction that writes the case, its history, its feed change and
//! its events together.

use std::sync::Arc;

use chrono::{Duration, Utc};
use redsupply_proto::governance::v1::{self as pb, CaseResolution, CaseStatus, TipStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::changes::record_case_change;
use crate::{
    domain::{self, RoutingSettings},
    events::publish,
    store::{self, CaseRow, CaseUpdate},
};

/// Why a use case refused or failed; `api` turns it into a status.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0} {1} not found")]
    NotFound(&'static str, Uuid),
    #[error("the case is at version {current}, not {expected}: read it again and decide anew")]
    Stale { expected: i64, current: i64 },
    /// The case or tip is not in a state that allows this.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Forbidden(&'static str),
    /// A field names something that does not exist.
    #[error("{0}: {1}")]
    Invalid(&'static str, &'static str),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// `UpdateCase`, validated: `None` keeps what the case has.
pub struct UpdateCase {
    pub id: Uuid,
    pub status: Option<CaseStatus>,
    pub note: Option<String>,
    pub public_reply: Option<String>,
    pub external_ref: Option<String>,
    pub expected_version: Option<i64>,
    pub actor: String,
}

/// `RerouteCase`, validated: `None` (or an empty department) keeps what the case has.
pub struct RerouteCase {
    pub id: Uuid,
    pub grid: Option<Uuid>,
    pub category: Option<pb::TipCategory>,
    pub department: String,
    pub reason: String,
    pub actor: String,
}

/// `ConfirmResolution`, validated.
pub struct ConfirmResolution {
    pub tip_id: Uuid,
    pub reporter: Uuid,
    pub fixed: bool,
    pub comment: String,
}

#[derive(Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub routing: Arc<RoutingSettings>,
    /// How long after closing staff may reopen a case.
    pub reopen_window: Duration,
}

fn status_of(s: i16) -> CaseStatus {
    CaseStatus::try_from(i32::from(s)).unwrap_or(CaseStatus::Unspecified)
}

fn resolution_of(r: i16) -> CaseResolution {
    CaseResolution::try_from(i32::from(r)).unwrap_or(CaseResolution::Unspecified)
}

fn is_open(s: CaseStatus) -> bool {
    matches!(
        s,
        CaseStatus::Assigned | CaseStatus::Accepted | CaseStatus::InProgress
    )
}

/// The case as it stands in this transaction.
async fn current(tx: &mut PgConnection, case: &CaseRow) -> Result<pb::Case, sqlx::Error> {
    let tips = store::case_tip_ids(tx, case.id).await?;
    Ok(case.to_pb(&tips))
}

impl Cases {
    /// One change of status or notes, the history entry that explains it, the feed change and (for
    /// a new status) the event, in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        tx: &mut PgConnection,
        case: &CaseRow,
        to: CaseStatus,
        resolution: CaseResolution,
        notes: (Option<&str>, Option<&str>, Option<&str>),
        actor: &str,
        reason: &str,
    ) -> Result<pb::Case, sqlx::Error> {
        let from = status_of(case.status);
        let (note, public_reply, external_ref) = notes;
        let category =
            pb::TipCategory::try_from(i32::from(case.category)).unwrap_or(pb::TipCategory::Other);
        // Reopened: a new deadline, and escalation starts over.
        let due_at =
            (!is_open(from) && is_open(to)).then(|| Utc::now() + self.routing.deadline(category));
        let updated = store::update_case(
            tx,
            case.id,
            &CaseUpdate {
                status: to as i16,
                resolution: resolution as i16,
                note,
                public_reply,
                external_ref,
                due_at,
            },
        )
        .await?;
        let snapshot = record_case_change(
            tx,
            case,
            &updated,
            actor,
            reason,
            public_reply.unwrap_or(""),
        )
        .await?;
        // A new note or reference alone is a change on the feed, not a status event (which earns
        // reporters points).
        if from != to {
            // Tips staff filed in a worker's name earn that worker nothing.
            let reporters = store::case_reporters_paid(tx, case.id).await?;
            let tips = store::case_standing_tips(tx, case.id).await?;
            publish::case_status_changed(tx, &updated, case.status, actor, &reporters, &tips)
                .await?;
        }
        Ok(snapshot)
    }

    /// Closes a case none of whose tips is left as void; `why` says which rejection left it so.
    async fn void(
        &self,
        tx: &mut PgConnection,
        case: &CaseRow,
        actor: &str,
        why: &str,
    ) -> Result<pb::Case, sqlx::Error> {
        let reason = format!("void: every tip rejected ({why})");
        self.change(
            tx,
            case,
            CaseStatus::Closed,
            CaseResolution::Void,
            (None, None, None),
            actor,
            &reason,
        )
        .await
    }

    pub async fn update(&self, c: UpdateCase) -> Result<pb::Case, CaseError> {
        let mut tx = self.pool.begin().await?;
        let case = store::lock_case(&mut tx, c.id)
            .await?
            .ok_or(CaseError::NotFound("case", c.id))?;
        let from = status_of(case.status);
        let to = c.status.unwrap_or(from);
        let note = c.note.as_deref().filter(|n| *n != case.note);
        let public_reply = c
            .public_reply
            .as_deref()
            .filter(|r| *r != case.public_reply);
        let external_ref = c
            .external_ref
            .as_deref()
            .filter(|r| *r != case.external_ref);
        if from == to && note.is_none() && public_reply.is_none() && external_ref.is_none() {
            // Nothing would change (a retry of an update that landed): the case as it is.
            let out = current(&mut tx, &case).await?;
            tx.commit().await?;
            return Ok(out);
        }
        if let Some(expected) = c.expected_version
            && expected != case.version
        {
            return Err(CaseError::Stale {
                expected,
                current: case.version,
            });
        }
        if from == CaseStatus::Closed {
            if resolution_of(case.resolution) == CaseResolution::Void && to != CaseStatus::Closed {
                return Err(CaseError::Refused(
                    "a void case has no tip left (every one was rejected): it cannot be reopened; \
                     a new tip opens a new case"
                        .into(),
                ));
            }
            if to == CaseStatus::Closed {
                return Err(CaseError::Refused(
                    "a closed case's notes and reference are frozen; reopen it (status ASSIGNED or \
                     IN_PROGRESS) to change them"
                        .into(),
                ));
            }
            domain::reopen_allowed(case.closed_at, Utc::now(), self.reopen_window).map_err(
                |_| {
                    CaseError::Refused(format!(
                        "the case closed more than {} days ago and can no longer be reopened; \
                         a new tip opens a new case",
                        self.reopen_window.num_days()
                    ))
                },
            )?;
        }
        if from != to && !domain::transition_allowed(from, to) {
            return Err(CaseError::Refused(format!(
                "a case in {} cannot move to {}",
                from.as_str_name(),
                to.as_str_name()
            )));
        }
        let resolution = domain::resolution_after(to, resolution_of(case.resolution));
        let out = self
            .change(
                &mut tx,
                &case,
                to,
                resolution,
                (note, public_reply, external_ref),
                &c.actor,
                note.unwrap_or(""),
            )
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Sends a case to another grid or department; a new category re-dispatches it (department
    /// and deadline from the routing table). The case is ASSIGNED again.
    pub async fn reroute(&self, c: RerouteCase) -> Result<pb::Case, CaseError> {
        let mut tx = self.pool.begin().await?;
        let before = store::lock_case(&mut tx, c.id)
            .await?
            .ok_or(CaseError::NotFound("case", c.id))?;
        if before.status == CaseStatus::Closed as i16 {
            return Err(CaseError::Refused(
                "a closed case cannot be rerouted".into(),
            ));
        }
        if let Some(g) = c.grid
            && !store::grid_known(&mut tx, g).await?
        {
            return Err(CaseError::Invalid("grid_id", "no such grid"));
        }
        let new_grid = c.grid.or(before.grid_id);
        let new_category = c.category.unwrap_or(
            pb::TipCategory::try_from(i32::from(before.category)).unwrap_or(pb::TipCategory::Other),
        );
        let recategorized = new_category as i16 != before.category;
        let new_department = if !c.department.is_empty() {
            c.department.clone()
        } else if recategorized || c.grid.is_some() {
            self.routing.department(new_category, new_grid.is_some())
        } else {
            before.department.clone()
        };
        let due_at = if recategorized {
            Utc::now() + self.routing.deadline(new_category)
        } else {
            before.due_at
        };
        let after = store::reroute_case(
            &mut tx,
            c.id,
            &store::Route {
                grid_id: new_grid,
                department: &new_department,
                category: new_category as i16,
                due_at,
                status: CaseStatus::Assigned as i16,
            },
        )
        .await?;
        let snapshot =
            record_case_change(&mut tx, &before, &after, &c.actor, &c.reason, "").await?;
        publish::case_rerouted(&mut tx, &before, &after, &c.reason, &c.actor).await?;
        tx.commit().await?;
        Ok(snapshot)
    }

    /// Rejects a tip as false or abusive. Its case loses a reporter (a feed change and a history
    /// entry), or, if no other tip is left, closes as void.
    pub async fn reject_tip(
        &self,
        id: Uuid,
        reason: &str,
        actor: &str,
    ) -> Result<pb::Tip, CaseError> {
        let mut tx = self.pool.begin().await?;
        let tip = store::lock_tip(&mut tx, id)
            .await?
            .ok_or(CaseError::NotFound("tip", id))?;
        if tip.status == TipStatus::Rejected as i16 {
            // Already rejected: a retry changes nothing.
            let out = store::tip_view(&mut tx, &tip).await?;
            tx.commit().await?;
            return Ok(out);
        }
        let tip = store::reject_tip(&mut tx, id, reason).await?;
        let mut reporter_keeps_case = false;
        if let Some(case_id) = tip.case_id
            && let Some(case) = store::lock_case(&mut tx, case_id).await?
        {
            let left = store::case_reporters(&mut tx, case_id).await?;
            reporter_keeps_case = store::case_reporters_paid(&mut tx, case_id)
                .await?
                .contains(&tip.reporter_id);
            let from = status_of(case.status);
            if left.is_empty() && from != CaseStatus::Closed {
                self.void(&mut tx, &case, actor, &format!("tip {id}: {reason}"))
                    .await?;
            } else {
                let touched = store::touch_case(&mut tx, case_id).await?;
                let reason = format!("tip {id} rejected: {reason}");
                record_case_change(&mut tx, &case, &touched, actor, &reason, "").await?;
            }
        }
        // What the case paid the reporter stands only if another of their tips is in it.
        publish::tip_rejected(&mut tx, &tip, reason, actor, reporter_keeps_case).await?;
        let out = store::tip_view(&mut tx, &tip).await?;
        tx.commit().await?;
        tracing::info!(tip_id = %id, "tip rejected");
        Ok(out)
    }

    /// Closes as void every case left without an unrejected tip; returns how many. The escalation
    /// sweep calls it, so such a case never reaches its deadline.
    pub async fn void_abandoned(&self) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ids = store::lock_abandoned(&mut tx, 100).await?;
        for id in &ids {
            if let Some(case) = store::lock_case(&mut tx, *id).await? {
                self.void(&mut tx, &case, "system", "found by the sweep")
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// The reporter's answer for a resolved case: fixed closes it (and earns `tip_confirmed`);
    /// not fixed reopens it in the same grid.
    pub async fn confirm(&self, c: ConfirmResolution) -> Result<(pb::Tip, pb::Case), CaseError> {
        let mut tx = self.pool.begin().await?;
        let tip = store::lock_tip(&mut tx, c.tip_id)
            .await?
            .ok_or(CaseError::NotFound("tip", c.tip_id))?;
        if tip.reporter_id != c.reporter {
            return Err(CaseError::Forbidden(
                "only the tip's reporter answers whether its case is fixed",
            ));
        }
        if tip.status == TipStatus::Rejected as i16 {
            return Err(CaseError::Refused("the tip was rejected".into()));
        }
        let case_id = tip
            .case_id
            .ok_or_else(|| CaseError::Refused("the tip has no case yet".into()))?;
        let case = store::lock_case(&mut tx, case_id)
            .await?
            .ok_or(CaseError::NotFound("case", case_id))?;
        let status = status_of(case.status);
        let closed_fixed =
            status == CaseStatus::Closed && resolution_of(case.resolution) == CaseResolution::Fixed;
        let actor = c.reporter.to_string();
        let (tip, out) = if c.fixed {
            if status != CaseStatus::Resolved && !closed_fixed {
                return Err(CaseError::Refused(format!(
                    "the case is {}: only a resolved case can be confirmed fixed",
                    status.as_str_name()
                )));
            }
            // A "fixed" after "not fixed" (or none) is announced; stations pays tip_confirmed once
            // per tip however often it is announced. A retry announces nothing.
            let tip = if tip.confirmed_fixed == Some(true) {
                tip
            } else {
                let tip = store::confirm_tip(&mut tx, tip.id, true).await?;
                publish::tip_confirmed(&mut tx, &tip).await?;
                tip
            };
            let out = if status == CaseStatus::Resolved {
                self.change(
                    &mut tx,
                    &case,
                    CaseStatus::Closed,
                    CaseResolution::Fixed,
                    (None, None, None),
                    &actor,
                    &reporter_says("confirmed it fixed", &c.comment),
                )
                .await?
            } else {
                current(&mut tx, &case).await?
            };
            (tip, out)
        } else if tip.confirmed_fixed == Some(false) && is_open(status) {
            let out = current(&mut tx, &case).await?;
            (tip, out) // said before: a retry
        } else {
            let reopenable = status == CaseStatus::Resolved
                || (closed_fixed
                    && domain::reopen_allowed(case.closed_at, Utc::now(), self.reopen_window)
                        .is_ok());
            if !reopenable {
                return Err(CaseError::Refused(format!(
                    "the case is {}: only a resolved (or recently closed) case can be reported \
                     not fixed",
                    status.as_str_name()
                )));
            }
            let tip = store::confirm_tip(&mut tx, tip.id, false).await?;
            let out = self
                .change(
                    &mut tx,
                    &case,
                    CaseStatus::Assigned,
                    CaseResolution::Unspecified,
                    (None, None, None),
                    &actor,
                    &reporter_says("says it is not fixed", &c.comment),
                )
                .await?;
            (tip, out)
        };
        let view = store::tip_view(&mut tx, &tip).await?;
        tx.commit().await?;
        Ok((view, out))
    }
}

fn reporter_says(what: &str, comment: &str) -> String {
    if comment.is_empty() {
        format!("the reporter {what}")
    } else {
        format!("the reporter {what}: {comment}")
    }
}
