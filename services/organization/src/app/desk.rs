//! The Q&A desk's use cases (`QuestionDeskService`), each one transaction holding the change and
//! its event: experts enrolled from the instructors and the lecturer pool; questions routed to the
//! least loaded expert of their topic (or to the county), answered, followed up, rated,
//! reassigned, escalated when overdue (the FAQ made of them is `faq`'s). Creates are idempotent
//! on the caller's `request_id`, answers and follow-ups included.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kit::Shutdown;
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    domain::desk::{self as rules, Step},
    events::publish::desk::{self as publish, QuestionChange},
    store::{
        desk::{self, ExpertRow, KIND_ANSWER, KIND_FOLLOW_UP, KIND_QUESTION, QuestionRow},
        guides::{self, INSTRUCTOR},
    },
};

/// The desk's settings (`organization.desk`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DeskSettings {
    /// Hours an expert has to answer (a follow-up or a reassignment starts them again); a question
    /// still waiting then is escalated to the county.
    #[serde(default = "default_response_hours")]
    pub response_hours: u32,
    /// How often overdue questions are looked for (s).
    #[serde(default = "default_sweep_secs")]
    pub escalation_sweep_secs: u64,
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings {
            response_hours: default_response_hours(),
            escalation_sweep_secs: default_sweep_secs(),
        }
    }
}

impl DeskSettings {
    /// What is wrong with the settings, if anything: a deadline of an hour up to 30 days, a sweep
    /// at least every second and at most hourly.
    pub fn problem(&self) -> Option<String> {
        if !(1..=720).contains(&self.response_hours) {
            return Some("organization.desk.response_hours must be within 1..=720".into());
        }
        if !(1..=3600).contains(&self.escalation_sweep_secs) {
            return Some("organization.desk.escalation_sweep_secs must be within 1..=3600".into());
        }
        None
    }
}

fn default_response_hours() -> u32 {
    48
}

fn default_sweep_secs() -> u64 {
    60
}

/// Who enters the desk: an instructor (a guide) or a lecturer of education's pool.
pub struct Enrolment<'a> {
    pub request_id: &'a str,
    pub guide_id: Option<Uuid>,
    pub lecturer_id: Option<Uuid>,
    pub name: &'a str,
    pub department: &'a str,
    pub topics: Vec<i16>,
}

pub async fn enrol_expert(
    pool: &PgPool,
    caller: &str,
    e: Enrolment<'_>,
) -> Result<ExpertRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, e.request_id, Aggregate::Expert, id).await?
    {
        return load_expert(&mut tx, existing).await;
    }
    let (mut name, mut department) = (e.name.to_owned(), e.department.to_owned());
    let field = if let Some(guide) = e.guide_id {
        // The guide's lock also keeps two enrolments of the same instructor apart.
        change::lock(&mut tx, Aggregate::Guide, guide, 0)
            .await
            .map_err(|err| match err {
                ChangeError::NotFound { .. } => {
                    ChangeError::invalid("guide_id", format!("guide {guide} does not exist"))
                }
                ChangeError::Deleted { .. } => {
                    ChangeError::invalid("guide_id", format!("guide {guide} was deleted"))
                }
                other => other,
            })?;
        let g = guides::get(&mut tx, guide).await?;
        if g.kind != INSTRUCTOR {
            return Err(ChangeError::invalid(
                "guide_id",
                "is a red commissioner; the desk's experts are instructors and lecturers",
            ));
        }
        if name.is_empty() {
            name = g.name;
        }
        if department.is_empty() {
            department = g.department;
        }
        "guide_id"
    } else {
        desk::lock_person(&mut tx, e.lecturer_id.unwrap_or_default()).await?;
        "lecturer_id"
    };
    if let Some(already) = desk::expert_of(&mut tx, e.guide_id, e.lecturer_id).await? {
        return Err(ChangeError::AlreadyExists {
            field,
            what: Aggregate::Expert,
            id: already,
        });
    }
    let new = desk::NewExpert {
        name: &name,
        department: &department,
        topics: &e.topics,
        guide_id: e.guide_id,
        lecturer_id: e.lecturer_id,
    };
    desk::insert_expert(&mut tx, id, &new).await?;
    let row = load_expert(&mut tx, id).await?;
    publish::expert_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn set_expert_availability(
    pool: &PgPool,
    id: Uuid,
    available: bool,
) -> Result<ExpertRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let before = change::lock(&mut tx, Aggregate::Expert, id, 0).await?;
    desk::set_available(&mut tx, id, available).await?;
    let row = load_expert(&mut tx, id).await?;
    if row.version != before {
        publish::expert_changed(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

async fn load_expert(tx: &mut PgConnection, id: Uuid) -> Result<ExpertRow, ChangeError> {
    desk::expert(tx, id).await?.ok_or(ChangeError::NotFound {
        what: Aggregate::Expert,
        id,
    })
}

pub async fn load_question(tx: &mut PgConnection, id: Uuid) -> Result<QuestionRow, ChangeError> {
    desk::question(tx, id).await?.ok_or(ChangeError::NotFound {
        what: Aggregate::Question,
        id,
    })
}

pub struct Ask<'a> {
    pub request_id: &'a str,
    pub asker: Uuid,
    pub topic: i16,
    pub text: &'a str,
    pub anonymous: bool,
}

/// Asks a question, routed in the same transaction.
pub async fn ask(
    pool: &PgPool,
    caller: &str,
    settings: &DeskSettings,
    a: Ask<'_>,
    now: DateTime<Utc>,
) -> Result<QuestionRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, a.request_id, Aggregate::Question, id).await?
    {
        let q = load_question(&mut tx, existing).await?;
        if q.asker_id != a.asker || q.topic != a.topic {
            return Err(ChangeError::invalid(
                "request_id",
                "was already used for another question",
            ));
        }
        return Ok(q);
    }
    change::lock(&mut tx, Aggregate::Worker, a.asker, 0).await?;
    let community = desk::community_of_worker(&mut tx, a.asker).await?;
    let expert = rules::choose_expert(&desk::lock_candidates(&mut tx, a.topic).await?);
    desk::insert_question(
        &mut tx,
        &desk::NewQuestion {
            id,
            asker_id: a.asker,
            community_id: community,
            topic: a.topic,
            anonymous: a.anonymous,
            expert_id: expert,
            asked_at: now,
            due_at: rules::due(now, settings.response_hours),
        },
    )
    .await?;
    let message = Uuid::now_v7();
    desk::insert_message(
        &mut tx,
        &desk::NewMessage {
            id: message,
            question_id: id,
            kind: KIND_QUESTION,
            text: a.text,
            author: caller,
            expert_id: None,
            by_county: false,
            at: now,
        },
    )
    .await?;
    let row = load_question(&mut tx, id).await?;
    publish::question_changed(&mut tx, QuestionChange::Asked, &row, Some(message), "").await?;
    tx.commit().await?;
    Ok(row)
}

/// A message added once per `(caller, request_id)`: `Ok(Some(question))` when the request was
/// made already (the question as it stands), `Ok(None)` when the caller adds it now as `id`.
async fn claim_message(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    question: Uuid,
    id: Uuid,
) -> Result<Option<QuestionRow>, ChangeError> {
    let Some(existing) =
        change::claim_request(tx, caller, request_id, Aggregate::QuestionMessage, id).await?
    else {
        return Ok(None);
    };
    match desk::message_question(tx, existing).await? {
        Some(q) if q == question => Ok(Some(load_question(tx, question).await?)),
        _ => Err(ChangeError::invalid(
            "request_id",
            "was already used for a message of another question",
        )),
    }
}

/// Locks the question and refuses `step` where its status forbids it.
pub(super) async fn lock_for(
    tx: &mut PgConnection,
    id: Uuid,
    expected_version: i64,
    step: Step,
) -> Result<QuestionRow, ChangeError> {
    change::lock(tx, Aggregate::Question, id, expected_version).await?;
    let q = load_question(tx, id).await?;
    let status = redsupply_proto::organization::v1::QuestionStatus::try_from(i32::from(q.status))
        .unwrap_or_default();
    if let Some(why) = rules::refusal(step, status, q.first_answered_at.is_some()) {
        return Err(ChangeError::Precondition(why.to_owned()));
    }
    Ok(q)
}

/// Who answers: the expert the question is routed to, or county staff (`None`).
pub async fn answer(
    pool: &PgPool,
    caller: &str,
    as_expert: Option<Uuid>,
    question: Uuid,
    request_id: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<QuestionRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(done) = claim_message(&mut tx, caller, request_id, question, id).await? {
        return Ok(done);
    }
    let q = lock_for(&mut tx, question, 0, Step::Answer).await?;
    if as_expert.is_some() && q.expert_id != as_expert {
        return Err(ChangeError::Precondition(
            "the question is routed to another expert now".into(),
        ));
    }
    desk::insert_message(
        &mut tx,
        &desk::NewMessage {
            id,
            question_id: question,
            kind: KIND_ANSWER,
            text,
            author: caller,
            expert_id: as_expert,
            by_county: as_expert.is_none(),
            at: now,
        },
    )
    .await?;
    desk::mark_answered(&mut tx, question, now).await?;
    let row = load_question(&mut tx, question).await?;
    let first = q.first_answered_at.is_none();
    publish::question_changed(
        &mut tx,
        QuestionChange::Answered { first },
        &row,
        Some(id),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The asker asks again on an answered question: it goes back to its expert (or, if they are
/// away now, to whoever the routing picks), with a new deadline.
pub async fn follow_up(
    pool: &PgPool,
    caller: &str,
    settings: &DeskSettings,
    question: Uuid,
    request_id: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<QuestionRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(done) = claim_message(&mut tx, caller, request_id, question, id).await? {
        return Ok(done);
    }
    let q = lock_for(&mut tx, question, 0, Step::FollowUp).await?;
    let candidates = desk::lock_candidates(&mut tx, q.topic).await?;
    let expert = match q.expert_id {
        Some(e) if candidates.iter().any(|c| c.expert == e) => Some(e),
        _ => rules::choose_expert(&candidates),
    };
    desk::insert_message(
        &mut tx,
        &desk::NewMessage {
            id,
            question_id: question,
            kind: KIND_FOLLOW_UP,
            text,
            author: caller,
            expert_id: None,
            by_county: false,
            at: now,
        },
    )
    .await?;
    desk::mark_waiting(
        &mut tx,
        question,
        expert,
        rules::due(now, settings.response_hours),
    )
    .await?;
    let row = load_question(&mut tx, question).await?;
    publish::question_changed(&mut tx, QuestionChange::FollowedUp, &row, Some(id), "").await?;
    tx.commit().await?;
    Ok(row)
}

/// The asker's rating of the answers (changed as often as they like; the same rating again
/// writes nothing).
pub async fn rate(pool: &PgPool, question: Uuid, rating: i16) -> Result<QuestionRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let q = lock_for(&mut tx, question, 0, Step::Rate).await?;
    if q.rating == rating {
        return Ok(q);
    }
    desk::set_rating(&mut tx, question, rating).await?;
    let row = load_question(&mut tx, question).await?;
    publish::question_changed(&mut tx, QuestionChange::Rated, &row, None, "").await?;
    tx.commit().await?;
    Ok(row)
}

/// County staff route a question waiting (or escalated) to `expert`, its deadline anew.
pub async fn reassign(
    pool: &PgPool,
    settings: &DeskSettings,
    question: Uuid,
    expert: Uuid,
    reason: &str,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<QuestionRow, ChangeError> {
    let mut tx = pool.begin().await?;
    lock_for(&mut tx, question, expected_version, Step::Reassign).await?;
    // The expert's row, so that their leave (SetExpertAvailability) orders after this or before.
    match change::lock(&mut tx, Aggregate::Expert, expert, 0).await {
        Err(ChangeError::NotFound { .. }) => {
            return Err(ChangeError::invalid(
                "expert_id",
                format!("expert {expert} not found"),
            ));
        }
        other => other?,
    };
    if !desk::routable(&mut tx, expert).await? {
        return Err(ChangeError::invalid(
            "expert_id",
            format!("expert {expert} is not available (on leave, or no longer an instructor)"),
        ));
    }
    desk::mark_waiting(
        &mut tx,
        question,
        Some(expert),
        rules::due(now, settings.response_hours),
    )
    .await?;
    let row = load_question(&mut tx, question).await?;
    publish::question_changed(&mut tx, QuestionChange::Reassigned, &row, None, reason).await?;
    tx.commit().await?;
    Ok(row)
}

/// Escalates every question waiting past its deadline at `now`; how many. Replicas sweeping at
/// once skip each other's rows, and a question is escalated once (it no longer waits).
pub async fn escalate_overdue(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let due = desk::escalate_overdue(&mut tx, now, 100).await?;
        for id in &due {
            if let Some(q) = desk::question(&mut tx, *id).await? {
                publish::question_changed(
                    &mut tx,
                    QuestionChange::Escalated,
                    &q,
                    None,
                    "past its response deadline",
                )
                .await?;
            }
        }
        tx.commit().await?;
        if due.is_empty() {
            return Ok(total);
        }
        total += due.len();
    }
}

/// Sweeps for overdue questions every `every` until shutdown.
pub fn spawn_escalation(pool: PgPool, every: Duration, shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match escalate_overdue(&pool, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(escalated = n, "overdue questions escalated to the county"),
                Err(e) => tracing::warn!(error = %e, "question escalation failed; retrying"),
            }
            if kit::shutdown::sleep_or_shutdown(every, &shutdown).await {
                break;
            }
        }
    })
}
