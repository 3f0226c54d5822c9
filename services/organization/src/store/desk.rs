//! The Q&A desk's experts, questions and their threads of messages.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::desk::Candidate;

pub const WAITING: i16 = 1;
pub const ESCALATED: i16 = 2;
pub const ANSWERED: i16 = 3;

pub const KIND_QUESTION: i16 = 1;
pub const KIND_ANSWER: i16 = 2;
pub const KIND_FOLLOW_UP: i16 = 3;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpertRow {
    pub id: Uuid,
    pub name: String,
    pub department: String,
    pub topics: Vec<i16>,
    pub guide_id: Option<Uuid>,
    pub lecturer_id: Option<Uuid>,
    pub available: bool,
    pub waiting: i64,
    pub version: i64,
}

/// The condition on `desk_experts e LEFT JOIN guides g` (kind `$2`) that an expert takes
/// questions: available, and an instructor only while their guide is one and not deleted.
macro_rules! routable {
    () => {
        "e.available AND (e.guide_id IS NULL OR (g.deleted_at IS NULL AND g.kind = $2))"
    };
}

macro_rules! expert_select {
    () => {
        "SELECT e.id, e.name, e.department, e.topics, e.guide_id, e.lecturer_id, e.available,
                (SELECT count(*) FROM questions q WHERE q.expert_id = e.id AND q.status = 1)
                    AS waiting,
                e.version
         FROM desk_experts e "
    };
}

pub struct NewExpert<'a> {
    pub name: &'a str,
    pub department: &'a str,
    pub topics: &'a [i16],
    pub guide_id: Option<Uuid>,
    pub lecturer_id: Option<Uuid>,
}

pub async fn expert(tx: &mut PgConnection, id: Uuid) -> Result<Option<ExpertRow>, sqlx::Error> {
    sqlx::query_as(concat!(expert_select!(), "WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The expert who is this guide or this lecturer already, if any.
pub async fn expert_of(
    tx: &mut PgConnection,
    guide: Option<Uuid>,
    lecturer: Option<Uuid>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM desk_experts
         WHERE ($1::uuid IS NOT NULL AND guide_id = $1) OR ($2::uuid IS NOT NULL AND lecturer_id = $2)",
    )
    .bind(guide)
    .bind(lecturer)
    .fetch_optional(tx)
    .await
}

pub async fn insert_expert(
    tx: &mut PgConnection,
    id: Uuid,
    e: &NewExpert<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO desk_experts (id, name, department, topics, guide_id, lecturer_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(e.name)
    .bind(e.department)
    .bind(e.topics)
    .bind(e.guide_id)
    .bind(e.lecturer_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets a locked expert's availability, with a new version when it changes.
pub async fn set_available(
    tx: &mut PgConnection,
    id: Uuid,
    available: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE desk_experts SET available = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND available <> $2",
    )
    .bind(id)
    .bind(available)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn list_experts(
    pool: &PgPool,
    topic: Option<i16>,
    available_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ExpertRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        expert_select!(),
        "WHERE ($1::smallint IS NULL OR $1 = ANY (e.topics))
           AND (NOT $2 OR (e.available AND (e.guide_id IS NULL OR EXISTS (
                SELECT 1 FROM guides g WHERE g.id = e.guide_id AND g.deleted_at IS NULL AND g.kind = $5))))
           AND ($3::uuid IS NULL OR e.id > $3)
         ORDER BY e.id LIMIT $4"
    ))
    .bind(topic)
    .bind(available_only)
    .bind(after)
    .bind(limit)
    .bind(super::guides::INSTRUCTOR)
    .fetch_all(pool)
    .await
}

/// Whether expert `id` takes questions: available, and (an instructor) still a guide of that kind.
pub async fn routable(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT EXISTS (SELECT 1 FROM desk_experts e LEFT JOIN guides g ON g.id = e.guide_id
         WHERE e.id = $1 AND ",
        routable!(),
        ")"
    ))
    .bind(id)
    .bind(super::guides::INSTRUCTOR)
    .fetch_one(tx)
    .await
}

/// The routable experts of `topic` with what waits for each. Locks them, so two questions
/// asked at once are routed one after the other and the load counts stay true.
pub async fn lock_candidates(
    tx: &mut PgConnection,
    topic: i16,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(concat!(
        "SELECT e.id FROM desk_experts e LEFT JOIN guides g ON g.id = e.guide_id
         WHERE $1 = ANY (e.topics) AND ",
        routable!(),
        " ORDER BY e.id FOR UPDATE OF e"
    ))
    .bind(topic)
    .bind(super::guides::INSTRUCTOR)
    .fetch_all(&mut *tx)
    .await?;
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT e.id, count(q.id) FROM unnest($1::uuid[]) AS e (id)
         LEFT JOIN questions q ON q.expert_id = e.id AND q.status = 1
         GROUP BY e.id",
    )
    .bind(&ids)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(expert, waiting)| Candidate { expert, waiting })
        .collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuestionRow {
    pub id: Uuid,
    pub asker_id: Uuid,
    pub community_id: Option<Uuid>,
    pub topic: i16,
    pub anonymous: bool,
    pub status: i16,
    pub expert_id: Option<Uuid>,
    pub expert_name: Option<String>,
    pub asked_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub first_due_at: DateTime<Utc>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub rating: i16,
    pub faq_entry_id: Option<Uuid>,
    pub version: i64,
}

macro_rules! question_select {
    () => {
        "SELECT q.id, q.asker_id, q.community_id, q.topic, q.anonymous, q.status, q.expert_id,
                e.name AS expert_name, q.asked_at, q.due_at, q.first_due_at, q.first_answered_at,
                q.escalated_at, q.rating,
                (SELECT f.id FROM faq_entries f WHERE f.question_id = q.id AND f.withdrawn_at IS NULL)
                    AS faq_entry_id,
                q.version
         FROM questions q LEFT JOIN desk_experts e ON e.id = q.expert_id "
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub question_id: Uuid,
    pub kind: i16,
    pub text: String,
    pub expert_id: Option<Uuid>,
    pub by_county: bool,
    pub created_at: DateTime<Utc>,
}

pub struct NewQuestion {
    pub id: Uuid,
    pub asker_id: Uuid,
    pub community_id: Option<Uuid>,
    pub topic: i16,
    pub anonymous: bool,
    pub expert_id: Option<Uuid>,
    pub asked_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

pub async fn insert_question(tx: &mut PgConnection, q: &NewQuestion) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO questions (id, asker_id, community_id, topic, anonymous, status, expert_id,
                                asked_at, due_at, first_due_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8)",
    )
    .bind(q.id)
    .bind(q.asker_id)
    .bind(q.community_id)
    .bind(q.topic)
    .bind(q.anonymous)
    .bind(q.expert_id)
    .bind(q.asked_at)
    .bind(q.due_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn question(tx: &mut PgConnection, id: Uuid) -> Result<Option<QuestionRow>, sqlx::Error> {
    sqlx::query_as(concat!(question_select!(), "WHERE q.id = $1"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// What a list of questions is narrowed to: each filter `None` is no limit.
#[derive(Debug, Default)]
pub struct QuestionFilter {
    pub status: Option<i16>,
    pub topic: Option<i16>,
    pub expert: Option<Uuid>,
    pub asker: Option<Uuid>,
    pub communities: Option<Vec<Uuid>>,
}

pub async fn list_questions(
    pool: &PgPool,
    f: &QuestionFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<QuestionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        question_select!(),
        "WHERE ($1::smallint IS NULL OR q.status = $1) AND ($2::smallint IS NULL OR q.topic = $2)
           AND ($3::uuid IS NULL OR q.expert_id = $3) AND ($4::uuid IS NULL OR q.asker_id = $4)
           AND ($5::uuid[] IS NULL OR q.community_id = ANY ($5))
           AND ($6::uuid IS NULL OR q.id > $6)
         ORDER BY q.id LIMIT $7"
    ))
    .bind(f.status)
    .bind(f.topic)
    .bind(f.expert)
    .bind(f.asker)
    .bind(f.communities.as_deref())
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The messages of these questions, oldest first; `first_only`: each question's first.
pub async fn messages(
    conn: &mut PgConnection,
    questions: &[Uuid],
    first_only: bool,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, question_id, kind, text, expert_id, by_county, created_at
         FROM question_messages WHERE question_id = ANY ($1) AND (NOT $2 OR kind = 1)
         ORDER BY question_id, id",
    )
    .bind(questions)
    .bind(first_only)
    .fetch_all(conn)
    .await
}

pub struct NewMessage<'a> {
    pub id: Uuid,
    pub question_id: Uuid,
    pub kind: i16,
    pub text: &'a str,
    pub author: &'a str,
    pub expert_id: Option<Uuid>,
    pub by_county: bool,
    pub at: DateTime<Utc>,
}

pub async fn insert_message(tx: &mut PgConnection, m: &NewMessage<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO question_messages (id, question_id, kind, text, author, expert_id, by_county, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(m.id)
    .bind(m.question_id)
    .bind(m.kind)
    .bind(m.text)
    .bind(m.author)
    .bind(m.expert_id)
    .bind(m.by_county)
    .bind(m.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The latest answer's text, if any.
pub async fn latest_answer(
    tx: &mut PgConnection,
    question: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT text FROM question_messages WHERE question_id = $1 AND kind = 2
         ORDER BY id DESC LIMIT 1",
    )
    .bind(question)
    .fetch_optional(tx)
    .await
}

/// A locked question answered at `at`: its first answer's time kept once.
pub async fn mark_answered(
    tx: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE questions SET status = 3, first_answered_at = coalesce(first_answered_at, $2),
            version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A locked question waiting again, for `expert` (None: the county), due at `due_at`.
pub async fn mark_waiting(
    tx: &mut PgConnection,
    id: Uuid,
    expert: Option<Uuid>,
    due_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE questions SET status = 1, expert_id = $2, due_at = $3, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(expert)
    .bind(due_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn set_rating(tx: &mut PgConnection, id: Uuid, rating: i16) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE questions SET rating = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(rating)
        .execute(tx)
        .await?;
    Ok(())
}

/// Escalates up to `limit` waiting questions past their deadline at `now`, skipping any another
/// transaction holds; their ids.
pub async fn escalate_overdue(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE questions SET status = 2, escalated_at = $1, version = version + 1
         WHERE id IN (SELECT id FROM questions WHERE status = 1 AND due_at < $1
                      ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Serializes enrolments of one person (a lecturer, who has no row here to lock) until the
/// transaction ends.
pub async fn lock_person(tx: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The question a message belongs to.
pub async fn message_question(
    tx: &mut PgConnection,
    message: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT question_id FROM question_messages WHERE id = $1")
        .bind(message)
        .fetch_optional(tx)
        .await
}

/// The question and the message `caller` added with `request_id`, if they did.
pub async fn question_of_request(
    conn: &mut PgConnection,
    caller: &str,
    request_id: &str,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.question_id, m.id FROM create_requests c JOIN question_messages m ON m.id = c.id
         WHERE c.caller = $1 AND c.request_id = $2 AND c.aggregate = 'question message'",
    )
    .bind(caller)
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

/// The community a worker belongs to now.
pub async fn community_of_worker(
    tx: &mut PgConnection,
    worker: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT community_id FROM workers WHERE id = $1")
        .bind(worker)
        .fetch_one(tx)
        .await
}
