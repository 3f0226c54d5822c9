//! The demo county's expert Q&A desk: the 25 full-time instructors who "entered the experts' Q&A
//! platform", joined by the justice bureau's and the social-security bureau's lecturers; a few
//! questions of the demo workers this autumn, most answered (one followed up, some rated), one
//! still waiting; two answers published to the FAQ. All through organization's use cases with
//! fixed request ids, so a re-run adds nothing.

use chrono::{DateTime, Duration, Utc};
use organization::{
    app::{
        desk::{self, Ask, DeskSettings, Enrolment},
        faq::{self, Publication},
    },
    store::{desk::QuestionRow, guides},
};
use redsupply_proto::organization::v1::{AnswerRating, QuestionTopic};
use sqlx::PgPool;
use uuid::Uuid;

use super::{SEEDER, SeedError};

/// The topics an instructor answers besides party affairs, in turn.
const INSTRUCTOR_TOPICS: [QuestionTopic; 4] = [
    QuestionTopic::LabourRights,
    QuestionTopic::SocialInsurance,
    QuestionTopic::Safety,
    QuestionTopic::Other,
];

/// Lecturers of the pool who answer on the desk: their expertise tag, and the topics it covers.
const LECTURER_TOPICS: [(&str, &[QuestionTopic]); 2] = [
    ("legal_aid", &[QuestionTopic::LegalAid]),
    (
        "labour_law",
        &[QuestionTopic::LabourRights, QuestionTopic::SocialInsurance],
    ),
];

/// A demo question: the asking worker (index), topic, text, anonymous, the answer (hours after
/// asking, text; none: still waiting), a follow-up with its answer, the rating, an FAQ text.
struct DemoQuestion {
    worker: usize,
    topic: QuestionTopic,
    text: &'static str,
    anonymous: bool,
    answer: Option<(i64, &'static str)>,
    follow_up: Option<(&'static str, &'static str)>,
    rating: AnswerRating,
    faq: Option<&'static str>,
}

const QUESTIONS: [DemoQuestion; 6] = [
    DemoQuestion {
        worker: 0,
        topic: QuestionTopic::LabourRights,
        text: "My station deducted a week's pay for one late order. Is that allowed?",
        anonymous: true,
        answer: Some((
            5,
            "A deduction must follow rules you were shown in advance; keep your order records and ask the labour arbitration committee, which hears such claims free of charge.",
        )),
        follow_up: Some((
            "What if I never signed a contract?",
            "Your app's order history and pay transfers prove the work; the union's legal aid line helps you file.",
        )),
        rating: AnswerRating::Helpful,
        faq: Some("Can a station deduct pay for a late order?"),
    },
    DemoQuestion {
        worker: 1,
        topic: QuestionTopic::SocialInsurance,
        text: "Can I pay into the pension scheme as a rider without an employer?",
        anonymous: false,
        answer: Some((
            20,
            "Yes: flexible workers enrol at the county social insurance hall with their ID card and pay monthly through the app.",
        )),
        follow_up: None,
        rating: AnswerRating::Helpful,
        faq: Some("Can riders without an employer join the pension scheme?"),
    },
    DemoQuestion {
        worker: 2,
        topic: QuestionTopic::LegalAid,
        text: "A customer damaged my scooter and refuses to pay. Where can I get help?",
        anonymous: false,
        answer: Some((
            30,
            "Bring photos and the order record to the justice bureau's legal aid window; mediation at the red supply station is free.",
        )),
        follow_up: None,
        rating: AnswerRating::Unspecified,
        faq: None,
    },
    DemoQuestion {
        worker: 3,
        topic: QuestionTopic::PartyAffairs,
        text: "I am a party member from another county. How do I join an organization here?",
        anonymous: false,
        answer: Some((
            3,
            "Report in at your community's party-mass service centre; the online branch of the express committee accepts transfers too.",
        )),
        follow_up: None,
        rating: AnswerRating::Helpful,
        faq: None,
    },
    DemoQuestion {
        worker: 4,
        topic: QuestionTopic::Safety,
        text: "Where can I charge my e-bike battery safely at night?",
        anonymous: false,
        answer: Some((
            60,
            "The main station and the three business-district stations have fire-safe charging cabinets open all night.",
        )),
        follow_up: None,
        rating: AnswerRating::NotHelpful,
        faq: None,
    },
    DemoQuestion {
        worker: 5,
        topic: QuestionTopic::Other,
        text: "Is there a free health check for couriers this year?",
        anonymous: true,
        answer: None,
        follow_up: None,
        rating: AnswerRating::Unspecified,
        faq: None,
    },
];

/// What the desk holds after the seed: experts, questions.
pub(super) async fn seed_desk(
    org: &PgPool,
    edu: &PgPool,
    workers: &[Uuid],
) -> Result<(usize, usize), SeedError> {
    let mut experts = 0;
    let instructors = guides::list(org, Some(guides::INSTRUCTOR), None, None, None, 100).await?;
    for (i, g) in instructors.iter().enumerate() {
        let topics = vec![
            QuestionTopic::PartyAffairs as i16,
            INSTRUCTOR_TOPICS[i % INSTRUCTOR_TOPICS.len()] as i16,
        ];
        enrol(
            org,
            &format!("seed-expert-guide-{}", g.id),
            Some(g.id),
            None,
            "",
            "",
            topics,
        )
        .await?;
        experts += 1;
    }
    for (tag, covers) in LECTURER_TOPICS {
        let lecturers = education::store::list_lecturers(edu, Some(tag), true, None, 100).await?;
        for l in lecturers {
            let mut topics: Vec<i16> = covers.iter().map(|t| *t as i16).collect();
            topics.sort_unstable();
            let request = format!("seed-expert-lecturer-{}", l.id);
            enrol(
                org,
                &request,
                None,
                Some(l.id),
                &l.name,
                &l.department,
                topics,
            )
            .await?;
            experts += 1;
        }
    }
    let first = DateTime::parse_from_rfc3339("2026-11-02T09:00:00+08:00")
        .expect("a valid date")
        .with_timezone(&Utc);
    let settings = DeskSettings::default();
    let mut asked = 0;
    for (i, d) in QUESTIONS.iter().enumerate() {
        let Some(asker) = workers.get(d.worker).copied() else {
            continue;
        };
        let asked_at = first + Duration::days(3 * i as i64);
        let asker_subject = asker.to_string();
        let q = desk::ask(
            org,
            &asker_subject,
            &settings,
            Ask {
                request_id: &format!("seed-question-{i}"),
                asker,
                topic: d.topic as i16,
                text: d.text,
                anonymous: d.anonymous,
            },
            asked_at,
        )
        .await?;
        asked += 1;
        let Some((hours, text)) = d.answer else {
            continue;
        };
        let answered_at = asked_at + Duration::hours(hours);
        answer(org, &q, &format!("seed-answer-{i}"), text, answered_at).await?;
        if let Some((more, reply)) = d.follow_up {
            let at = answered_at + Duration::hours(2);
            let request = format!("seed-follow-up-{i}");
            desk::follow_up(org, &asker_subject, &settings, q.id, &request, more, at).await?;
            let q = desk_question(org, q.id).await?;
            answer(
                org,
                &q,
                &format!("seed-answer-{i}-again"),
                reply,
                at + Duration::hours(4),
            )
            .await?;
        }
        if d.rating != AnswerRating::Unspecified {
            desk::rate(org, q.id, d.rating as i16).await?;
        }
        if let Some(public) = d.faq
            && desk_question(org, q.id).await?.faq_entry_id.is_none()
        {
            faq::publish_faq(
                org,
                SEEDER,
                Publication {
                    request_id: &format!("seed-faq-{i}"),
                    question: q.id,
                    question_text: public,
                    answer_text: "",
                },
            )
            .await?;
        }
    }
    Ok((experts, asked))
}

async fn enrol(
    org: &PgPool,
    request_id: &str,
    guide_id: Option<Uuid>,
    lecturer_id: Option<Uuid>,
    name: &str,
    department: &str,
    topics: Vec<i16>,
) -> Result<(), SeedError> {
    let e = Enrolment {
        request_id,
        guide_id,
        lecturer_id,
        name,
        department,
        topics,
    };
    match desk::enrol_expert(org, SEEDER, e).await {
        // Enrolled before under another request id (by staff, say): already in.
        Ok(_) | Err(organization::change::ChangeError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn desk_question(org: &PgPool, id: Uuid) -> Result<QuestionRow, SeedError> {
    let mut conn = org.acquire().await?;
    Ok(desk::load_question(&mut conn, id).await?)
}

/// Answers as the question's expert, or as the county when it has none; once per request id.
async fn answer(
    org: &PgPool,
    q: &QuestionRow,
    request_id: &str,
    text: &str,
    at: DateTime<Utc>,
) -> Result<(), SeedError> {
    let author = q
        .expert_id
        .map_or_else(|| SEEDER.to_owned(), |e| e.to_string());
    match desk::answer(org, &author, q.expert_id, q.id, request_id, text, at).await {
        // Answered already (a re-run whose request was claimed by the first).
        Ok(_) | Err(organization::change::ChangeError::Precondition(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
