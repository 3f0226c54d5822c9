//! `redsupply.organization.v1.QuestionDeskService`: the expert Q&A desk. Per RPC: the caller's
//! reach (`desk_view`), the request checked into typed values, the use case (`app::desk`) or a
//! read of `store`, the rows into protobuf.

use chrono::{DateTime, Utc};
use kit::{
    api::{Violations, internal, not_found, parse_id},
    auth::{Caller, caller},
    time::from_timestamp,
};
use redsupply_proto::{
    organization::v1::{
        self as pb, AnswerRating, QuestionStatus, QuestionTopic,
        question_desk_service_server::QuestionDeskService,
    },
    roles::{COMMUNITY_ADMIN, EXPERT, WORKER},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    change_status,
    desk_view::{Access, access, ensure, expert_to_pb, question_to_pb},
    ensure_for_worker, ensure_known,
    validate::{NAME, NOTE, TEXT, enum_filter, enum_value},
};
use crate::{
    app::desk::{self, Ask, DeskSettings, Enrolment},
    change::Aggregate,
    store::{self, desk::QuestionFilter},
};

/// Most topics an expert answers: every topic there is.
const MAX_TOPICS: usize = 6;

pub struct DeskApi {
    pub(super) pool: PgPool,
    settings: DeskSettings,
}

impl DeskApi {
    pub fn new(pool: PgPool, settings: DeskSettings) -> Self {
        Self { pool, settings }
    }

    /// The question, or NOT_FOUND.
    pub(super) async fn question(&self, id: Uuid) -> Result<store::desk::QuestionRow, Status> {
        let mut conn = self.pool.acquire().await.map_err(fail_loading)?;
        store::desk::question(&mut conn, id)
            .await
            .map_err(fail_loading)?
            .ok_or_else(|| not_found("question", id))
    }

    /// The question with its whole thread, as `access` shows it.
    pub(super) async fn thread(
        &self,
        q: store::desk::QuestionRow,
        access: Access,
    ) -> Result<pb::Question, Status> {
        let mut conn = self.pool.acquire().await.map_err(fail_loading)?;
        let messages = store::desk::messages(&mut conn, &[q.id], false)
            .await
            .map_err(fail_loading)?;
        Ok(question_to_pb(q, access, &messages))
    }

    /// Loads the question `field` names and checks the caller may take this step with it.
    pub(super) async fn reach(
        &self,
        caller: &Caller,
        field: &str,
        value: &str,
        allowed: &[Access],
    ) -> Result<(store::desk::QuestionRow, Access), Status> {
        let id = parse_id(field, value)?;
        let q = self.question(id).await?;
        let a = ensure(caller, &q, allowed)?;
        Ok((q, a))
    }
}

pub(super) fn fail_loading(e: sqlx::Error) -> Status {
    internal("loading the question", e)
}

/// A timestamp of a figures' window, or a violation of `field`.
pub(super) fn moment(
    v: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    let value = value?;
    let t = from_timestamp(value).filter(|t| (2000..=2100).contains(&chrono::Datelike::year(t)));
    v.check(
        t.is_some(),
        field,
        "must be a time between the years 2000 and 2100",
    );
    t
}

#[tonic::async_trait]
impl QuestionDeskService for DeskApi {
    #[tracing::instrument(name = "EnrolExpert", skip_all)]
    async fn enrol_expert(
        &self,
        request: Request<pb::EnrolExpertRequest>,
    ) -> Result<Response<pb::EnrolExpertResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let guide = v.optional_id("guide_id", &r.guide_id);
        let lecturer = v.optional_id("lecturer_id", &r.lecturer_id);
        match (r.guide_id.is_empty(), r.lecturer_id.is_empty()) {
            (true, true) => {
                v.add("guide_id", "one of guide_id or lecturer_id is required");
            }
            (false, false) => {
                v.add("lecturer_id", "give guide_id or lecturer_id, not both");
            }
            _ => {}
        }
        let name = v.line("name", &r.name, NAME, !r.lecturer_id.is_empty());
        let department = v.line("department", &r.department, NAME, false);
        let mut topics = Vec::new();
        if r.topics.is_empty() {
            v.add("topics", "at least one topic is required");
        } else if v.count("topics", &r.topics, MAX_TOPICS) {
            for (i, t) in r.topics.iter().enumerate() {
                if let Some(topic) =
                    enum_value::<QuestionTopic>(&mut v, &format!("topics[{i}]"), *t)
                {
                    topics.push(topic);
                }
            }
        }
        v.into_result()?;
        topics.sort_unstable();
        topics.dedup();
        let row = desk::enrol_expert(
            &self.pool,
            &caller.subject,
            Enrolment {
                request_id: &r.request_id,
                guide_id: guide,
                lecturer_id: lecturer,
                name,
                department,
                topics,
            },
        )
        .await
        .map_err(change_status("enrolling the expert"))?;
        Ok(Response::new(pb::EnrolExpertResponse {
            expert: Some(expert_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "SetExpertAvailability", skip_all)]
    async fn set_expert_availability(
        &self,
        request: Request<pb::SetExpertAvailabilityRequest>,
    ) -> Result<Response<pb::SetExpertAvailabilityResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("expert_id", &r.expert_id)?;
        let row = desk::set_expert_availability(&self.pool, id, r.available)
            .await
            .map_err(change_status("updating the expert"))?;
        Ok(Response::new(pb::SetExpertAvailabilityResponse {
            expert: Some(expert_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListExperts", skip_all)]
    async fn list_experts(
        &self,
        request: Request<pb::ListExpertsRequest>,
    ) -> Result<Response<pb::ListExpertsResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let topic = enum_filter::<QuestionTopic>(&mut v, "topic", r.topic);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let rows = store::desk::list_experts(&self.pool, topic, r.available_only, after, size)
            .await
            .map_err(|e| internal("listing experts", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        Ok(Response::new(pb::ListExpertsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            experts: rows.into_iter().map(expert_to_pb).collect(),
        }))
    }

    #[tracing::instrument(name = "AskQuestion", skip_all)]
    async fn ask_question(
        &self,
        request: Request<pb::AskQuestionRequest>,
    ) -> Result<Response<pb::AskQuestionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let asker = v.id("asker_id", &r.asker_id);
        let topic = enum_value::<QuestionTopic>(&mut v, "topic", r.topic);
        let text = v.text("text", &r.text, TEXT, true);
        v.into_result()?;
        let asker = asker.expect("validated");
        ensure_for_worker(&self.pool, &caller, asker).await?;
        let row = desk::ask(
            &self.pool,
            &caller.subject,
            &self.settings,
            Ask {
                request_id: &r.request_id,
                asker,
                topic: topic.expect("validated"),
                text,
                anonymous: r.anonymous,
            },
            Utc::now(),
        )
        .await
        .map_err(change_status("asking the question"))?;
        let seen_as = access(&caller, &row).unwrap_or(Access::Asker);
        Ok(Response::new(pb::AskQuestionResponse {
            question: Some(self.thread(row, seen_as).await?),
        }))
    }

    #[tracing::instrument(name = "GetQuestion", skip_all)]
    async fn get_question(
        &self,
        request: Request<pb::GetQuestionRequest>,
    ) -> Result<Response<pb::GetQuestionResponse>, Status> {
        let caller = caller(&request)?;
        let any = [
            Access::County,
            Access::Community,
            Access::Expert,
            Access::Asker,
        ];
        let (q, a) = self
            .reach(&caller, "id", &request.get_ref().id, &any)
            .await?;
        Ok(Response::new(pb::GetQuestionResponse {
            question: Some(self.thread(q, a).await?),
        }))
    }

    #[tracing::instrument(name = "ListQuestions", skip_all)]
    async fn list_questions(
        &self,
        request: Request<pb::ListQuestionsRequest>,
    ) -> Result<Response<pb::ListQuestionsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let status = enum_filter::<QuestionStatus>(&mut v, "status", r.status);
        let topic = enum_filter::<QuestionTopic>(&mut v, "topic", r.topic);
        let expert = v.optional_id("expert_id", &r.expert_id);
        let asker = v.optional_id("asker_id", &r.asker_id);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let mut filter = QuestionFilter {
            status,
            topic,
            expert,
            asker,
            communities: None,
        };
        // The broadest part the caller holds decides what the list may show.
        let seen_as = if caller.is_county() {
            Access::County
        } else if caller.has_role(COMMUNITY_ADMIN) {
            filter.communities = Some(caller.scope.communities.clone());
            Access::Community
        } else {
            // An expert may not narrow by asker: that would tell who asked an anonymous question.
            if caller.has_role(EXPERT) && filter.asker.is_some() {
                return Err(Status::permission_denied(
                    "asker_id: an expert lists the questions routed to them, not by who asked",
                ));
            }
            let (field, role, own, seen_as) = if caller.has_role(EXPERT) {
                ("expert_id", EXPERT, &mut filter.expert, Access::Expert)
            } else {
                ("asker_id", WORKER, &mut filter.asker, Access::Asker)
            };
            let me = Uuid::parse_str(&caller.subject).ok();
            if own.is_some() && *own != me {
                return Err(Status::permission_denied(format!(
                    "{field}: a {role} lists only their own questions"
                )));
            }
            // A subject that is no id reaches no question.
            *own = Some(me.unwrap_or_default());
            seen_as
        };
        ensure_known(&self.pool, Aggregate::Expert, filter.expert).await?;
        ensure_known(&self.pool, Aggregate::Worker, filter.asker).await?;
        let rows = store::desk::list_questions(&self.pool, &filter, after, size)
            .await
            .map_err(|e| internal("listing questions", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|q| q.id).collect();
        let mut conn = self.pool.acquire().await.map_err(fail_loading)?;
        let firsts = store::desk::messages(&mut conn, &ids, true)
            .await
            .map_err(fail_loading)?;
        Ok(Response::new(pb::ListQuestionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            questions: rows
                .into_iter()
                .map(|q| question_to_pb(q, seen_as, &firsts))
                .collect(),
        }))
    }

    #[tracing::instrument(name = "AnswerQuestion", skip_all)]
    async fn answer_question(
        &self,
        request: Request<pb::AnswerQuestionRequest>,
    ) -> Result<Response<pb::AnswerQuestionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let text = v.text("text", &r.text, TEXT, true);
        v.into_result()?;
        // A retry of an answer given answers it, even once the question went to someone else.
        let allowed = [Access::County, Access::Expert];
        if let Some(q) = self
            .answered_before(&caller, &r.question_id, &r.request_id, &allowed)
            .await?
        {
            return Ok(Response::new(pb::AnswerQuestionResponse {
                question: Some(q),
            }));
        }
        let (q, a) = self
            .reach(&caller, "question_id", &r.question_id, &allowed)
            .await?;
        // An expert who holds county rights too answers as the expert of their own questions.
        let as_expert = match a {
            Access::Expert => q.expert_id,
            _ if caller.has_role(EXPERT)
                && q.expert_id.is_some_and(|e| e.to_string() == caller.subject) =>
            {
                q.expert_id
            }
            _ => None,
        };
        let row = desk::answer(
            &self.pool,
            &caller.subject,
            as_expert,
            q.id,
            &r.request_id,
            text,
            Utc::now(),
        )
        .await
        .map_err(change_status("answering the question"))?;
        Ok(Response::new(pb::AnswerQuestionResponse {
            question: Some(self.thread(row, a).await?),
        }))
    }

    #[tracing::instrument(name = "FollowUpQuestion", skip_all)]
    async fn follow_up_question(
        &self,
        request: Request<pb::FollowUpQuestionRequest>,
    ) -> Result<Response<pb::FollowUpQuestionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let text = v.text("text", &r.text, TEXT, true);
        v.into_result()?;
        let (q, a) = self
            .reach(&caller, "question_id", &r.question_id, &[Access::Asker])
            .await?;
        let row = desk::follow_up(
            &self.pool,
            &caller.subject,
            &self.settings,
            q.id,
            &r.request_id,
            text,
            Utc::now(),
        )
        .await
        .map_err(change_status("following the question up"))?;
        Ok(Response::new(pb::FollowUpQuestionResponse {
            question: Some(self.thread(row, a).await?),
        }))
    }

    #[tracing::instrument(name = "RateAnswer", skip_all)]
    async fn rate_answer(
        &self,
        request: Request<pb::RateAnswerRequest>,
    ) -> Result<Response<pb::RateAnswerResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let rating = enum_value::<AnswerRating>(&mut v, "rating", r.rating);
        v.into_result()?;
        let (q, a) = self
            .reach(&caller, "question_id", &r.question_id, &[Access::Asker])
            .await?;
        let row = desk::rate(&self.pool, q.id, rating.expect("validated"))
            .await
            .map_err(change_status("rating the answer"))?;
        Ok(Response::new(pb::RateAnswerResponse {
            question: Some(self.thread(row, a).await?),
        }))
    }

    #[tracing::instrument(name = "ReassignQuestion", skip_all)]
    async fn reassign_question(
        &self,
        request: Request<pb::ReassignQuestionRequest>,
    ) -> Result<Response<pb::ReassignQuestionResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let question = v.id("question_id", &r.question_id);
        let expert = v.id("expert_id", &r.expert_id);
        let reason = v.text("reason", &r.reason, NOTE, true);
        v.check(
            r.expected_version >= 0,
            "expected_version",
            "must not be negative",
        );
        v.into_result()?;
        let row = desk::reassign(
            &self.pool,
            &self.settings,
            question.expect("validated"),
            expert.expect("validated"),
            reason,
            r.expected_version,
            Utc::now(),
        )
        .await
        .map_err(change_status("reassigning the question"))?;
        Ok(Response::new(pb::ReassignQuestionResponse {
            question: Some(self.thread(row, Access::County).await?),
        }))
    }

    #[tracing::instrument(name = "PublishFaqEntry", skip_all)]
    async fn publish_faq_entry(
        &self,
        request: Request<pb::PublishFaqEntryRequest>,
    ) -> Result<Response<pb::PublishFaqEntryResponse>, Status> {
        self.publish_faq_entry_rpc(request).await
    }

    #[tracing::instrument(name = "WithdrawFaqEntry", skip_all)]
    async fn withdraw_faq_entry(
        &self,
        request: Request<pb::WithdrawFaqEntryRequest>,
    ) -> Result<Response<pb::WithdrawFaqEntryResponse>, Status> {
        self.withdraw_faq_entry_rpc(request).await
    }

    #[tracing::instrument(name = "SearchFaq", skip_all)]
    async fn search_faq(
        &self,
        request: Request<pb::SearchFaqRequest>,
    ) -> Result<Response<pb::SearchFaqResponse>, Status> {
        self.search_faq_rpc(request).await
    }

    #[tracing::instrument(name = "GetDeskStats", skip_all)]
    async fn get_desk_stats(
        &self,
        request: Request<pb::GetDeskStatsRequest>,
    ) -> Result<Response<pb::GetDeskStatsResponse>, Status> {
        self.get_desk_stats_rpc(request).await
    }
}
