//! The consumers that turn other services' events into points: `stations-points` (governance:
//! submitted tips, confirmed and resolved cases, rejected tips, volunteer service) and
//! `stations-attendance` (education: training attended). Each decides which event earns what for
//! whom and awards it through `app::awards`.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{
    events::v1 as ev,
    governance::v1::CaseStatus,
    subjects::governance::{
        CASE_ASSIGNED, CASE_STATUS_CHANGED, TIP_CONFIRMED, TIP_REJECTED, TIP_SUBMITTED,
        VOLUNTEER_SERVICE_RECORDED,
    },
};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    app::awards::{
        Award, REASON_CASE_RESOLVED, REASON_TIP_CONFIRMED, REASON_TIP_SUBMITTED,
        REASON_TRAINING_ATTENDED, REASON_VOLUNTEER, Rules, award, award_tips, reverse, tip_ref,
    },
    domain, store,
};

/// Consumer `stations-points`: every governance event that earns or costs points.
pub struct GovernanceAwards {
    pub rules: Rules,
}

impl Handler for GovernanceAwards {
    /// A case assignment (one per tip) earns nothing.
    fn ignores(&self, event: &Event) -> bool {
        event.subject == CASE_ASSIGNED
    }

    /// Under load a group is all submitted tips (case assignments are ignored before they get
    /// here): those are awarded set-wise. A group holding anything else goes event by event.
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
        let mut tips = Vec::with_capacity(events.len());
        for event in events {
            let e: ev::TipSubmitted = event.decode()?;
            let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
            let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
            tips.push((event.id, worker, tip, e.filed_by_staff));
        }
        award_tips(tx, &self.rules, &tips).await?;
        Ok(())
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        match event.subject.as_str() {
            TIP_SUBMITTED => {
                let e: ev::TipSubmitted = event.decode()?;
                let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                let span = tracing::info_span!("award", worker_id = %worker, tip_id = %e.tip_id);
                async {
                    // The reporter's balance row orders this against a rejection of the same tip.
                    store::lock_balance(tx, worker).await?;
                    if e.filed_by_staff {
                        tracing::info!("filed by staff for the reporter; no award");
                        return Ok(());
                    }
                    if store::tip_rejected(tx, tip).await? {
                        tracing::info!("tip already rejected; no award");
                        return Ok(());
                    }
                    award(
                        tx,
                        &self.rules,
                        Award {
                            worker,
                            amount: self.rules.points.tip_submitted,
                            reason: REASON_TIP_SUBMITTED,
                            source_event: event.id,
                            subject_ref: Some(tip_ref(&e.tip_id)),
                        },
                    )
                    .await?;
                    Ok(())
                }
                .instrument(span)
                .await
            }
            CASE_STATUS_CHANGED => {
                let e: ev::CaseStatusChanged = event.decode()?;
                if e.previous_status == e.status {
                    return Ok(());
                }
                let (reason, amount) = match e.status() {
                    CaseStatus::Resolved => (REASON_CASE_RESOLVED, self.rules.points.case_resolved),
                    _ => return Ok(()),
                };
                let span = tracing::info_span!("award", case_id = %e.case_id, reason);
                async {
                    let subject = format!("case:{}", e.case_id);
                    for reporter in &e.reporter_ids {
                        let worker = Uuid::parse_str(reporter).map_err(HandlerError::permanent)?;
                        // Once per case and reason, however often the case is reopened.
                        store::lock_balance(tx, worker).await?;
                        if store::awarded_for(tx, worker, reason, &subject).await? {
                            continue;
                        }
                        award(
                            tx,
                            &self.rules,
                            Award {
                                worker,
                                amount,
                                reason,
                                source_event: event.id,
                                subject_ref: Some(subject.clone()),
                            },
                        )
                        .await?;
                    }
                    Ok(())
                }
                .instrument(span)
                .await
            }
            TIP_CONFIRMED => {
                // The reporter confirmed the fix: once per tip, and reversed with the tip's other
                // points should it be rejected later.
                let e: ev::TipConfirmed = event.decode()?;
                let worker = Uuid::parse_str(&e.reporter_id).map_err(HandlerError::permanent)?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                let subject = tip_ref(&e.tip_id);
                store::lock_balance(tx, worker).await?;
                // Before confirmations existed the same reason was earned per case, on ACCEPTED:
                // a reporter paid that way is not paid again.
                let paid_per_case = format!("case:{}", e.case_id);
                if e.filed_by_staff
                    || store::tip_rejected(tx, tip).await?
                    || store::awarded_for(tx, worker, REASON_TIP_CONFIRMED, &subject).await?
                    || store::awarded_for(tx, worker, REASON_TIP_CONFIRMED, &paid_per_case).await?
                {
                    return Ok(());
                }
                award(
                    tx,
                    &self.rules,
                    Award {
                        worker,
                        amount: self.rules.points.tip_confirmed,
                        reason: REASON_TIP_CONFIRMED,
                        source_event: event.id,
                        subject_ref: Some(subject),
                    },
                )
                .await?;
                Ok(())
            }
            TIP_REJECTED => {
                let e: ev::TipRejected = event.decode()?;
                let tip = Uuid::parse_str(&e.tip_id).map_err(HandlerError::permanent)?;
                if let Ok(reporter) = Uuid::parse_str(&e.reporter_id) {
                    // Ordered against the award of the same tip (see above).
                    store::lock_balance(tx, reporter).await?;
                }
                store::mark_tip_rejected(tx, tip).await?;
                reverse(tx, &tip_ref(&e.tip_id), "tip_rejected", event.id).await?;
                Ok(())
            }
            VOLUNTEER_SERVICE_RECORDED => {
                let e: ev::VolunteerServiceRecorded = event.decode()?;
                let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
                award(
                    tx,
                    &self.rules,
                    Award {
                        worker,
                        amount: domain::volunteer_points(e.hours, self.rules.points.volunteer_hour),
                        reason: REASON_VOLUNTEER,
                        source_event: event.id,
                        subject_ref: Some(format!("volunteer:{}", e.record_id)),
                    },
                )
                .await?;
                Ok(())
            }
            // Other governance events earn nothing.
            _ => Ok(()),
        }
    }
}

/// Consumer `stations-attendance`.
pub struct AttendanceAwards {
    pub rules: Rules,
}

impl Handler for AttendanceAwards {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::AttendanceRecorded = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let span = tracing::info_span!("award", worker_id = %worker, session_id = %e.session_id);
        award(
            tx,
            &self.rules,
            Award {
                worker,
                amount: self.rules.points.training_attended,
                reason: REASON_TRAINING_ATTENDED,
                source_event: event.id,
                subject_ref: Some(format!("session:{}", e.session_id)),
            },
        )
        .instrument(span)
        .await?;
        Ok(())
    }
}
