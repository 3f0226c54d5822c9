//! How a question looks to its caller, and who may do what with it: the asker reaches their own
//! questions, an expert those routed to them, community staff those of their communities' workers,
//! county staff all. Who asked an anonymous question is shown to staff (and the asker) only.

use kit::{auth::Caller, time::to_timestamp};
use redsupply_proto::{
    organization::v1 as pb,
    roles::{COMMUNITY_ADMIN, EXPERT, WORKER},
};
use tonic::Status;

use super::desk::{DeskApi, fail_loading};
use crate::store::{
    self,
    desk::{ExpertRow, MessageRow, QuestionRow},
    faq::FaqRow,
};

impl DeskApi {
    /// The answer to a retry: the question `question_id` names when the caller's `request_id`
    /// added a message to it already (INVALID_ARGUMENT when that message is another question's).
    /// A caller who still reaches the question sees it as they may; one it was taken from sees
    /// the thread only up to their own message, as its expert then.
    pub(super) async fn answered_before(
        &self,
        caller: &Caller,
        question_id: &str,
        request_id: &str,
        allowed: &[Access],
    ) -> Result<Option<pb::Question>, Status> {
        let id = kit::api::parse_id("question_id", question_id)?;
        let mut conn = self.pool.acquire().await.map_err(fail_loading)?;
        let Some((question, message)) =
            store::desk::question_of_request(&mut conn, &caller.subject, request_id)
                .await
                .map_err(fail_loading)?
        else {
            return Ok(None);
        };
        if question != id {
            return Err(kit::api::invalid(
                "request_id",
                "was already used for a message of another question",
            ));
        }
        let q = store::desk::question(&mut conn, id)
            .await
            .map_err(fail_loading)?
            .ok_or_else(|| kit::api::not_found("question", id))?;
        let mut messages = store::desk::messages(&mut conn, &[q.id], false)
            .await
            .map_err(fail_loading)?;
        let a = match ensure(caller, &q, allowed) {
            Ok(a) => a,
            Err(_) => {
                messages.retain(|m| m.id <= message);
                Access::Expert
            }
        };
        Ok(Some(question_to_pb(q, a, &messages)))
    }
}

/// Through which part a caller reaches a question, broadest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Access {
    County,
    Community,
    Expert,
    Asker,
}

/// The broadest way `caller` reaches `q`, or `None`.
pub(super) fn access(caller: &Caller, q: &QuestionRow) -> Option<Access> {
    if caller.is_county() {
        return Some(Access::County);
    }
    let community = caller.has_role(COMMUNITY_ADMIN)
        && q.community_id
            .is_some_and(|c| caller.scope.communities.contains(&c));
    if community {
        return Some(Access::Community);
    }
    let subject = caller.subject.as_str();
    if caller.has_role(EXPERT) && q.expert_id.is_some_and(|e| e.to_string() == subject) {
        return Some(Access::Expert);
    }
    if caller.has_role(WORKER) && q.asker_id.to_string() == subject {
        return Some(Access::Asker);
    }
    None
}

/// PERMISSION_DENIED unless the caller reaches the question through one of `allowed`.
pub(super) fn ensure(
    caller: &Caller,
    q: &QuestionRow,
    allowed: &[Access],
) -> Result<Access, Status> {
    match access(caller, q) {
        Some(a) if allowed.contains(&a) => Ok(a),
        // A caller who reaches it otherwise is refused this step; one who does not reach it at
        // all learns nothing more.
        Some(_) => Err(Status::permission_denied(
            "this step of the question is not yours to take",
        )),
        None => Err(Status::permission_denied(format!(
            "question {}: outside this token's scope",
            q.id
        ))),
    }
}

pub(super) fn expert_to_pb(e: ExpertRow) -> pb::Expert {
    pb::Expert {
        id: e.id.to_string(),
        name: e.name,
        department: e.department,
        topics: e.topics.into_iter().map(i32::from).collect(),
        guide_id: e.guide_id.map(|g| g.to_string()).unwrap_or_default(),
        lecturer_id: e.lecturer_id.map(|l| l.to_string()).unwrap_or_default(),
        available: e.available,
        waiting_questions: i32::try_from(e.waiting).unwrap_or(i32::MAX),
        version: e.version,
    }
}

fn message_to_pb(m: MessageRow) -> pb::QuestionMessage {
    pb::QuestionMessage {
        id: m.id.to_string(),
        kind: i32::from(m.kind),
        text: m.text,
        expert_id: m.expert_id.map(|e| e.to_string()).unwrap_or_default(),
        by_county: m.by_county,
        created_at: Some(to_timestamp(m.created_at)),
    }
}

/// The question as `access` shows it, with `messages` (those of other questions are skipped).
pub(super) fn question_to_pb(
    q: QuestionRow,
    access: Access,
    messages: &[MessageRow],
) -> pb::Question {
    let shows_asker = !q.anonymous || access != Access::Expert;
    pb::Question {
        id: q.id.to_string(),
        topic: i32::from(q.topic),
        status: i32::from(q.status),
        asker_id: if shows_asker {
            q.asker_id.to_string()
        } else {
            String::new()
        },
        anonymous: q.anonymous,
        expert_id: q.expert_id.map(|e| e.to_string()).unwrap_or_default(),
        expert_name: q.expert_name.unwrap_or_default(),
        asked_at: Some(to_timestamp(q.asked_at)),
        due_at: Some(to_timestamp(q.due_at)),
        first_answered_at: q.first_answered_at.map(to_timestamp),
        escalated_at: q.escalated_at.map(to_timestamp),
        rating: i32::from(q.rating),
        messages: messages
            .iter()
            .filter(|m| m.question_id == q.id)
            .cloned()
            .map(message_to_pb)
            .collect(),
        faq_entry_id: q.faq_entry_id.map(|f| f.to_string()).unwrap_or_default(),
        version: q.version,
    }
}

pub(super) fn faq_to_pb(f: FaqRow) -> pb::FaqEntry {
    pb::FaqEntry {
        id: f.id.to_string(),
        topic: i32::from(f.topic),
        question: f.question,
        answer: f.answer,
        published_at: Some(to_timestamp(f.published_at)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use kit::auth::Scope;
    use redsupply_proto::roles::COUNTY_ADMIN;
    use uuid::Uuid;

    use super::*;

    fn question(asker: Uuid, expert: Option<Uuid>, community: Option<Uuid>) -> QuestionRow {
        QuestionRow {
            id: Uuid::now_v7(),
            asker_id: asker,
            community_id: community,
            topic: 2,
            anonymous: true,
            status: 1,
            expert_id: expert,
            expert_name: None,
            asked_at: Utc::now(),
            due_at: Utc::now(),
            first_due_at: Utc::now(),
            first_answered_at: None,
            escalated_at: None,
            rating: 0,
            faq_entry_id: None,
            version: 1,
        }
    }

    fn caller(subject: Uuid, roles: &[&str], communities: &[Uuid]) -> Caller {
        Caller {
            subject: subject.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scope: Scope {
                communities: communities.to_vec(),
                ..Scope::default()
            },
            expires_at: 0,
        }
    }

    #[test]
    fn each_caller_reaches_a_question_through_one_part_or_not_at_all() {
        let (asker, expert, community) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let q = question(asker, Some(expert), Some(community));
        let someone = Uuid::now_v7();
        assert_eq!(
            access(&caller(asker, &[WORKER], &[]), &q),
            Some(Access::Asker)
        );
        assert_eq!(access(&caller(someone, &[WORKER], &[]), &q), None);
        assert_eq!(
            access(&caller(expert, &[EXPERT], &[]), &q),
            Some(Access::Expert)
        );
        assert_eq!(access(&caller(someone, &[EXPERT], &[]), &q), None);
        let staff = caller(someone, &[COMMUNITY_ADMIN], &[community]);
        assert_eq!(access(&staff, &q), Some(Access::Community));
        let elsewhere = caller(someone, &[COMMUNITY_ADMIN], &[Uuid::now_v7()]);
        assert_eq!(access(&elsewhere, &q), None);
        assert_eq!(
            access(&caller(someone, &[COUNTY_ADMIN], &[]), &q),
            Some(Access::County)
        );
        // A question of a worker of no community is the county's alone.
        let q = question(asker, None, None);
        assert_eq!(access(&staff, &q), None);
    }

    #[test]
    fn an_anonymous_askers_id_is_hidden_from_the_expert_only() {
        let asker = Uuid::now_v7();
        let q = question(asker, Some(Uuid::now_v7()), None);
        assert!(
            question_to_pb(q.clone(), Access::Expert, &[])
                .asker_id
                .is_empty()
        );
        for seen_by in [Access::Asker, Access::Community, Access::County] {
            assert_eq!(
                question_to_pb(q.clone(), seen_by, &[]).asker_id,
                asker.to_string()
            );
        }
        let named = QuestionRow {
            anonymous: false,
            ..q
        };
        assert_eq!(
            question_to_pb(named, Access::Expert, &[]).asker_id,
            asker.to_string()
        );
    }

    #[test]
    fn a_step_refused_names_no_more_than_the_caller_may_know() {
        let q = question(Uuid::now_v7(), None, None);
        let asker = caller(q.asker_id, &[WORKER], &[]);
        assert!(ensure(&asker, &q, &[Access::Asker]).is_ok());
        let refused = ensure(&asker, &q, &[Access::County]).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    }
}
