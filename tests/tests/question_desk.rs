//! The expert Q&A desk against the real stack: instructors and lecturers enrolled once each, a
//! question routed to the least loaded expert of its topic (or to the county), hidden askers, who
//! may read, answer, follow up and rate, the answer's event, escalation past the deadline once
//! across sweeps, the county's reassignment, the FAQ stripped of who asked, and the figures.

use chrono::{Duration, Utc};
use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1::QuestionChanged,
    organization::v1::{
        self as pb, AnswerRating, GuideKind, QuestionStatus, QuestionTopic,
        question_desk_service_client::QuestionDeskServiceClient,
    },
    roles,
    subjects::organization::{QUESTION_ANSWERED, QUESTION_ESCALATED},
};
use redsupply_tests::{TestApp, assert_invalid, eventually, rid};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

type Desk = QuestionDeskServiceClient<Channel>;

async fn guide(app: &TestApp, name: &str, kind: GuideKind) -> String {
    app.party()
        .await
        .upsert_guide(with_bearer(
            pb::UpsertGuideRequest {
                request_id: rid(),
                guide: Some(pb::Guide {
                    name: name.into(),
                    kind: kind as i32,
                    department: "County working committee".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .expect("a guide")
        .into_inner()
        .guide
        .unwrap()
        .id
}

async fn enrol(
    desk: &mut Desk,
    admin: &str,
    r: pb::EnrolExpertRequest,
) -> Result<pb::Expert, tonic::Status> {
    desk.enrol_expert(with_bearer(r, admin))
        .await
        .map(|r| r.into_inner().expert.unwrap())
}

fn asking(
    asker: Uuid,
    topic: QuestionTopic,
    text: &str,
    anonymous: bool,
) -> pb::AskQuestionRequest {
    pb::AskQuestionRequest {
        request_id: rid(),
        asker_id: asker.to_string(),
        topic: topic as i32,
        text: text.into(),
        anonymous,
    }
}

async fn ask(
    desk: &mut Desk,
    token: &str,
    r: pb::AskQuestionRequest,
) -> Result<pb::Question, tonic::Status> {
    desk.ask_question(with_bearer(r, token))
        .await
        .map(|r| r.into_inner().question.unwrap())
}

async fn get(desk: &mut Desk, token: &str, id: &str) -> Result<pb::Question, tonic::Status> {
    desk.get_question(with_bearer(pb::GetQuestionRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner().question.unwrap())
}

async fn answer(
    desk: &mut Desk,
    token: &str,
    question: &str,
    request_id: &str,
    text: &str,
) -> Result<pb::Question, tonic::Status> {
    desk.answer_question(with_bearer(
        pb::AnswerQuestionRequest {
            request_id: request_id.into(),
            question_id: question.into(),
            text: text.into(),
        },
        token,
    ))
    .await
    .map(|r| r.into_inner().question.unwrap())
}

fn later_than(a: Option<prost_types::Timestamp>, b: Option<prost_types::Timestamp>) -> bool {
    let at = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos));
    at(a) > at(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_routed_answered_followed_up_rated_and_published_without_its_asker() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut desk = app.desk().await;
    let base = desk.clone();
    let community = app.create_community("Yingchun").await;
    let other_community = app.create_community("Muchang").await;
    let staff = app.scoped_token(roles::COMMUNITY_ADMIN, "staff-yingchun", &[community], &[]);
    let staff_elsewhere = app.scoped_token(
        roles::COMMUNITY_ADMIN,
        "staff-muchang",
        &[other_community],
        &[],
    );

    // An instructor and a lecturer enter the desk; each person once.
    let li = guide(&app, "Instructor Li", GuideKind::Instructor).await;
    let labour = [
        QuestionTopic::LabourRights as i32,
        QuestionTopic::SocialInsurance as i32,
    ];
    let enrol_li = pb::EnrolExpertRequest {
        request_id: "enrol-li".into(),
        guide_id: li.clone(),
        topics: labour.to_vec(),
        ..Default::default()
    };
    let expert_li = enrol(&mut desk, &admin, enrol_li.clone()).await.unwrap();
    assert_eq!(expert_li.name, "Instructor Li", "the guide's name");
    assert_eq!(
        enrol(&mut desk, &admin, enrol_li.clone()).await.unwrap().id,
        expert_li.id
    );
    let twice = enrol(
        &mut desk,
        &admin,
        pb::EnrolExpertRequest {
            request_id: "enrol-li-again".into(),
            ..enrol_li
        },
    )
    .await
    .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice:?}");
    let lecturer = Uuid::now_v7().to_string();
    let expert_wu = enrol(
        &mut desk,
        &admin,
        pb::EnrolExpertRequest {
            request_id: "enrol-wu".into(),
            lecturer_id: lecturer,
            name: "Lawyer Wu".into(),
            department: "Justice bureau".into(),
            topics: vec![
                QuestionTopic::LegalAid as i32,
                QuestionTopic::LabourRights as i32,
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // A red commissioner is not an expert of the desk; bad input names its field.
    let commissioner = guide(&app, "Commissioner Zhao", GuideKind::RedCommissioner).await;
    let refused = pb::EnrolExpertRequest {
        request_id: rid(),
        guide_id: commissioner,
        topics: labour.to_vec(),
        ..Default::default()
    };
    assert_invalid(
        enrol(&mut desk, &admin, refused.clone()).await.unwrap_err(),
        "guide_id",
    );
    let no_topic = pb::EnrolExpertRequest {
        topics: vec![],
        ..refused.clone()
    };
    assert_invalid(
        enrol(&mut desk, &admin, no_topic).await.unwrap_err(),
        "topics",
    );
    let bad_topic = pb::EnrolExpertRequest {
        topics: vec![99],
        ..refused
    };
    assert_invalid(
        enrol(&mut desk, &admin, bad_topic).await.unwrap_err(),
        "topics[0]",
    );
    let by_staff = desk
        .enrol_expert(with_bearer(pb::EnrolExpertRequest::default(), &staff))
        .await
        .unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);

    // Two labour questions go one to each expert: the least loaded, the first enrolled first.
    let (rider, rider_token) = app.register_worker_in(Some(community), "Rider Chen").await;
    let (courier, courier_token) = app.register_worker_in(Some(community), "Courier Ma").await;
    let first_ask = asking(
        rider,
        QuestionTopic::LabourRights,
        "My platform cut my pay without notice",
        true,
    );
    let q1 = ask(&mut desk, &rider_token, first_ask.clone())
        .await
        .unwrap();
    assert_eq!(q1.expert_id, expert_li.id);
    assert_eq!(q1.status(), QuestionStatus::AwaitingAnswer);
    assert_eq!(q1.asker_id, rider.to_string(), "the asker sees themself");
    let mut reused = first_ask.clone();
    reused.topic = QuestionTopic::Safety as i32;
    assert_invalid(
        ask(&mut desk, &rider_token, reused).await.unwrap_err(),
        "request_id",
    );
    assert_eq!(
        ask(&mut desk, &rider_token, first_ask).await.unwrap().id,
        q1.id,
        "a retry asks nothing new"
    );
    let q2 = ask(
        &mut desk,
        &courier_token,
        asking(
            courier,
            QuestionTopic::LabourRights,
            "Who pays for an injury on a delivery?",
            false,
        ),
    )
    .await
    .unwrap();
    assert_eq!(q2.expert_id, expert_wu.id, "the less loaded expert");
    // Nobody covers party affairs: the county answers it.
    let q3 = ask(
        &mut desk,
        &courier_token,
        asking(
            courier,
            QuestionTopic::PartyAffairs,
            "How do I transfer my membership here?",
            false,
        ),
    )
    .await
    .unwrap();
    assert!(q3.expert_id.is_empty(), "{q3:?}");
    // A worker asks for themselves only; bad input is refused by field.
    let for_someone = ask(
        &mut desk,
        &rider_token,
        asking(courier, QuestionTopic::Safety, "?", false),
    )
    .await
    .unwrap_err();
    assert_eq!(for_someone.code(), Code::PermissionDenied);
    let no_topic = asking(rider, QuestionTopic::Unspecified, "What now?", false);
    assert_invalid(
        ask(&mut desk, &rider_token, no_topic).await.unwrap_err(),
        "topic",
    );
    let no_text = asking(rider, QuestionTopic::Safety, "   ", false);
    assert_invalid(
        ask(&mut desk, &rider_token, no_text).await.unwrap_err(),
        "text",
    );

    // The expert sees the anonymous question without its asker; staff see who asked; others
    // do not reach it.
    let li_token = app.token(roles::EXPERT, &expert_li.id);
    let wu_token = app.token(roles::EXPERT, &expert_wu.id);
    let seen = get(&mut desk, &li_token, &q1.id).await.unwrap();
    assert!(seen.asker_id.is_empty() && seen.anonymous);
    assert_eq!(
        seen.messages[0].text,
        "My platform cut my pay without notice"
    );
    assert_eq!(
        get(&mut desk, &staff, &q1.id).await.unwrap().asker_id,
        rider.to_string()
    );
    for outsider in [&wu_token, &courier_token, &staff_elsewhere] {
        let e = get(&mut desk, outsider, &q1.id).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    }
    assert_eq!(
        get(&mut desk, &wu_token, &q2.id).await.unwrap().asker_id,
        courier.to_string(),
        "a named question shows its asker to the expert"
    );
    let listed = desk
        .list_questions(with_bearer(pb::ListQuestionsRequest::default(), &li_token))
        .await
        .unwrap()
        .into_inner()
        .questions;
    assert_eq!(
        listed.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
        [q1.id.as_str()]
    );
    assert!(
        listed[0].asker_id.is_empty(),
        "the list hides an anonymous asker too"
    );
    let by_asker = desk
        .list_questions(with_bearer(
            pb::ListQuestionsRequest {
                asker_id: rider.to_string(),
                ..Default::default()
            },
            &li_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_asker.code(), Code::PermissionDenied, "{by_asker:?}");
    let theirs = desk
        .list_questions(with_bearer(
            pb::ListQuestionsRequest {
                expert_id: expert_wu.id.clone(),
                ..Default::default()
            },
            &li_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::PermissionDenied);

    // Only its expert (or the county) answers; a retry answers once; an answered question waits
    // for a follow-up.
    let wrong = answer(&mut desk, &wu_token, &q1.id, "a1", "Call the union")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied);
    let by_worker = answer(&mut desk, &rider_token, &q1.id, "a1", "!")
        .await
        .unwrap_err();
    assert_eq!(by_worker.code(), Code::PermissionDenied);
    assert_invalid(
        answer(&mut desk, &li_token, &q1.id, "a1", "")
            .await
            .unwrap_err(),
        "text",
    );
    let reply = "Keep your pay slips; the labour arbitration committee hears such claims for free.";
    let answered = answer(&mut desk, &li_token, &q1.id, "a1", reply)
        .await
        .unwrap();
    assert_eq!(answered.status(), QuestionStatus::Answered);
    assert!(answered.first_answered_at.is_some());
    let again = answer(&mut desk, &li_token, &q1.id, "a1", reply)
        .await
        .unwrap();
    assert_eq!(
        again.messages.len(),
        2,
        "one question, one answer: {again:?}"
    );
    let second = answer(&mut desk, &li_token, &q1.id, "a2", "More")
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    // The answer is an event other services can act on: it names whom to tell.
    let events = eventually("the answer's event", || async {
        let e: Vec<QuestionChanged> = app.published("organization", QUESTION_ANSWERED).await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].question_id, q1.id);
    assert_eq!(events[0].asker_id, rider.to_string());
    assert!(events[0].first_answer_within_deadline);

    // The asker rates it and follows up; it waits again, for the same expert.
    let rate = |rating: AnswerRating, token: &str| {
        let mut d = base.clone();
        let req = with_bearer(
            pb::RateAnswerRequest {
                question_id: q1.id.clone(),
                rating: rating as i32,
            },
            token,
        );
        async move {
            d.rate_answer(req)
                .await
                .map(|r| r.into_inner().question.unwrap())
        }
    };
    assert_invalid(
        rate(AnswerRating::Unspecified, &rider_token)
            .await
            .unwrap_err(),
        "rating",
    );
    assert_eq!(
        rate(AnswerRating::Helpful, &courier_token)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        rate(AnswerRating::Helpful, &rider_token)
            .await
            .unwrap()
            .rating(),
        AnswerRating::Helpful
    );
    let follow = |token: String| {
        let mut d = base.clone();
        let req = with_bearer(
            pb::FollowUpQuestionRequest {
                request_id: "f1".into(),
                question_id: q1.id.clone(),
                text: "And if I have no contract?".into(),
            },
            &token,
        );
        async move {
            d.follow_up_question(req)
                .await
                .map(|r| r.into_inner().question.unwrap())
        }
    };
    assert_eq!(
        follow(li_token.clone()).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let reopened = follow(rider_token.clone()).await.unwrap();
    assert_eq!(reopened.status(), QuestionStatus::AwaitingAnswer);
    assert_eq!(reopened.expert_id, expert_li.id);
    assert!(
        later_than(reopened.due_at, answered.due_at),
        "a new deadline"
    );
    assert_eq!(
        follow(rider_token.clone()).await.unwrap().messages.len(),
        3,
        "once"
    );
    answer(
        &mut desk,
        &li_token,
        &q1.id,
        "a3",
        "Your platform's records of orders count as proof.",
    )
    .await
    .unwrap();

    // Staff of the asker's community publish it, in words that do not name the rider.
    let publish = |question: &str, token: &str, request_id: &str| {
        let mut d = base.clone();
        let req = with_bearer(
            pb::PublishFaqEntryRequest {
                request_id: request_id.into(),
                question_id: question.into(),
                question: "A platform cut a rider's pay without notice. What can be done?".into(),
                answer: String::new(),
            },
            token,
        );
        async move {
            d.publish_faq_entry(req)
                .await
                .map(|r| r.into_inner().entry.unwrap())
        }
    };
    assert_eq!(
        publish(&q1.id, &staff_elsewhere, "p0")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        publish(&q3.id, &admin, "p0").await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let entry = publish(&q1.id, &staff, "p1").await.unwrap();
    assert_eq!(
        entry.answer, "Your platform's records of orders count as proof.",
        "the latest answer"
    );
    assert_eq!(
        publish(&q1.id, &staff, "p2").await.unwrap_err().code(),
        Code::AlreadyExists
    );
    assert_invalid(
        publish(&q3.id, &staff, "p1").await.unwrap_err(),
        "request_id",
    );
    let search = |query: &str| {
        let mut d = base.clone();
        let req = with_bearer(
            pb::SearchFaqRequest {
                query: query.into(),
                ..Default::default()
            },
            &courier_token,
        );
        async move { d.search_faq(req).await.map(|r| r.into_inner().entries) }
    };
    let found = search("PAY WITHOUT").await.unwrap();
    assert_eq!(found.len(), 1);
    // Each word counts, wherever it stands, in the question or the answer.
    assert_eq!(search("proof  pay").await.unwrap().len(), 1);
    assert!(search("pay holiday").await.unwrap().is_empty());
    assert!(
        !format!("{found:?}").contains(&rider.to_string()),
        "never names who asked"
    );
    assert!(
        search("100%").await.unwrap().is_empty(),
        "% is taken literally"
    );
    assert_invalid(search(&"x".repeat(201)).await.unwrap_err(), "query");
    assert_eq!(
        get(&mut desk, &staff, &q1.id).await.unwrap().faq_entry_id,
        entry.id
    );
    desk.withdraw_faq_entry(with_bearer(
        pb::WithdrawFaqEntryRequest {
            entry_id: entry.id.clone(),
            reason: "names the platform".into(),
        },
        &staff,
    ))
    .await
    .unwrap();
    assert!(search("pay without").await.unwrap().is_empty());

    // The figures: three questions, two topics, one answered within its deadline, one helpful.
    let stats = desk
        .get_desk_stats(with_bearer(pb::GetDeskStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (stats.questions, stats.answered, stats.awaiting_answer),
        (3, 1, 2)
    );
    let labour_count = stats
        .by_topic
        .iter()
        .find(|t| t.topic == QuestionTopic::LabourRights as i32)
        .unwrap();
    assert_eq!((labour_count.questions, labour_count.answered), (2, 1));
    assert_eq!(
        stats.answered_within_deadline, 1.0,
        "nothing else is due yet"
    );
    // The one answer came within the test's run: more than nothing, less than five minutes.
    assert!(
        stats.median_minutes_to_first_answer > 0.0 && stats.median_minutes_to_first_answer < 5.0,
        "{stats:?}"
    );
    assert_eq!(
        (stats.rated_helpful, stats.faq_entries, stats.experts),
        (1, 0, 2)
    );
    let elsewhere = desk
        .get_desk_stats(with_bearer(
            pb::GetDeskStatsRequest::default(),
            &staff_elsewhere,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        elsewhere.questions, 0,
        "another community's questions are not theirs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_question_is_escalated_once_and_the_county_reassigns_or_answers_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut desk = app.desk().await;
    let base = desk.clone();
    let safety = vec![QuestionTopic::Safety as i32];
    let mut experts = Vec::new();
    for name in ["Officer He", "Officer Xu"] {
        let guide = guide(&app, name, GuideKind::Instructor).await;
        let e = enrol(
            &mut desk,
            &admin,
            pb::EnrolExpertRequest {
                request_id: rid(),
                guide_id: guide,
                topics: safety.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        experts.push(e);
    }
    // Officer Xu is away: no new questions.
    let away = desk
        .set_expert_availability(with_bearer(
            pb::SetExpertAvailabilityRequest {
                expert_id: experts[1].id.clone(),
                available: false,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .expert
        .unwrap();
    assert!(!away.available);
    let (rider, token) = app.register_worker("Rider Luo").await;
    let mut questions = Vec::new();
    for text in [
        "The crossing at the school has no light",
        "My e-bike battery swells",
    ] {
        let q = ask(
            &mut desk,
            &token,
            asking(rider, QuestionTopic::Safety, text, false),
        )
        .await
        .unwrap();
        assert_eq!(q.expert_id, experts[0].id, "the away expert gets none");
        questions.push(q);
    }

    // Past the deadline the sweep escalates each question once, however often it runs.
    let org = organization::pool(&app.settings.common).unwrap();
    let later = Utc::now() + Duration::hours(49);
    assert_eq!(
        organization::app::desk::escalate_overdue(&org, later)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        organization::app::desk::escalate_overdue(&org, later)
            .await
            .unwrap(),
        0
    );
    let escalated = get(&mut desk, &admin, &questions[0].id).await.unwrap();
    assert_eq!(escalated.status(), QuestionStatus::Escalated);
    assert!(escalated.escalated_at.is_some());
    let events: Vec<QuestionChanged> = eventually("two escalations on the bus", || async {
        let e: Vec<QuestionChanged> = app.published("organization", QUESTION_ESCALATED).await;
        (e.len() >= 2).then_some(e)
    })
    .await;
    assert_eq!(events.len(), 2);
    let at_county = desk
        .list_questions(with_bearer(
            pb::ListQuestionsRequest {
                status: QuestionStatus::Escalated as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .questions;
    assert_eq!(at_county.len(), 2);

    // The county reassigns one, to an expert who is in, with a reason and at the version it read.
    let reassign = |expert: &str, version: i64, reason: &str| {
        let mut d = base.clone();
        let req = with_bearer(
            pb::ReassignQuestionRequest {
                question_id: questions[0].id.clone(),
                expert_id: expert.into(),
                reason: reason.into(),
                expected_version: version,
            },
            &admin,
        );
        async move {
            d.reassign_question(req)
                .await
                .map(|r| r.into_inner().question.unwrap())
        }
    };
    assert_invalid(
        reassign(&experts[1].id, 0, "Officer He is on leave")
            .await
            .unwrap_err(),
        "expert_id",
    );
    assert_invalid(reassign(&experts[0].id, 0, "").await.unwrap_err(), "reason");
    let stale = reassign(&experts[0].id, escalated.version - 1, "retry")
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    desk.set_expert_availability(with_bearer(
        pb::SetExpertAvailabilityRequest {
            expert_id: experts[1].id.clone(),
            available: true,
        },
        &admin,
    ))
    .await
    .unwrap();
    let moved = reassign(&experts[1].id, escalated.version, "Officer He is on leave")
        .await
        .unwrap();
    assert_eq!(moved.status(), QuestionStatus::AwaitingAnswer);
    assert_eq!(moved.expert_id, experts[1].id);
    assert!(later_than(moved.due_at, escalated.due_at), "a new deadline");
    let community_staff = app.scoped_token(roles::COMMUNITY_ADMIN, "staff", &[Uuid::now_v7()], &[]);
    let by_staff = desk
        .reassign_question(with_bearer(
            pb::ReassignQuestionRequest::default(),
            &community_staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);
    // The old expert no longer answers it; the new one does.
    let he = app.token(roles::EXPERT, &experts[0].id);
    let xu = app.token(roles::EXPERT, &experts[1].id);
    assert_eq!(
        answer(&mut desk, &he, &questions[0].id, "x", "?")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    answer(
        &mut desk,
        &xu,
        &questions[0].id,
        "x",
        "The traffic police will fit one this month.",
    )
    .await
    .unwrap();

    // The county answers the other one itself.
    let by_county = answer(
        &mut desk,
        &admin,
        &questions[1].id,
        "c",
        "Stop charging it indoors; swap it at the station.",
    )
    .await
    .unwrap();
    assert!(by_county.messages.last().unwrap().by_county);

    // The sweep ran on a clock 49 hours ahead; by the real one both first answers still came
    // within the first deadline, and neither question is escalated any more.
    let figures = desk
        .get_desk_stats(with_bearer(pb::GetDeskStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (figures.questions, figures.answered, figures.escalated),
        (2, 2, 0)
    );
    assert_eq!(
        figures.answered_within_deadline, 1.0,
        "answered before the real deadline"
    );

    // Officer Xu's answer, retried after the question moved on to Officer He, answers the same.
    desk.follow_up_question(with_bearer(
        pb::FollowUpQuestionRequest {
            request_id: rid(),
            question_id: questions[0].id.clone(),
            text: "And until then?".into(),
        },
        &token,
    ))
    .await
    .unwrap();
    let back = get(&mut desk, &admin, &questions[0].id).await.unwrap();
    assert_eq!(back.expert_id, experts[1].id, "the follow-up goes to Xu");
    reassign(&experts[0].id, back.version, "Xu is off this week")
        .await
        .unwrap();
    let retried = answer(
        &mut desk,
        &xu,
        &questions[0].id,
        "x",
        "The traffic police will fit one this month.",
    )
    .await
    .unwrap();
    // Nothing added, and Xu sees the thread only up to his answer, not the follow-up since.
    assert_eq!(retried.messages.len(), back.messages.len() - 1);
    assert_eq!(
        retried.messages.last().unwrap().text,
        "The traffic police will fit one this month."
    );
    assert_invalid(
        answer(&mut desk, &xu, &questions[1].id, "x", "?")
            .await
            .unwrap_err(),
        "request_id",
    );

    // An instructor whose guide record is deleted takes no more questions, nor reassignments.
    let he_guide = experts[0].guide_id.clone();
    app.party()
        .await
        .delete_guide(with_bearer(
            redsupply_proto::organization::v1::DeleteGuideRequest {
                id: he_guide,
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();
    desk.set_expert_availability(with_bearer(
        pb::SetExpertAvailabilityRequest {
            expert_id: experts[1].id.clone(),
            available: false,
        },
        &admin,
    ))
    .await
    .unwrap();
    let unrouted = ask(
        &mut desk,
        &token,
        asking(
            rider,
            QuestionTopic::Safety,
            "Who checks the helmets?",
            false,
        ),
    )
    .await
    .unwrap();
    assert!(unrouted.expert_id.is_empty(), "the county's: {unrouted:?}");
    let mut d = base.clone();
    let refused = d
        .reassign_question(with_bearer(
            pb::ReassignQuestionRequest {
                question_id: unrouted.id.clone(),
                expert_id: experts[0].id.clone(),
                reason: "He knows helmets".into(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(refused, "expert_id");
}
