//! Turning failures into `tonic::Status` without losing them: internal errors keep their cause
//! in the log (with the trace id) and as the status's source; what the store refuses of the
//! caller's input keeps a client's code.

use std::{error::Error as StdError, sync::Arc};

use tonic::{Code, Status};

use crate::db::StoreFailure;

use super::*;

/// `INVALID_ARGUMENT` for a single field.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_result().unwrap_err()
}

/// Parses a UUID field, naming it when it is not one.
pub fn parse_id(field: &str, value: &str) -> Result<uuid::Uuid, Status> {
    uuid::Uuid::parse_str(value).map_err(|_| invalid(field, "must be a UUID"))
}

/// ALREADY_EXISTS naming `field` (as a bad request names it) and, when given, the record that
/// holds the value (`what` `id`, as resource info), so a client can go to it.
pub fn already_exists(field: &str, description: &str, existing: Option<(&str, &str)>) -> Status {
    let mut details = tonic_types::ErrorDetails::with_bad_request_violation(field, description);
    if let Some((what, id)) = existing {
        details.set_resource_info(what, id, "", description);
    }
    <Status as tonic_types::StatusExt>::with_error_details(
        Code::AlreadyExists,
        format!("{field}: {description}"),
        details,
    )
}

pub fn not_found(what: &str, id: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} {id} not found"))
}

/// Maps a store failure to a status. The full cause chain goes to the log and stays attached as the
/// status's source; the client gets the code and a short message with the trace id to quote.
///
/// A failure the caller's input caused (a unique or foreign key, a CHECK, a value the column cannot
/// hold) keeps its code — ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT — names the
/// constraint, and is logged at warn: validation should have caught it first, but a client never
/// sees INTERNAL for its own mistake.
pub fn internal<E>(context: &str, err: E) -> Status
where
    E: StdError + Send + Sync + 'static,
{
    let chain = cause_chain(&err);
    let trace_id = crate::telemetry::current_trace_id();
    let (code, constraint) = as_sqlx(&err).map_or((Code::Internal, None), |e| {
        (store_code(e), constraint_of(e).map(str::to_owned))
    });
    let mut status = match code {
        Code::InvalidArgument | Code::AlreadyExists | Code::FailedPrecondition => {
            // A client's code, but validation should have caught it first: an operator sees it.
            tracing::warn!(error = %chain, %trace_id, "{context}: refused by the store");
            let what = match code {
                Code::AlreadyExists => "a record with the same unique value exists",
                Code::FailedPrecondition => "a record it refers to does not exist",
                _ => "a value cannot be stored as given",
            };
            let mut message = format!("{context}: {what}");
            if let Some(c) = &constraint {
                message.push_str(&format!(" (constraint {c})"));
            }
            Status::new(code, message)
        }
        _ => {
            tracing::error!(error = %chain, %trace_id, "{context}");
            Status::new(code, format!("{context} failed (trace {trace_id})"))
        }
    };
    status.set_source(Arc::new(err));
    status
}

/// The constraint a store failure names, when it is a database error that names one.
pub fn constraint_of(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// True when `err` is a unique violation of `constraint`.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}

/// The code a store failure deserves: a database that is away, overloaded, cancelled a statement
/// (its `statement_timeout`) or ended the session (`idle_in_transaction_session_timeout`, a
/// restart) is UNAVAILABLE, so clients retry; a serialization failure or deadlock is ABORTED; input
/// the store refuses keeps a client's code; the rest is INTERNAL.
fn store_code(err: &sqlx::Error) -> Code {
    match crate::db::classify(err) {
        StoreFailure::Unavailable | StoreFailure::TimedOut => Code::Unavailable,
        StoreFailure::Contention => Code::Aborted,
        StoreFailure::Duplicate => Code::AlreadyExists,
        StoreFailure::MissingReference => Code::FailedPrecondition,
        StoreFailure::BadInput => Code::InvalidArgument,
        StoreFailure::Bug => Code::Internal,
    }
}

fn as_sqlx<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a sqlx::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(s) = e.downcast_ref::<sqlx::Error>() {
            return Some(s);
        }
        cur = e.source();
    }
    None
}

/// "outer: inner: innermost".
pub fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
