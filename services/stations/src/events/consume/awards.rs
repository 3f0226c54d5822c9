//! The consumers that turn other services' events into points: `stations-points` (governance:
//! submitted, assigned, rejected and confirmed tips, case progress, confirmed volunteer service)
//! and `stations-attendance` (education: training attended). Each decodes the event, checks its
//! ids, and hands it to `app::awards`, where the rules live.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{
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

    /// Under load a group is all submitted tips: those are awarded set-wise. A group holding
    /// anything else goes event by event.
    async fn handle_many(
        &self,
        tx: &mut PgConnection,
        events: &[&Event],
    ) -> Result<(), HandlerError> {
        if !events.iter().all(|e| e.subject == TIP_SUBMITTED) {
            for event in events {
                self.handle(&mut *tx, event).await?;
            }
            return Ok(());
        }
        let tips = events
            .iter()
            .map(|e| submitted(e))
            .collect::<Result<Vec<_>, _>>()?;
        awards::award_tips(tx, &self.rules, &tips).await?;
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
        awards::training_attended(tx, &self.rules, event.id, worker, &e.session_id)
            .instrument(span)
            .await?;
        Ok(())
    }
}
