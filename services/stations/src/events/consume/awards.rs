//! The consumers that turn other services' events into points: `stations-points` (governance:
//! submitted, assigned, rejected and confirmed tips, case progress, confirmed volunteer service),
//! `stations-attendance` (education: training attended) and `stations-activities` (education:
//! activity attended). Each decodes the event, checks its ids, and hands it to `app::awards`,
//! where the rules live.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{
    education::v1::ActivityKind,
    events::v1 as ev,
    subjects::governance::{
        CASE_ASSIGNED, CASE_STATUS_CHANGED, TIP_CONFIRMED, TIP_REJECTED, TIP_SUBMITTED,
        VOLUNTEER_SERVICE_CONFIRMED,
    },
};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::app::{
    awards::{self, Rules, SubmittedTip},
    merges::{self, MergedTip},
    take_back,
};

fn id(text: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(text).map_err(HandlerError::permanent)
}

fn ids(texts: &[String]) -> Result<Vec<Uuid>, HandlerError> {
    texts.iter().map(|t| id(t)).collect()
}

fn submitted(event: &Event) -> Result<SubmittedTip, HandlerError> {
    let e: ev::TipSubmitted = event.decode()?;
    Ok(SubmittedTip {
        event: event.id,
        reporter: id(&e.reporter_id)?,
        tip: id(&e.tip_id)?,
        filed_by_staff: e.filed_by_staff,
    })
}

/// A tip merged into a case nobody has taken on yet, naming its reporter: what the set-wise
/// merge path takes (anything else about a case goes event by event).
fn merged_only(event: &Event) -> Result<Option<MergedTip>, HandlerError> {
    if event.subject != CASE_ASSIGNED {
        return Ok(None);
    }
    let e: ev::CaseAssigned = event.decode()?;
    let Ok(reporter) = Uuid::parse_str(&e.reporter_id) else {
        return Ok(None);
    };
    if !e.merged || awards::confirms(e.case_status()) {
        return Ok(None);
    }
    Ok(Some(MergedTip {
        event: event.id,
        tip: id(&e.tip_id)?,
        reporter,
    }))
}

/// Consumer `stations-points`: every governance event that earns or costs points.
pub struct GovernanceAwards {
    pub rules: Rules,
}

impl Handler for GovernanceAwards {
    /// A tip that opens a case of its own changes nothing about its points; only a merged tip,
    /// or one joining a case already taken on, does.
    fn ignores(&self, event: &Event) -> bool {
        event.subject == CASE_ASSIGNED
            && event
                .decode::<ev::CaseAssigned>()
                .is_ok_and(|e| !e.merged && !awards::confirms(e.case_status()))
    }

    /// A tip's award is keyed by its submission event (one ledger entry per source event, and a
    /// tip already awarded is skipped before the daily cap counts it): a redelivery writes
    /// nothing, with no inbox row.
    fn keyed_by_effect(&self, event: &Event) -> bool {
        event.subject == TIP_SUBMITTED
    }

    /// Under load a group is mostly submitted tips and tips merged into a case not yet taken
    /// on: the submissions are awarded set-wise first, then the merges taken back set-wise, then
    /// the group's other events one by one, in their order. A tip's submission precedes its
    /// merge, and its merge every later event about it, in the stream: each tip keeps its order.
    async fn handle_many(
        &self,
        tx: &mut PgConnection,
        events: &[&Event],
    ) -> Result<(), HandlerError> {
        let (mut tips, mut merges, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for event in events {
            if event.subject == TIP_SUBMITTED {
                tips.push(submitted(event)?);
            } else if let Some(merge) = merged_only(event)? {
                merges.push(merge);
            } else {
                rest.push(*event);
            }
        }
        if !tips.is_empty() && !merges.is_empty() {
            // Both parts lock balances: every reporter of the group at once, in id order, so
            // that two replicas' groups cannot take the same workers in opposite orders.
            let reporters: Vec<Uuid> = tips
                .iter()
                .map(|t| t.reporter)
                .chain(merges.iter().map(|m| m.reporter))
                .collect();
            awards::lock_reporters(&mut *tx, &reporters).await?;
        }
        awards::award_tips(&mut *tx, &self.rules, &tips).await?;
        if !merges::tips_merged(&mut *tx, &self.rules, &merges).await? {
            return Err(HandlerError::transient(
                "merged tips the set-wise path does not take",
            ));
        }
        for event in rest {
            self.handle(&mut *tx, event).await?;
        }
        Ok(())
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let rules = &self.rules;
        match event.subject.as_str() {
            TIP_SUBMITTED => {
                let tip = submitted(event)?;
                let span =
                    tracing::info_span!("award", worker_id = %tip.reporter, tip_id = %tip.tip);
                awards::award_tips(tx, rules, &[tip])
                    .instrument(span)
                    .await?;
            }
            CASE_ASSIGNED => {
                let e: ev::CaseAssigned = event.decode()?;
                let span = tracing::info_span!("award", tip_id = %e.tip_id, case_id = %e.case_id);
                // Events from before CaseAssigned named the reporter have none.
                let reporter = Uuid::parse_str(&e.reporter_id).ok();
                awards::tip_assigned(
                    tx,
                    rules,
                    event.id,
                    id(&e.tip_id)?,
                    reporter,
                    e.merged,
                    e.case_status(),
                )
                .instrument(span)
                .await?;
            }
            CASE_STATUS_CHANGED => {
                let e: ev::CaseStatusChanged = event.decode()?;
                if e.previous_status == e.status {
                    return Ok(());
                }
                let span = tracing::info_span!("award", case_id = %e.case_id, status = e.status);
                awards::case_progressed(
                    tx,
                    rules,
                    event.id,
                    &e.case_id,
                    e.status(),
                    &ids(&e.reporter_ids)?,
                    &ids(&e.tip_ids)?,
                )
                .instrument(span)
                .await?;
            }
            TIP_CONFIRMED => {
                let e: ev::TipConfirmed = event.decode()?;
                awards::fix_confirmed(
                    tx,
                    rules,
                    event.id,
                    id(&e.tip_id)?,
                    &e.case_id,
                    id(&e.reporter_id)?,
                    e.filed_by_staff,
                )
                .await?;
            }
            TIP_REJECTED => {
                let e: ev::TipRejected = event.decode()?;
                let span = tracing::info_span!("take back", tip_id = %e.tip_id);
                take_back::tip_rejected(
                    tx,
                    event.id,
                    &take_back::RejectedTip {
                        tip: id(&e.tip_id)?,
                        reporter: Uuid::parse_str(&e.reporter_id).ok(),
                        case: Some(e.case_id.as_str()).filter(|c| !c.is_empty()),
                        reporter_keeps_case: e.reporter_keeps_case,
                    },
                )
                .instrument(span)
                .await?;
            }
            VOLUNTEER_SERVICE_CONFIRMED => {
                let e: ev::VolunteerServiceConfirmed = event.decode()?;
                awards::volunteer_confirmed(
                    tx,
                    rules,
                    event.id,
                    id(&e.worker_id)?,
                    &e.record_id,
                    e.hours,
                    e.occurred_at.as_ref().and_then(kit::time::from_timestamp),
                )
                .await?;
            }
            // Other governance events earn nothing; a recorded (unconfirmed) volunteer service
            // earns nothing yet.
            _ => {}
        }
        Ok(())
    }
}

/// Consumer `stations-attendance`.
pub struct AttendanceAwards {
    pub rules: Rules,
}

impl Handler for AttendanceAwards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::AttendanceRecorded = event.decode()?;
        let worker = id(&e.worker_id)?;
        let span = tracing::info_span!("award", worker_id = %worker, session_id = %e.session_id);
        let at = e.checked_in_at.as_ref().and_then(kit::time::from_timestamp);
        awards::training_attended(tx, &self.rules, event.id, worker, &e.session_id, at)
            .instrument(span)
            .await?;
        Ok(())
    }
}

/// Consumer `stations-activities`: points by the activity's kind.
pub struct ActivityAwards {
    pub rules: Rules,
}

impl Handler for ActivityAwards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::ActivityAttended = event.decode()?;
        let worker = id(&e.worker_id)?;
        let kind = activity_kind_name(e.kind());
        let span = tracing::info_span!("award", worker_id = %worker, activity_id = %e.activity_id);
        let at = e.checked_in_at.as_ref().and_then(kit::time::from_timestamp);
        awards::activity_attended(tx, &self.rules, event.id, worker, &e.activity_id, &kind, at)
            .instrument(span)
            .await?;
        Ok(())
    }
}

/// The settings name of an activity kind: its proto name without the prefix, in lower case
/// (`ACTIVITY_KIND_FREE_CLINIC` → `free_clinic`); an unknown kind is `other`.
fn activity_kind_name(kind: ActivityKind) -> String {
    match kind {
        ActivityKind::Unspecified => "other".to_owned(),
        k => k
            .as_str_name()
            .trim_start_matches("ACTIVITY_KIND_")
            .to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_kinds_are_named_as_the_settings_name_them() {
        assert_eq!(activity_kind_name(ActivityKind::FreeClinic), "free_clinic");
        assert_eq!(
            activity_kind_name(ActivityKind::ThemedLectureSeries),
            "themed_lecture_series"
        );
        assert_eq!(activity_kind_name(ActivityKind::Unspecified), "other");
    }
}
