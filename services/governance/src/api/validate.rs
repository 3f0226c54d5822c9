//! Requests parsed into the typed values the use cases take, with every field violation named.

use chrono::{Datelike, Utc};
use kit::{api::Violations, geo::Extent, time::from_timestamp};
use redsupply_proto::governance::v1::{self as pb, TipCategory};
use tonic::Status;
use uuid::Uuid;

use crate::{
    domain::{self, MAX_DESCRIPTION_CHARS, MAX_PHOTOS},
    store::NewTip,
};

/// How far into the future `observed_at` may lie (clock skew of phones).
const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(10);

/// The validated content of a `SubmitTipRequest`.
pub(super) fn validate_tip(
    r: pb::SubmitTipRequest,
    submitted_by: String,
    county: &Extent,
) -> Result<NewTip, Status> {
    let mut v = Violations::new();
    v.request_id(&r.request_id);
    let reporter = Uuid::parse_str(&r.reporter_id);
    v.check(
        reporter.is_ok(),
        "reporter_id",
        "must be a worker id (UUID)",
    );
    match TipCategory::try_from(r.category) {
        Ok(TipCategory::Unspecified) => {
            v.add("category", "is required");
        }
        Err(_) => {
            v.add("category", format!("{} is not a TipCategory", r.category));
        }
        Ok(_) => {}
    }
    // Refused here, not by the database: a tip is stored in a group commit with others.
    let description = v
        .text("description", &r.description, MAX_DESCRIPTION_CHARS, true)
        .to_owned();
    let (latitude, longitude) = v.location_in("location", r.location.as_ref(), county);
    let photos = if v.count("photo_urls", &r.photo_urls, MAX_PHOTOS) {
        &r.photo_urls[..]
    } else {
        &[]
    };
    for (i, url) in photos.iter().enumerate() {
        v.check(
            domain::valid_photo_url(url),
            &format!("photo_urls[{i}]"),
            "must be an http(s) URL of at most 2048 characters",
        );
    }
    let now = Utc::now();
    let observed_at = match &r.observed_at {
        None => now,
        Some(t) => match from_timestamp(t) {
            Some(t) if t.year() < 2000 => {
                v.add("observed_at", "lies before the year 2000");
                now
            }
            Some(t) if t <= now + MAX_CLOCK_SKEW => t,
            Some(_) => {
                v.add("observed_at", "lies in the future");
                now
            }
            None => {
                v.add("observed_at", "is not a valid timestamp");
                now
            }
        },
    };
    v.into_result()?;
    Ok(NewTip {
        request_id: r.request_id,
        reporter_id: reporter.expect("checked above"),
        submitted_by,
        category: r.category as i16,
        description,
        latitude,
        longitude,
        photo_urls: r.photo_urls,
        observed_at,
    })
}
