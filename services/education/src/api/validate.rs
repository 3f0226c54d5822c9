//! Field checks of education's own shapes (tags, check-in codes, enum storage, timestamps), on top of
//! `kit::api::Violations`.

use chrono::Utc;
use kit::{api::Violations, time::from_timestamp};

use crate::domain;

/// A check-in code is typed with spaces or dashes at most: a longer line is refused unread.
const CODE_LINE: usize = 32;

/// A one-line text of a fixed shape: bounded and refused with control characters as
/// [`Violations::line`], then `shape` says what else is wrong, if anything; one violation either
/// way. Returns the trimmed text (empty when absent).
pub(super) fn shaped<'a>(
    v: &mut Violations,
    field: &str,
    value: &'a str,
    (max, required): (usize, bool),
    shape: impl FnOnce(&str) -> Result<(), String>,
) -> &'a str {
    let mut probe = Violations::new();
    let trimmed = probe.line(field, value, max, required);
    if !probe.is_empty() {
        v.line(field, value, max, required);
    } else if !trimmed.is_empty()
        && let Err(e) = shape(trimmed)
    {
        v.add(field, e);
    }
    trimmed
}

/// An expertise tag (empty allowed unless `required`).
pub(super) fn tag<'a>(v: &mut Violations, field: &str, value: &'a str, required: bool) -> &'a str {
    shaped(v, field, value, (32, required), |t| {
        domain::valid_tag(t)
            .then_some(())
            .ok_or_else(|| "must be lower-case letters, digits and _ (at most 32)".to_owned())
    })
}

/// A check-in code as typed, normalized (`domain::normalize_code`).
pub(super) fn code(v: &mut Violations, value: &str) -> String {
    let typed = shaped(v, "code", value, (CODE_LINE, true), |c| {
        (domain::normalize_code(c).len() == domain::CODE_LEN)
            .then_some(())
            .ok_or_else(|| format!("must be {} characters", domain::CODE_LEN))
    });
    domain::normalize_code(typed)
}

/// The SMALLINT a validated enum value is stored as (every defined value fits).
pub(super) fn stored<E: Into<i32>>(value: E) -> i16 {
    i16::try_from(value.into()).unwrap_or(i16::MAX)
}

/// A timestamp within the years this service accepts (2000..=2100), or a violation of `field`.
pub(super) fn timestamp(
    v: &mut Violations,
    field: &str,
    value: &prost_types::Timestamp,
) -> Option<chrono::DateTime<Utc>> {
    let t = from_timestamp(value).filter(|t| (2000..=2100).contains(&chrono::Datelike::year(t)));
    v.check(
        t.is_some(),
        field,
        "must be a time between the years 2000 and 2100",
    );
    t
}

/// The longest activity: a weekend class may run a whole weekend.
const MAX_ACTIVITY: chrono::Duration = chrono::Duration::days(3);

/// An activity's required start and end, the end after the start by at most [`MAX_ACTIVITY`].
pub(super) fn activity_times(
    v: &mut Violations,
    starts_at: Option<&prost_types::Timestamp>,
    ends_at: Option<&prost_types::Timestamp>,
) -> (Option<chrono::DateTime<Utc>>, Option<chrono::DateTime<Utc>>) {
    let mut required = |field: &str, value: Option<&prost_types::Timestamp>| match value {
        None => {
            v.add(field, "is required");
            None
        }
        Some(t) => timestamp(v, field, t),
    };
    let (starts, ends) = (
        required("starts_at", starts_at),
        required("ends_at", ends_at),
    );
    if let (Some(s), Some(e)) = (starts, ends) {
        v.check(
            e > s && e - s <= MAX_ACTIVITY,
            "ends_at",
            "must be after starts_at, by at most 3 days",
        );
    }
    (starts, ends)
}
