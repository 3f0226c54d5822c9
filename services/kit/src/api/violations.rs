//! Field violations of one request, collected and answered as INVALID_ARGUMENT with
//! `BadRequest` details, and the checks every service applies to text, ids, lists, enums and
//! places.

use std::{collections::HashSet, hash::Hash};

use redsupply_proto::common::v1::LatLng;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::*;

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
