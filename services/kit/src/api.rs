//! Turning failures into `tonic::Status` without losing them: field violations become
//! `INVALID_ARGUMENT` with `BadRequest` details; internal errors keep their cause in the log (with the
//! trace id) and as the status's source; lists share one paging rule.

use std::{collections::HashSet, error::Error as StdError, hash::Hash, sync::Arc};

use redsupply_proto::common::v1::LatLng;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

const NUL: &str = "must not contain NUL characters";
const CONTROL: &str = "must not contain control characters";

/// The longest `request_id` any create accepts, in bytes (it is part of a unique index).
pub const MAX_REQUEST_ID: usize = 128;

/// At most this many violations go back in one response: a request with thousands of bad elements
/// still gets a trailer every client can read (default clients stop at 8 KiB of metadata).
pub const MAX_VIOLATIONS: usize = 10;

/// A description is cut to this many characters in the response (values are never echoed whole).
const MAX_DESCRIPTION: usize = 200;

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

    /// The client-chosen `request_id` of a create: required, at most [`MAX_REQUEST_ID`] bytes, no
    /// control characters.
    pub fn request_id(&mut self, value: &str) -> &mut Self {
        self.check(!value.is_empty(), "request_id", "is required");
        self.optional_request_id(value)
    }

    /// A `request_id` that may be empty (upserts: empty when updating), else as
    /// [`request_id`](Self::request_id).
    pub fn optional_request_id(&mut self, value: &str) -> &mut Self {
        self.check(
            value.len() <= MAX_REQUEST_ID,
            "request_id",
            format!("must be at most {MAX_REQUEST_ID} bytes"),
        );
        self.characters("request_id", value, false)
    }

    /// Refuses NUL (PostgreSQL cannot store it) and other control characters; `multiline` text may
    /// hold line breaks and tabs.
    fn characters(&mut self, field: &str, value: &str, multiline: bool) -> &mut Self {
        if value.contains('\0') {
            return self.add(field, NUL);
        }
        let bad = value
            .chars()
            .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
        self.check(!bad, field, CONTROL)
    }

    /// A text field: at most `max` characters once trimmed, present when `required`, without NUL
    /// (which PostgreSQL cannot store) or control characters other than line breaks and tabs.
    /// Returns the trimmed text.
    pub fn text<'a>(&mut self, field: &str, value: &'a str, max: usize, required: bool) -> &'a str {
        self.bounded_text(field, value, max, required, true)
    }

    /// A one-line text (a name, a code, a reference): as [`text`](Self::text), without line breaks
    /// or tabs.
    pub fn line<'a>(&mut self, field: &str, value: &'a str, max: usize, required: bool) -> &'a str {
        self.bounded_text(field, value, max, required, false)
    }

    fn bounded_text<'a>(
        &mut self,
        field: &str,
        value: &'a str,
        max: usize,
        required: bool,
        multiline: bool,
    ) -> &'a str {
        // Bytes bound characters from above: a value far over the limit is refused before it is
        // counted or scanned.
        if value.len() > 4 * max + 64 {
            self.add(field, format!("must be at most {max} characters"));
            return "";
        }
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        self.check(!required || len > 0, field, "is required")
            .check(
                len <= max,
                field,
                format!("must be at most {max} characters"),
            )
            .characters(field, trimmed, multiline);
        trimmed
    }

    /// A repeated field of at most `max` elements; checked before any element is looked at.
    pub fn count<T>(&mut self, field: &str, items: &[T], max: usize) -> bool {
        let ok = items.len() <= max;
        self.check(ok, field, format!("must hold at most {max} elements"));
        ok
    }

    /// A repeated id field: at most `max` elements, each a UUID (the bad ones named by index),
    /// duplicates dropped in one pass, order kept.
    pub fn ids(&mut self, field: &str, values: &[String], max: usize) -> Vec<uuid::Uuid> {
        if !self.count(field, values, max) {
            return Vec::new();
        }
        let parsed = values
            .iter()
            .enumerate()
            .filter_map(|(i, value)| self.id(&format!("{field}[{i}]"), value))
            .collect();
        distinct(parsed)
    }

    /// A protobuf enum field: a value the contract defines, and not its `UNSPECIFIED` zero unless
    /// `allow_unspecified` (filters, where zero means "any"). `None` for unspecified or invalid.
    pub fn enumeration<E>(&mut self, field: &str, value: i32, allow_unspecified: bool) -> Option<E>
    where
        E: TryFrom<i32>,
    {
        if value == 0 && allow_unspecified {
            return None;
        }
        let parsed = E::try_from(value).ok();
        self.check(
            parsed.is_some() && value != 0,
            field,
            if value == 0 {
                "is required".to_owned()
            } else {
                format!("{value} is not a defined value")
            },
        );
        parsed.filter(|_| value != 0)
    }

    /// An integer within `range` (both ends included).
    pub fn within<T>(&mut self, field: &str, value: T, range: std::ops::RangeInclusive<T>) -> T
    where
        T: PartialOrd + std::fmt::Display + Copy,
    {
        self.check(
            range.contains(&value),
            field,
            format!("must be within {}..={}", range.start(), range.end()),
        );
        value
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

    /// The page of a list (`page_size`, `page_token`), with the request's other fields: a bad
    /// token is named with them, before any record is looked up.
    pub fn page(&mut self, size: i32, token: &str) -> (i64, Option<uuid::Uuid>) {
        let size = page_size(size).unwrap_or_else(|_| {
            self.add("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        });
        let after = page_after(token).unwrap_or_else(|_| {
            self.add("page_token", "is not a token this service gave out");
            None
        });
        (size, after)
    }

    /// A required location, as [`location`](Self::location), that must also lie in the county.
    pub fn location_in(
        &mut self,
        field: &str,
        location: Option<&LatLng>,
        county: &crate::geo::Extent,
    ) -> (f64, f64) {
        let before = self.0.len();
        let (lat, lng) = self.location(field, location);
        if self.0.len() == before && !county.contains(lat, lng) {
            self.add(field, county.describe());
        }
        (lat, lng)
    }

    /// `Ok` when nothing was recorded, else `INVALID_ARGUMENT` naming each field: the first
    /// [`MAX_VIOLATIONS`], and how many more were left out.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let total = self.0.len();
        let shown: Vec<(String, String)> = self
            .0
            .into_iter()
            .take(MAX_VIOLATIONS)
            .map(|(f, d)| (clip(f), clip(d)))
            .collect();
        let mut message = shown
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        if total > shown.len() {
            message.push_str(&format!(
                "; and {} more violations left out",
                total - shown.len()
            ));
        }
        let mut details = ErrorDetails::new();
        for (field, description) in shown {
            details.add_bad_request_violation(field, description);
        }
        Err(Status::with_error_details(
            Code::InvalidArgument,
            message,
            details,
        ))
    }
}

fn clip(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_DESCRIPTION) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// The distinct values in their first order, in one pass (a request of 100,000 ids costs
/// milliseconds, not the seconds a pairwise scan takes).
pub fn distinct<T: Eq + Hash + Clone>(values: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::with_capacity(values.len());
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

/// A `LIKE`/`ILIKE` pattern matching `text` anywhere, with the caller's `%`, `_` and `\\` taken
/// literally (the statement uses the default escape character, backslash).
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Ids minted this recently may not have reached other services' read models yet.
const RECENT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `lookup` finds the record `id` that arrives by event. An id minted in the last 30 s
/// (UUIDv7 carries its time) is looked up again every 100 ms for up to `grace` before the answer is
/// no: it was registered a moment ago in another service. Any other id is looked up once, so an
/// unknown or old id costs one query, not a wait.
pub async fn known_within<E, F, Fut>(
    grace: std::time::Duration,
    id: uuid::Uuid,
    mut lookup: F,
) -> Result<bool, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, E>>,
{
    let grace = if minted_within(id, RECENT) {
        grace
    } else {
        std::time::Duration::ZERO
    };
    let until = tokio::time::Instant::now() + grace;
    loop {
        if lookup().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Whether `id` is a UUIDv7 minted no longer than `within` ago (and not in the future beyond a
/// second of clock skew).
pub fn minted_within(id: uuid::Uuid, within: std::time::Duration) -> bool {
    let Some(ts) = id.get_timestamp() else {
        return false;
    };
    let (secs, nanos) = ts.to_unix();
    let minted = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    let now = std::time::SystemTime::now();
    match now.duration_since(minted) {
        Ok(age) => age <= within,
        Err(ahead) => ahead.duration() <= std::time::Duration::from_secs(1),
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
///
/// A failure the caller's input caused (a unique or foreign key, a CHECK, a value the column cannot
/// hold) keeps its code — ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT — names the
/// constraint, and is logged at info: validation should have caught it first, but a client never
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
            Some("23505") => Code::AlreadyExists,
            Some("23503") => Code::FailedPrecondition,
            // check_violation, string too long, numeric out of range, invalid text
            // representation, NUL in text (character_not_in_repertoire), an index row too large.
            Some("23514" | "22001" | "22003" | "22P02" | "22021" | "54000") => {
                Code::InvalidArgument
            }
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

    /// The fields a refusal names, in order.
    fn fields(v: Violations) -> Vec<String> {
        let status = v.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        status
            .get_details_bad_request()
            .expect("BadRequest details")
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn violations_name_every_field() {
        let mut v = Violations::new();
        v.check(false, "location.latitude", "must be within -90..90")
            .check(true, "description", "never")
            .check(false, "request_id", "is required");
        assert_eq!(fields(v), ["location.latitude", "request_id"]);
    }

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size(-1).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn violations_are_capped_and_counted() {
        let mut v = Violations::new();
        for i in 0..100_000 {
            v.add(&format!("ids[{i}]"), "must be a UUID");
        }
        let status = v.into_result().unwrap_err();
        let details = status.get_details_bad_request().expect("details");
        assert_eq!(details.field_violations.len(), MAX_VIOLATIONS);
        assert!(status.message().contains("99990 more violations left out"));
        assert!(status.details().len() < 2_000, "{}", status.details().len());
    }

    #[test]
    fn text_refuses_control_characters_but_keeps_line_breaks() {
        let mut v = Violations::new();
        assert_eq!(v.text("note", " two\nlines\t ", 20, true), "two\nlines");
        assert!(v.is_empty());
        v.line("name", "a\nb", 20, true);
        v.text("note", "bell\u{7}", 20, true);
        v.text("note", "nul\0", 20, true);
        v.text("note", &"x".repeat(1_000_000), 20, true);
        v.request_id(&"r".repeat(129));
        assert_eq!(fields(v), ["name", "note", "note", "note", "request_id"]);
    }

    #[test]
    fn ids_are_bounded_parsed_and_distinct() {
        let a = uuid::Uuid::now_v7();
        let b = uuid::Uuid::now_v7();
        let mut v = Violations::new();
        let ids = v.ids(
            "worker_ids",
            &[a.to_string(), b.to_string(), a.to_string()],
            10,
        );
        assert_eq!(ids, [a, b]);
        assert!(v.is_empty());
        v.ids("worker_ids", &vec![a.to_string(); 11], 10);
        v.ids("grid_ids", &["x".to_owned()], 10);
        assert_eq!(fields(v), ["worker_ids", "grid_ids[0]"]);
    }

    #[test]
    fn only_fresh_ids_are_waited_for() {
        assert!(minted_within(uuid::Uuid::now_v7(), RECENT));
        assert!(
            !minted_within(
                uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
                RECENT
            ),
            "no time in a v4"
        );
        let old = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_700_000_000,
            0,
        ));
        assert!(!minted_within(old, RECENT));
    }

    #[test]
    fn one_line_text_may_end_in_a_line_break_it_loses() {
        let mut v = Violations::new();
        assert_eq!(v.line("name", "Li Wei\n", 20, true), "Li Wei");
        assert!(v.is_empty());
    }

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any text at all is either refused naming its field or comes back trimmed, within
            /// its bound, and free of NUL and control characters (line breaks and tabs aside).
            #[test]
            fn text_is_refused_or_clean(value in any::<String>(), max in 0usize..40, required: bool) {
                let mut v = Violations::new();
                let kept = v.text("note", &value, max, required).to_owned();
                if v.is_empty() {
                    prop_assert_eq!(kept.as_str(), value.trim());
                    prop_assert!(kept.chars().count() <= max);
                    prop_assert!(!required || !kept.is_empty());
                    prop_assert!(!kept.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
                } else {
                    prop_assert!(fields(v).iter().all(|f| f == "note"));
                }
            }

            /// Id lists come back distinct, in first order, and only when every element is a UUID
            /// and the list is within its bound.
            #[test]
            fn ids_are_distinct_or_refused(
                picks in prop::collection::vec(0usize..6, 0..20),
                bad in any::<bool>(),
            ) {
                let pool: Vec<uuid::Uuid> = (0..6).map(|i| uuid::Uuid::from_u128(i + 1)).collect();
                let mut values: Vec<String> = picks.iter().map(|&i| pool[i].to_string()).collect();
                if bad {
                    values.push("not-an-id".to_owned());
                }
                let mut v = Violations::new();
                let ids = v.ids("ids", &values, 15);
                if values.len() > 15 || bad {
                    prop_assert!(!v.is_empty());
                } else {
                    prop_assert!(v.is_empty());
                    let mut want: Vec<uuid::Uuid> = Vec::new();
                    for &i in &picks {
                        if !want.contains(&pool[i]) {
                            want.push(pool[i]);
                        }
                    }
                    prop_assert_eq!(ids, want);
                }
            }

            /// A LIKE pattern of any text matches that text only literally: every wildcard the
            /// caller wrote is escaped.
            #[test]
            fn patterns_escape_every_wildcard(text in any::<String>()) {
                let p = contains_pattern(&text);
                let inner = &p[1..p.len() - 1];
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        prop_assert!(matches!(chars.next(), Some('%' | '_' | '\\')));
                    } else {
                        prop_assert!(c != '%' && c != '_');
                    }
                }
            }
        }
    }

    #[test]
    fn internal_keeps_the_cause() {
        let status = internal("loading the tip", sqlx::Error::PoolTimedOut);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.source().is_some());
    }
}
