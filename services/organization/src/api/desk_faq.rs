//! The FAQ and the figures of `QuestionDeskService` (the trait impl in `desk.rs` calls here):
//! staff publish an answered question and withdraw an entry, anyone searches, staff read the
//! desk's figures over their communities.

use chrono::Utc;
use kit::{
    api::{Violations, contains_pattern, internal, not_found},
    auth::caller,
};
use redsupply_proto::organization::v1::{self as pb, QuestionTopic};
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Most words a FAQ search combines.
const MAX_WORDS: usize = 8;

use super::{
    change_status,
    desk::{DeskApi, fail_loading, moment},
    desk_view::{Access, faq_to_pb},
    validate::{NOTE, TEXT, TITLE, enum_filter},
};
use crate::{
    app::faq::{self, Publication},
    domain::desk as rules,
    store,
};

impl DeskApi {
    pub(super) async fn publish_faq_entry_rpc(
        &self,
        request: Request<pb::PublishFaqEntryRequest>,
    ) -> Result<Response<pb::PublishFaqEntryResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        // The public text is always staff's own: the asker's words tend to name them.
        let question_text = v.text("question", &r.question, TEXT, true);
        let answer_text = v.text("answer", &r.answer, TEXT, false);
        v.into_result()?;
        let staff = [Access::County, Access::Community];
        let (q, _) = self
            .reach(&caller, "question_id", &r.question_id, &staff)
            .await?;
        let row = faq::publish_faq(
            &self.pool,
            &caller.subject,
            Publication {
                request_id: &r.request_id,
                question: q.id,
                question_text,
                answer_text,
            },
        )
        .await
        .map_err(change_status("publishing the FAQ entry"))?;
        Ok(Response::new(pb::PublishFaqEntryResponse {
            entry: Some(faq_to_pb(row)),
        }))
    }

    pub(super) async fn withdraw_faq_entry_rpc(
        &self,
        request: Request<pb::WithdrawFaqEntryRequest>,
    ) -> Result<Response<pb::WithdrawFaqEntryResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("entry_id", &r.entry_id);
        let reason = v.text("reason", &r.reason, NOTE, true);
        v.into_result()?;
        let id = id.expect("validated");
        let mut conn = self.pool.acquire().await.map_err(fail_loading)?;
        let entry = store::faq::get(&mut conn, id)
            .await
            .map_err(|e| internal("loading the FAQ entry", e))?
            .ok_or_else(|| not_found("FAQ entry", id))?;
        drop(conn);
        caller.ensure_community(entry.community_id)?;
        let row = faq::withdraw_faq(&self.pool, id, reason)
            .await
            .map_err(change_status("withdrawing the FAQ entry"))?;
        Ok(Response::new(pb::WithdrawFaqEntryResponse {
            entry: Some(faq_to_pb(row)),
        }))
    }

    pub(super) async fn search_faq_rpc(
        &self,
        request: Request<pb::SearchFaqRequest>,
    ) -> Result<Response<pb::SearchFaqResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let query = v.line("query", &r.query, TITLE, false);
        let topic = enum_filter::<QuestionTopic>(&mut v, "topic", r.topic);
        let (size, after) = v.page(r.page_size, &r.page_token);
        // Every word must appear, in the question or the answer, in any order.
        let words: Vec<String> = query.split_whitespace().map(contains_pattern).collect();
        v.check(
            words.len() <= MAX_WORDS,
            "query",
            format!("at most {MAX_WORDS} words"),
        );
        v.into_result()?;
        let rows = store::faq::search(&self.pool, &words, topic, after, size)
            .await
            .map_err(|e| internal("searching the FAQ", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|f| f.id).collect();
        Ok(Response::new(pb::SearchFaqResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            entries: rows.into_iter().map(faq_to_pb).collect(),
        }))
    }

    pub(super) async fn get_desk_stats_rpc(
        &self,
        request: Request<pb::GetDeskStatsRequest>,
    ) -> Result<Response<pb::GetDeskStatsResponse>, Status> {
        let caller = caller(&request)?;
        let scope = caller.visible().communities().map(<[Uuid]>::to_vec);
        let r = request.into_inner();
        let mut v = Violations::new();
        let from = moment(&mut v, "from", r.from.as_ref());
        let until = moment(&mut v, "until", r.until.as_ref());
        if let (Some(f), Some(u)) = (from, until) {
            v.check(f < u, "until", "must be after from");
        }
        v.into_result()?;
        let fail = |e| internal("computing the desk's figures", e);
        let asked = store::desk_stats::asked_between(&self.pool, scope.as_deref(), from, until)
            .await
            .map_err(fail)?;
        let faq_entries = store::faq::count_live(&self.pool, scope.as_deref())
            .await
            .map_err(fail)?;
        let experts = store::desk_stats::count_experts(&self.pool)
            .await
            .map_err(fail)?;
        let f = rules::figures(&asked, Utc::now());
        Ok(Response::new(pb::GetDeskStatsResponse {
            questions: f.questions,
            answered: f.answered,
            awaiting_answer: f.awaiting_answer,
            escalated: f.escalated,
            by_topic: f
                .by_topic
                .into_iter()
                .map(|(topic, (questions, answered))| pb::TopicCount {
                    topic: i32::from(topic),
                    questions,
                    answered,
                })
                .collect(),
            median_minutes_to_first_answer: f.median_minutes_to_first_answer,
            answered_within_deadline: f.answered_within_deadline,
            rated_helpful: f.rated_helpful,
            faq_entries: i32::try_from(faq_entries).unwrap_or(i32::MAX),
            experts: i32::try_from(experts).unwrap_or(i32::MAX),
        }))
    }
}
