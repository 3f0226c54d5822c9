//! What every change to a registry aggregate shares: idempotent creates on the caller's
//! `request_id`, the version check that refuses a stale update, soft deletes, and one error type
//! mapped to a gRPC status in one place.

use kit::api::{internal, invalid, not_found};
use sqlx::{PgConnection, PgPool};
use tonic::Status;
use uuid::Uuid;

/// Looking ids up in one aggregate's table: every statement a literal.
struct Lookups {
    /// `$1` names a live row.
    exists: &'static str,
    /// `$1` names a row, deleted or not.
    recorded: &'static str,
    /// The first of the ids `$1` (in their order) that names no live row.
    first_missing: &'static str,
}

macro_rules! lookups {
    ($table:literal) => {
        lookups!(@ $table, "")
    };
    ($table:literal, soft_deleted) => {
        lookups!(@ $table, " AND deleted_at IS NULL")
    };
    ($table:literal, withdrawable) => {
        lookups!(@ $table, " AND withdrawn_at IS NULL")
    };
    (@ $table:literal, $live:literal) => {
        Lookups {
            exists: concat!("SELECT EXISTS (SELECT 1 FROM ", $table, " WHERE id = $1", $live, ")"),
            recorded: concat!("SELECT EXISTS (SELECT 1 FROM ", $table, " WHERE id = $1)"),
            first_missing: concat!(
                "SELECT r.id FROM unnest($1::uuid[]) WITH ORDINALITY AS r (id, n)
                 WHERE NOT EXISTS (SELECT 1 FROM ", $table, " t WHERE t.id = r.id", $live, ")
                 ORDER BY r.n LIMIT 1"
            ),
        }
    };
}

/// The aggregates whose rows carry `version` and (most) `deleted_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Grid,
    Worker,
    Township,
    Community,
    Organization,
    JoinRequest,
    Guide,
    Enterprise,
    Forum,
    EnterpriseIssue,
    CareVisit,
    HardshipFile,
    ReportIn,
    CensusVisit,
    Expert,
    Question,
    QuestionMessage,
    FaqEntry,
}

impl Aggregate {
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Grid => "grid",
            Aggregate::Worker => "worker",
            Aggregate::Township => "township",
            Aggregate::Community => "community",
            Aggregate::Organization => "organization",
            Aggregate::JoinRequest => "join request",
            Aggregate::Guide => "guide",
            Aggregate::Enterprise => "enterprise",
            Aggregate::Forum => "forum",
            Aggregate::EnterpriseIssue => "enterprise issue",
            Aggregate::CareVisit => "care visit",
            Aggregate::HardshipFile => "hardship file",
            Aggregate::ReportIn => "report-in",
            Aggregate::CensusVisit => "census visit",
            Aggregate::Expert => "expert",
            Aggregate::Question => "question",
            Aggregate::QuestionMessage => "question message",
            Aggregate::FaqEntry => "FAQ entry",
        }
    }

    /// What a record no longer standing was: withdrawn (records of what happened), or deleted.
    pub fn gone(self) -> &'static str {
        match self {
            Aggregate::EnterpriseIssue
            | Aggregate::CensusVisit
            | Aggregate::Forum
            | Aggregate::CareVisit
            | Aggregate::HardshipFile
            | Aggregate::FaqEntry => "withdrawn",
            _ => "deleted",
        }
    }

    /// The statements that look an id up, over the aggregate's table (soft-deleted aggregates
    /// are live while `deleted_at` is null, records of what happened while not withdrawn).
    fn lookups(self) -> Lookups {
        match self {
            Aggregate::Grid => lookups!("grids", soft_deleted),
            Aggregate::Worker => lookups!("workers", soft_deleted),
            Aggregate::Township => lookups!("townships"),
            Aggregate::Community => lookups!("communities"),
            Aggregate::Organization => lookups!("organizations", soft_deleted),
            Aggregate::JoinRequest => lookups!("join_requests"),
            Aggregate::Guide => lookups!("guides", soft_deleted),
            Aggregate::Enterprise => lookups!("enterprises", soft_deleted),
            Aggregate::Forum => lookups!("forums", withdrawable),
            Aggregate::EnterpriseIssue => lookups!("enterprise_issues", withdrawable),
            Aggregate::CareVisit => lookups!("care_visits", withdrawable),
            Aggregate::HardshipFile => lookups!("hardship_files", withdrawable),
            Aggregate::ReportIn => lookups!("report_ins"),
            Aggregate::CensusVisit => lookups!("census_visits", withdrawable),
            Aggregate::Expert => lookups!("desk_experts"),
            Aggregate::Question => lookups!("questions"),
            Aggregate::QuestionMessage => lookups!("question_messages"),
            Aggregate::FaqEntry => lookups!("faq_entries", withdrawable),
        }
    }

    /// Locks the row and reads `(version, deleted or withdrawn)`; `None` for report-ins and the
    /// desk's messages, never changed after they are made.
    fn lock_sql(self) -> Option<&'static str> {
        Some(match self {
            Aggregate::Grid => {
                "SELECT version, deleted_at IS NOT NULL FROM grids WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Worker => {
                "SELECT version, deleted_at IS NOT NULL FROM workers WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Township => "SELECT version, FALSE FROM townships WHERE id = $1 FOR UPDATE",
            Aggregate::Community => {
                "SELECT version, FALSE FROM communities WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Organization => {
                "SELECT version, deleted_at IS NOT NULL FROM organizations WHERE id = $1 FOR UPDATE"
            }
            Aggregate::JoinRequest => {
                "SELECT version, FALSE FROM join_requests WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Guide => {
                "SELECT version, deleted_at IS NOT NULL FROM guides WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Enterprise => {
                "SELECT version, deleted_at IS NOT NULL FROM enterprises WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Forum => {
                "SELECT version, withdrawn_at IS NOT NULL FROM forums WHERE id = $1 FOR UPDATE"
            }
            Aggregate::EnterpriseIssue => {
                "SELECT version, withdrawn_at IS NOT NULL FROM enterprise_issues WHERE id = $1 FOR UPDATE"
            }
            Aggregate::CensusVisit => {
                "SELECT version, withdrawn_at IS NOT NULL FROM census_visits WHERE id = $1 FOR UPDATE"
            }
            Aggregate::HardshipFile => {
                "SELECT version, withdrawn_at IS NOT NULL FROM hardship_files WHERE id = $1 FOR UPDATE"
            }
            Aggregate::CareVisit => {
                "SELECT version, withdrawn_at IS NOT NULL FROM care_visits WHERE id = $1 FOR UPDATE"
            }
            Aggregate::Expert => "SELECT version, FALSE FROM desk_experts WHERE id = $1 FOR UPDATE",
            Aggregate::Question => "SELECT version, FALSE FROM questions WHERE id = $1 FOR UPDATE",
            Aggregate::FaqEntry => {
                "SELECT version, withdrawn_at IS NOT NULL FROM faq_entries WHERE id = $1 FOR UPDATE"
            }
            Aggregate::ReportIn | Aggregate::QuestionMessage => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{} {id} not found", .what.name())]
    NotFound { what: Aggregate, id: Uuid },
    #[error("{} {id} was {}", .what.name(), .what.gone())]
    Deleted { what: Aggregate, id: Uuid },
    #[error("the {} is at version {current}, not {expected}; reload and retry", .what.name())]
    Stale {
        what: Aggregate,
        current: i64,
        expected: i64,
    },
    /// A field of the request names something that does not exist or may not be used.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The change is well-formed but the aggregate's state forbids it now.
    #[error("{0}")]
    Precondition(String),
    #[error("request_id was already used to create a {0}")]
    RequestIdReused(String),
    /// `field`'s value belongs to another live record (found through its lookup hash).
    #[error("{field}: already registered for {} {id}", .what.name())]
    AlreadyExists {
        field: &'static str,
        what: Aggregate,
        id: Uuid,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ChangeError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ChangeError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The status for a failed change; `context` says what was being done, for internal errors.
    pub fn into_status(self, context: &str) -> Status {
        match self {
            ChangeError::NotFound { what, id } => not_found(what.name(), id),
            ChangeError::Deleted { .. } | ChangeError::Precondition(_) => {
                Status::failed_precondition(self.to_string())
            }
            ChangeError::Stale { .. } => Status::aborted(self.to_string()),
            ChangeError::Invalid { field, message } => invalid(field, message),
            ChangeError::RequestIdReused(_) => invalid("request_id", self.to_string()),
            ChangeError::AlreadyExists { field, what, id } => kit::api::already_exists(
                field,
                &format!("already registered for {} {id}", what.name()),
                Some((what.name(), &id.to_string())),
            ),
            ChangeError::Database(e) => internal(context, e),
        }
    }
}

/// Locks the aggregate's row and checks the caller's expected version (0: no check). Refuses a
/// deleted aggregate unless `allow_deleted`. Returns the current version.
pub async fn lock(
    tx: &mut PgConnection,
    what: Aggregate,
    id: Uuid,
    expected: i64,
) -> Result<i64, ChangeError> {
    let (version, deleted) = lock_row(tx, what, id).await?;
    if deleted {
        return Err(ChangeError::Deleted { what, id });
    }
    at_version(what, version, expected)?;
    Ok(version)
}

/// Locks the row: `(version, deleted)`.
async fn lock_row(
    tx: &mut PgConnection,
    what: Aggregate,
    id: Uuid,
) -> Result<(i64, bool), ChangeError> {
    let sql = what.lock_sql().ok_or(ChangeError::NotFound { what, id })?;
    sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ChangeError::NotFound { what, id })
}

/// Refuses a change made against another version than the current one (0: any).
pub fn at_version(what: Aggregate, current: i64, expected: i64) -> Result<(), ChangeError> {
    if expected != 0 && current != expected {
        return Err(ChangeError::Stale {
            what,
            current,
            expected,
        });
    }
    Ok(())
}

/// Locks a soft-deletable aggregate, deleted or not, at the caller's version (0: any); whether
/// it is deleted.
pub async fn lock_any(
    tx: &mut PgConnection,
    what: Aggregate,
    id: Uuid,
    expected: i64,
) -> Result<bool, ChangeError> {
    let (version, deleted) = lock_row(tx, what, id).await?;
    at_version(what, version, expected)?;
    Ok(deleted)
}

/// Undoes a soft delete of a locked aggregate, with a new version.
pub async fn mark_restored(
    tx: &mut PgConnection,
    what: Aggregate,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    let sql = match what {
        Aggregate::Grid => {
            "UPDATE grids SET deleted_at = NULL, version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Worker => {
            "UPDATE workers SET deleted_at = NULL, version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Organization => {
            "UPDATE organizations SET deleted_at = NULL, version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Guide => {
            "UPDATE guides SET deleted_at = NULL, version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Enterprise => {
            "UPDATE enterprises SET deleted_at = NULL, version = version + 1, updated_at = now() WHERE id = $1"
        }
        other => unreachable!("{} is not restored here", other.name()),
    };
    sqlx::query(sql).bind(id).execute(tx).await?;
    Ok(())
}

/// Soft-deletes a locked aggregate: it keeps its row (and history), with a new version.
pub async fn mark_deleted(
    tx: &mut PgConnection,
    what: Aggregate,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    let sql = match what {
        Aggregate::Grid => {
            "UPDATE grids SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Worker => {
            "UPDATE workers SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Organization => {
            "UPDATE organizations SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Guide => {
            "UPDATE guides SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1"
        }
        Aggregate::Enterprise => {
            "UPDATE enterprises SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1"
        }
        other => unreachable!("{} is not deleted softly", other.name()),
    };
    sqlx::query(sql).bind(id).execute(tx).await?;
    Ok(())
}

/// Whether `id` names a live (not deleted) aggregate; for references in requests.
pub async fn exists(tx: &mut PgConnection, what: Aggregate, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(what.lookups().exists)
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Whether `id` was ever recorded as a `what`, deleted ones included: for reads, which show
/// deleted aggregates too.
pub async fn recorded(pool: &PgPool, what: Aggregate, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(what.lookups().recorded)
        .bind(id)
        .fetch_one(pool)
        .await
}

/// Fails with INVALID_ARGUMENT on `field` unless every id names a live aggregate; one query
/// however many ids (the first missing one, in request order, is named).
pub async fn require_all(
    tx: &mut PgConnection,
    what: Aggregate,
    field: &'static str,
    ids: &[Uuid],
) -> Result<(), ChangeError> {
    if ids.is_empty() {
        return Ok(());
    }
    let missing: Option<Uuid> = sqlx::query_scalar(what.lookups().first_missing)
        .bind(ids)
        .fetch_optional(&mut *tx)
        .await?;
    match missing {
        None => Ok(()),
        Some(id) => Err(ChangeError::invalid(
            field,
            format!("{} {id} does not exist", what.name()),
        )),
    }
}

/// Claims `(caller, request_id)` for a new aggregate with `id`. `Ok(None)`: the claim is new and
/// the caller creates; `Ok(Some(existing))`: the same request already created `existing`.
pub async fn claim_request(
    tx: &mut PgConnection,
    caller: &str,
    request_id: &str,
    what: Aggregate,
    id: Uuid,
) -> Result<Option<Uuid>, ChangeError> {
    let inserted = sqlx::query(
        "INSERT INTO create_requests (caller, request_id, aggregate, id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (caller, request_id) DO NOTHING",
    )
    .bind(caller)
    .bind(request_id)
    .bind(what.name())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let (aggregate, existing): (String, Uuid) = sqlx::query_as(
        "SELECT aggregate, id FROM create_requests WHERE caller = $1 AND request_id = $2",
    )
    .bind(caller)
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    if aggregate != what.name() {
        return Err(ChangeError::RequestIdReused(aggregate));
    }
    Ok(Some(existing))
}
