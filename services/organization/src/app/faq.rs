//! The desk's FAQ (`QuestionDeskService`): an answered question published in texts staff
//! checked, one live entry per question, withdrawn with a reason; each change and its event in one
//! transaction, a publication idempotent on the caller's `request_id`.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::desk::lock_for;
use crate::{
    change::{self, Aggregate, ChangeError},
    domain::desk::Step,
    events::publish::desk as publish,
    store::{
        desk,
        faq::{self, FaqRow},
    },
};

pub struct Publication<'a> {
    pub request_id: &'a str,
    pub question: Uuid,
    /// Empty: the question's first text, and the latest answer.
    pub question_text: &'a str,
    pub answer_text: &'a str,
}

pub async fn publish_faq(
    pool: &PgPool,
    caller: &str,
    p: Publication<'_>,
) -> Result<FaqRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    if let Some(existing) =
        change::claim_request(&mut tx, caller, p.request_id, Aggregate::FaqEntry, id).await?
    {
        let entry = load_faq(&mut tx, existing).await?;
        if entry.question_id != p.question {
            return Err(ChangeError::invalid(
                "request_id",
                "was already used to publish another question",
            ));
        }
        return Ok(entry);
    }
    let q = lock_for(&mut tx, p.question, 0, Step::Publish).await?;
    if let Some(live) = faq::live_of(&mut tx, p.question).await? {
        return Err(ChangeError::AlreadyExists {
            field: "question_id",
            what: Aggregate::FaqEntry,
            id: live,
        });
    }
    let asked = desk::messages(&mut tx, &[p.question], true).await?;
    let question_text = match p.question_text {
        "" => asked.first().map(|m| m.text.clone()).unwrap_or_default(),
        t => t.to_owned(),
    };
    let answer_text = match p.answer_text {
        "" => desk::latest_answer(&mut tx, p.question)
            .await?
            .unwrap_or_default(),
        t => t.to_owned(),
    };
    faq::insert(
        &mut tx,
        &faq::NewEntry {
            id,
            question_id: q.id,
            topic: q.topic,
            community_id: q.community_id,
            question: &question_text,
            answer: &answer_text,
            published_by: caller,
        },
    )
    .await?;
    let row = load_faq(&mut tx, id).await?;
    publish::faq_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn withdraw_faq(pool: &PgPool, id: Uuid, reason: &str) -> Result<FaqRow, ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::FaqEntry, id, 0).await?;
    faq::withdraw(&mut tx, id, reason).await?;
    let row = load_faq(&mut tx, id).await?;
    publish::faq_changed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}

async fn load_faq(tx: &mut PgConnection, id: Uuid) -> Result<FaqRow, ChangeError> {
    faq::get(tx, id).await?.ok_or(ChangeError::NotFound {
        what: Aggregate::FaqEntry,
        id,
    })
}
