//! Honours chosen in selections: county staff open a selection (a year or a quarter, its
//! categories, how many places each, the points an award carries) and close it; staff nominate a
//! registered worker with a reason, once per category of a selection; county staff shortlist,
//! award or decline with a reason, reading the candidate's record assembled from the ledger and
//! the deeds stations keeps. An award is final, takes one of its category's places, goes on the
//! worker's record and credits the selection's points once (the ledger entry keyed by the
//! nomination). Nominations and reviews hold the selection's row shared, closing holds it
//! exclusively, so nothing lands in a closed selection; awards hold it exclusively too, so two at
//! once never overfill a category. Every change is announced; retries with the same request or
//! the same decision answer the first outcome.

use kit::bus::enqueue;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::awards::{self, Credit, REASON_HONOUR_AWARDED, Rules};
use crate::{
    domain::{
        LocalClock,
        honours::{self, CandidateRecord, Decision, Period, ReviewRefusal, Standing},
    },
    events::publish,
    store::{self, NewNomination, NewSelection, NominationRow, RowLock, SelectionRow},
};

#[derive(Debug, thiserror::Error)]
pub enum HonoursError {
    #[error("selection {0} not found")]
    UnknownSelection(Uuid),
    #[error("nomination {0} not found")]
    UnknownNomination(Uuid),
    #[error("worker {0} is not registered (or was deleted)")]
    UnregisteredWorker(Uuid),
    #[error("worker {0} is not of a community this token serves")]
    OutOfScope(Uuid),
    #[error("nobody nominates or reviews themself")]
    OwnCase,
    #[error("the selection was closed; it takes no more nominations or reviews")]
    Closed,
    #[error("this selection does not award that category")]
    CategoryNotOffered,
    #[error("a selection of this period already has this title")]
    TitleTaken,
    #[error("the worker is already nominated in this category of the selection")]
    AlreadyNominated(Uuid),
    #[error("request_id was used for another {0}; use a new one")]
    RequestReused(&'static str),
    #[error("enterprise {0} is not the worker's enterprise as registered")]
    NotTheWorkersEnterprise(Uuid),
    #[error("the {what} is at version {found}, not the version {expected} read")]
    Stale {
        what: &'static str,
        found: i64,
        expected: i64,
    },
    #[error(transparent)]
    Refused(#[from] ReviewRefusal),
    #[error("all {0} places of this category are awarded")]
    PlacesTaken(i32),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A selection as county staff open it (fields already checked by `api`).
pub struct OpenSelection<'a> {
    pub request_id: &'a str,
    pub title: &'a str,
    pub period: Period,
    /// Distinct, sorted.
    pub categories: Vec<i16>,
    pub places: i32,
    pub award_points: i64,
    pub by: &'a str,
}

pub async fn open_selection(
    pool: &PgPool,
    clock: &LocalClock,
    o: &OpenSelection<'_>,
) -> Result<SelectionRow, HonoursError> {
    let period = o.period.label();
    let (start, end) = o.period.bounds(clock).expect("a parsed period has bounds");
    let mut tx = pool.begin().await?;
    let same = |done: &SelectionRow| {
        done.title == o.title
            && done.period == period
            && done.categories == o.categories
            && done.places == o.places
            && done.award_points == o.award_points
    };
    if let Some(done) = store::selection_by_request(&mut tx, o.by, o.request_id).await? {
        return retried(same(&done), done, "selection");
    }
    let id = Uuid::now_v7();
    let inserted = store::insert_selection(
        &mut tx,
        &NewSelection {
            id,
            title: o.title,
            period: &period,
            period_start: start,
            period_end: end,
            categories: &o.categories,
            places: o.places,
            award_points: o.award_points,
            opened_by: o.by,
            request_id: o.request_id,
        },
    )
    .await?;
    if inserted.is_none() {
        // The same request may have committed while this one waited on it.
        return match store::selection_by_request(&mut tx, o.by, o.request_id).await? {
            Some(done) => retried(same(&done), done, "selection"),
            None => Err(HonoursError::TitleTaken),
        };
    }
    let row = selection(&mut tx, id, RowLock::None).await?;
    enqueue(&mut tx, publish::selection_changed(&row, o.by)).await?;
    tx.commit().await?;
    tracing::info!(selection_id = %id, period, "honours selection opened");
    Ok(row)
}

/// Closes a selection (closing a closed one answers it as it is).
pub async fn close_selection(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    by: &str,
) -> Result<SelectionRow, HonoursError> {
    let mut tx = pool.begin().await?;
    let found = selection(&mut tx, id, RowLock::Update).await?;
    if found.closed_at.is_some() {
        return Ok(found);
    }
    if expected_version != 0 && expected_version != found.version {
        return Err(HonoursError::Stale {
            what: "selection",
            found: found.version,
            expected: expected_version,
        });
    }
    store::close_selection(&mut tx, id).await?;
    let row = selection(&mut tx, id, RowLock::None).await?;
    enqueue(&mut tx, publish::selection_changed(&row, by)).await?;
    tx.commit().await?;
    Ok(row)
}

/// What a retry answers: the first outcome, or a refusal when the request id served another.
fn retried<T>(same: bool, done: T, what: &'static str) -> Result<T, HonoursError> {
    if same {
        Ok(done)
    } else {
        Err(HonoursError::RequestReused(what))
    }
}

async fn selection(
    conn: &mut PgConnection,
    id: Uuid,
    lock: RowLock,
) -> Result<SelectionRow, HonoursError> {
    store::selection(conn, id, lock)
        .await?
        .ok_or(HonoursError::UnknownSelection(id))
}

/// A nomination as staff make it (fields checked by `api`; the caller's scope over the worker
/// checked here, against the worker's community as this transaction reads it).
pub struct Nominate<'a> {
    pub request_id: &'a str,
    pub selection: Uuid,
    pub category: i16,
    pub worker: Uuid,
    pub enterprise: Option<Uuid>,
    pub reason: &'a str,
    pub by: &'a str,
    /// The communities the caller serves (`None`: the county).
    pub scope: Option<&'a [Uuid]>,
}

/// Nominates; the nomination with its selection (whose period its record covers).
pub async fn nominate(
    pool: &PgPool,
    n: &Nominate<'_>,
) -> Result<(NominationRow, SelectionRow), HonoursError> {
    let mut tx = pool.begin().await?;
    let same = |done: &NominationRow| {
        done.selection_id == n.selection
            && done.category == n.category
            && done.worker_id == n.worker
            && done.enterprise_id == n.enterprise
            && done.reason == n.reason
    };
    if let Some(done) = store::nomination_by_request(&mut tx, n.by, n.request_id).await? {
        let sel = selection(&mut tx, done.selection_id, RowLock::None).await?;
        return retried(same(&done), (done, sel), "nomination");
    }
    let sel = selection(&mut tx, n.selection, RowLock::Share).await?;
    if sel.closed_at.is_some() {
        return Err(HonoursError::Closed);
    }
    if !sel.categories.contains(&n.category) {
        return Err(HonoursError::CategoryNotOffered);
    }
    let (community, enterprise) = store::worker_affiliation(&mut tx, n.worker)
        .await?
        .ok_or(HonoursError::UnregisteredWorker(n.worker))?;
    // The caller's scope over the worker as this transaction reads them.
    if let Some(scope) = n.scope
        && !community.is_some_and(|c| scope.contains(&c))
    {
        return Err(HonoursError::OutOfScope(n.worker));
    }
    if let Some(e) = n.enterprise.filter(|e| enterprise != Some(*e)) {
        return Err(HonoursError::NotTheWorkersEnterprise(e));
    }
    let Some(row) = store::insert_nomination(
        &mut tx,
        &NewNomination {
            id: Uuid::now_v7(),
            selection_id: n.selection,
            category: n.category,
            worker_id: n.worker,
            community_id: community,
            enterprise_id: n.enterprise,
            reason: n.reason,
            nominated_by: n.by,
            request_id: n.request_id,
        },
    )
    .await?
    else {
        if let Some(done) = store::nomination_by_request(&mut tx, n.by, n.request_id).await? {
            return retried(same(&done), (done, sel), "nomination");
        }
        let existing = store::nomination_of(&mut tx, n.selection, n.category, n.worker)
            .await?
            .map_or(Uuid::nil(), |e| e.id);
        return Err(HonoursError::AlreadyNominated(existing));
    };
    enqueue(&mut tx, publish::nomination_changed(&row, n.reason, n.by)).await?;
    tx.commit().await?;
    tracing::info!(nomination_id = %row.id, worker_id = %n.worker, "worker nominated");
    Ok((row, sel))
}

/// County staff's decision on a nomination.
pub struct Review<'a> {
    pub nomination: Uuid,
    pub decision: Decision,
    pub reason: &'a str,
    pub expected_version: i64,
    pub by: &'a str,
}

/// Applies county staff's decision; the nomination with its selection.
pub async fn review(
    pool: &PgPool,
    rules: &Rules,
    r: &Review<'_>,
) -> Result<(NominationRow, SelectionRow), HonoursError> {
    let mut tx = pool.begin().await?;
    let peek = store::nomination(&mut tx, r.nomination, false)
        .await?
        .ok_or(HonoursError::UnknownNomination(r.nomination))?;
    // The selection's row first, then the nomination's: the order every review and close takes.
    let lock = if r.decision == Decision::Award {
        RowLock::Update
    } else {
        RowLock::Share
    };
    let sel = selection(&mut tx, peek.selection_id, lock).await?;
    let found = store::nomination(&mut tx, r.nomination, true)
        .await?
        .ok_or(HonoursError::UnknownNomination(r.nomination))?;
    let from = Standing::from_i16(found.status).expect("stored statuses are known");
    // A retry of the decision that was made answers it.
    if from == honours::outcome(r.decision)
        && found.review_reason == r.reason
        && found.reviewed_by == r.by
    {
        return Ok((found, sel));
    }
    if r.expected_version != 0 && r.expected_version != found.version {
        return Err(HonoursError::Stale {
            what: "nomination",
            found: found.version,
            expected: r.expected_version,
        });
    }
    if sel.closed_at.is_some() {
        return Err(HonoursError::Closed);
    }
    if found.worker_id.to_string() == r.by {
        return Err(HonoursError::OwnCase);
    }
    let to = honours::review(from, r.decision)?;
    let record = store::candidate_record(
        &mut tx,
        found.worker_id,
        sel.period_start,
        sel.period_end,
        found.id,
    )
    .await?;
    let mut points = 0;
    if to == Standing::Awarded {
        if store::awards_in(&mut tx, sel.id, found.category).await? >= i64::from(sel.places) {
            return Err(HonoursError::PlacesTaken(sel.places));
        }
        if store::worker_affiliation(&mut tx, found.worker_id)
            .await?
            .is_none()
        {
            return Err(HonoursError::UnregisteredWorker(found.worker_id));
        }
        points = awards::credit(
            &mut tx,
            rules,
            Credit {
                worker: found.worker_id,
                amount: sel.award_points,
                reason: REASON_HONOUR_AWARDED,
                source_event: found.id,
                subject_ref: Some(format!("honour:{}", found.id)),
            },
        )
        .await?;
    }
    let row = store::apply_review(
        &mut tx,
        &store::Review {
            id: found.id,
            status: to as i16,
            reason: r.reason,
            by: r.by,
            record: &record,
            points,
        },
    )
    .await?;
    enqueue(&mut tx, publish::nomination_changed(&row, r.reason, r.by)).await?;
    tx.commit().await?;
    tracing::info!(nomination_id = %row.id, status = ?to, points, "nomination reviewed");
    Ok((row, sel))
}

/// A nomination's record: as the last review saw it once decided, live before.
pub async fn record_of(
    pool: &PgPool,
    row: &NominationRow,
    sel: &SelectionRow,
) -> Result<CandidateRecord, sqlx::Error> {
    let decided = Standing::from_i16(row.status).is_some_and(Standing::decided);
    match &row.record {
        Some(stored) if decided => Ok(stored.0),
        _ => {
            let mut conn = pool.acquire().await?;
            store::candidate_record(
                &mut conn,
                row.worker_id,
                sel.period_start,
                sel.period_end,
                row.id,
            )
            .await
        }
    }
}

/// A selection for reading.
pub async fn selection_to_read(pool: &PgPool, id: Uuid) -> Result<SelectionRow, HonoursError> {
    let mut conn = pool.acquire().await?;
    selection(&mut conn, id, RowLock::None).await
}

/// A nomination with its selection, for reading.
pub async fn nomination_to_read(
    pool: &PgPool,
    id: Uuid,
) -> Result<(NominationRow, SelectionRow), HonoursError> {
    let mut conn = pool.acquire().await?;
    let row = store::nomination(&mut conn, id, false)
        .await?
        .ok_or(HonoursError::UnknownNomination(id))?;
    let sel = selection(&mut conn, row.selection_id, RowLock::None).await?;
    Ok((row, sel))
}
