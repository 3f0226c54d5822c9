//! The Q&A desk's events: an expert enrolled or made (un)available, every change of a question on
//! the subject of that change, an FAQ entry published or withdrawn.

use kit::{
    bus::{NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::{
    events::v1 as ev,
    subjects::organization::{
        EXPERT_CHANGED, FAQ_CHANGED, QUESTION_ANSWERED, QUESTION_ASKED, QUESTION_ESCALATED,
        QUESTION_FOLLOWED_UP, QUESTION_RATED, QUESTION_REASSIGNED, SOURCE,
    },
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::opt_id;
use crate::store::{desk::ExpertRow, desk::QuestionRow, faq::FaqRow};

pub async fn expert_changed(tx: &mut PgConnection, e: &ExpertRow) -> Result<(), sqlx::Error> {
    let msg = ev::ExpertChanged {
        expert_id: e.id.to_string(),
        name: e.name.clone(),
        topics: e.topics.iter().map(|t| i32::from(*t)).collect(),
        guide_id: opt_id(e.guide_id),
        lecturer_id: opt_id(e.lecturer_id),
        available: e.available,
        version: e.version,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, EXPERT_CHANGED, e.id, &msg)).await?;
    Ok(())
}

/// What happened to a question: the subject its event travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionChange {
    Asked,
    /// `first`: the question's first answer.
    Answered {
        first: bool,
    },
    FollowedUp,
    Rated,
    Reassigned,
    Escalated,
}

impl QuestionChange {
    fn subject(self) -> &'static str {
        match self {
            QuestionChange::Asked => QUESTION_ASKED,
            QuestionChange::Answered { .. } => QUESTION_ANSWERED,
            QuestionChange::FollowedUp => QUESTION_FOLLOWED_UP,
            QuestionChange::Rated => QUESTION_RATED,
            QuestionChange::Reassigned => QUESTION_REASSIGNED,
            QuestionChange::Escalated => QUESTION_ESCALATED,
        }
    }
}

/// `q` as it stands after `change`, which added `message` (if any) for `reason` (if any).
pub async fn question_changed(
    tx: &mut PgConnection,
    change: QuestionChange,
    q: &QuestionRow,
    message: Option<Uuid>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let first_answer = change == QuestionChange::Answered { first: true };
    let msg = ev::QuestionChanged {
        question_id: q.id.to_string(),
        asker_id: q.asker_id.to_string(),
        community_id: opt_id(q.community_id),
        topic: i32::from(q.topic),
        status: i32::from(q.status),
        anonymous: q.anonymous,
        expert_id: opt_id(q.expert_id),
        message_id: opt_id(message),
        rating: i32::from(q.rating),
        due_at: Some(to_timestamp(q.due_at)),
        first_answer_within_deadline: first_answer
            && q.first_answered_at.is_some_and(|a| a <= q.first_due_at),
        reason: reason.to_owned(),
        version: q.version,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, change.subject(), q.id, &msg)).await?;
    Ok(())
}

pub async fn faq_changed(tx: &mut PgConnection, f: &FaqRow) -> Result<(), sqlx::Error> {
    let msg = ev::FaqEntryChanged {
        entry_id: f.id.to_string(),
        topic: i32::from(f.topic),
        withdrawn: f.withdrawn_at.is_some(),
        version: f.version,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, FAQ_CHANGED, f.id, &msg)).await?;
    Ok(())
}
