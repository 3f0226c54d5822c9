//! Turning failures into `tonic::Status` without losing them: field violations become
//! `INVALID_ARGUMENT` with `BadRequest` details; internal errors keep their cause in the log (with the
//! trace id) and as the status's source; lists share one paging rule.

use std::{error::Error as StdError, sync::Arc};

use redsupply_proto::common::v1::LatLng;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

const NUL: &str = "must not contain NUL characters";

/// Collects every field violation of one request, so the client learns all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `field` when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: impl Into<String>) -> &mut Self {
        if !ok {
            self.add(field, description);
        }
        self
    }

    pub fn add(&mut self, field: &str, description: impl Into<String>) -> &mut Self {
        self.0.push((field.to_owned(), description.into()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A required id: the UUID, or a violation of `field`.
    pub fn id(&mut self, field: &str, value: &str) -> Option<uuid::Uuid> {
        let id = uuid::Uuid::parse_str(value).ok();
        self.check(id.is_some(), field, "must be a UUID");
        id
    }

    /// An optional id: `None` when empty, else as [`id`](Self::id).
    pub fn optional_id(&mut self, field: &str, value: &str) -> Option<uuid::Uuid> {
        if value.is_empty() {
            None
        } else {
            self.id(field, value)
        }
    }

    /// The client-chosen `request_id` of a create: required, at most 128 characters, no NUL.
    pub fn request_id(&mut self, value: &str) -> &mut Self {
        self.check(!value.is_empty(), "request_id", "is required")
            .check(
                value.len() <= 128,
                "request_id",
                "must be at most 128 characters",
            )
            .check(!value.contains('\0'), "request_id", NUL)
    }

    /// A text field: at most `max` characters once trimmed, present when `required`, and without
    /// NUL characters (which PostgreSQL cannot store). Returns the trimmed text.
    pub fn text<'a>(&mut self, field: &str, value: &'a str, max: usize, required: bool) -> &'a str {
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        self.check(!required || len > 0, field, "is required")
            .check(
                len <= max,
                field,
                format!("must be at most {max} characters"),
            )
            .check(!value.contains('\0'), field, NUL);
        trimmed
    }

    /// A required WGS 84 location named `field`; (0, 0) when missing (with a violation).
    pub fn location(&mut self, field: &str, location: Option<&LatLng>) -> (f64, f64) {
        match location {
            None => {
                self.add(field, "is required");
                (0.0, 0.0)
            }
            Some(l) => {
                self.check(
                    l.latitude.is_finite() && (-90.0..=90.0).contains(&l.latitude),
                    &format!("{field}.latitude"),
                    "must be within -90..90",
                )
                .check(
                    l.longitude.is_finite() && (-180.0..=180.0).contains(&l.longitude),
                    &format!("{field}.longitude"),
                    "must be within -180..180",
                );
                (l.latitude, l.longitude)
            }
        }
    }

    /// `Ok` when nothing was recorded, else `INVALID_ARGUMENT` naming each field.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = self
            .0
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut details = ErrorDetails::new();
        for (field, description) in self.0 {
            details.add_bad_request_violation(field, description);
        }
        Err(Status::with_error_details(
            Code::InvalidArgument,
            message,
            details,
        ))
    }
}

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

pub fn not_found(what: &str, id: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} {id} not found"))
}

/// Maps a store failure to a status. The full cause chain goes to the log and stays attached as the
/// status's source; the client gets the code and a short message with the trace id to quote.
pub fn internal<E>(context: &str, err: E) -> Status
where
    E: StdError + Send + Sync + 'static,
{
    let chain = cause_chain(&err);
    let trace_id = crate::telemetry::current_trace_id();
    let code = as_sqlx(&err).map_or(Code::Internal, store_code);
    if code == Code::InvalidArgument {
        // Text PostgreSQL cannot store that a field check missed: the caller's input, not ours.
        tracing::info!(error = %chain, %trace_id, "{context}: unstorable text");
        let mut status = Status::invalid_argument(format!(
            "{context}: a text field holds a character that cannot be stored (NUL)"
        ));
        status.set_source(Arc::new(err));
        return status;
    }
    tracing::error!(error = %chain, %trace_id, "{context}");
    let mut status = Status::new(code, format!("{context} failed (trace {trace_id})"));
    status.set_source(Arc::new(err));
    status
}

/// The code a store failure deserves: a database that is away, overloaded, cancelled a statement
/// (its `statement_timeout`) or ended the session (`idle_in_transaction_session_timeout`, a
/// restart) is UNAVAILABLE, so clients retry; a serialization failure or deadlock is ABORTED; the
/// rest is INTERNAL.
fn store_code(err: &sqlx::Error) -> Code {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Code::Unavailable
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("40001" | "40P01") => Code::Aborted,
            Some(c) if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
                Code::Unavailable
            }
            Some("25P03") => Code::Unavailable,
            // character_not_in_repertoire: a NUL in a text value.
            Some("22021") => Code::InvalidArgument,
            _ => Code::Internal,
        },
        _ => Code::Internal,
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

/// One rule for every list: `page_size` 0 means the default, at most `MAX_PAGE_SIZE`.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

pub fn page_size(field_value: i32) -> Result<i64, Status> {
    match field_value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(invalid("page_size", "must not be negative")),
        n => Ok(i64::from(n).min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens are the id of the last item of the previous page (ids are UUIDv7, so ordered by time).
pub fn page_after(token: &str) -> Result<Option<uuid::Uuid>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(token)
        .map(Some)
        .map_err(|_| invalid("page_token", "is not a token this service gave out"))
}

/// The next page's token: the last id when the page came back full.
pub fn next_page_token(ids: &[uuid::Uuid], size: i64) -> String {
    match ids.last() {
        Some(last) if ids.len() as i64 == size => last.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_name_every_field() {
        let mut v = Violations::new();
        v.check(false, "location.latitude", "must be within -90..90")
            .check(true, "description", "never")
            .check(false, "request_id", "is required");
        let status = v.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status
            .get_details_bad_request()
            .expect("BadRequest details");
        let fields: Vec<_> = details
            .field_violations
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["location.latitude", "request_id"]);
    }

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size(-1).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn internal_keeps_the_cause() {
        let status = internal("loading the tip", sqlx::Error::PoolTimedOut);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.source().is_some());
    }
}
