//! Requests into the typed values the use cases take, and the field checks the RPCs share:
//! bounds of texts, phone and ID numbers, dates, enums, request ids. Every violation of a request
//! is named at once (`kit::api::Violations`).

use kit::api::{Violations, invalid};
use redsupply_proto::organization::v1 as pb;
use tonic::Status;
use uuid::Uuid;

use crate::{
    app::registry::{CommunityChange, TownshipChange},
    domain,
    store::workers::{NewWorker, WorkerEdit},
};

/// Bounds of text fields, in characters (once trimmed).
pub(super) const NAME: usize = 100;
/// Titles of forums, issues and courses; addresses.
pub(super) const TITLE: usize = 200;
/// Short labels: a platform, a brand, an occasion, a kind of help.
pub(super) const LABEL: usize = 64;
/// Notes and reasons given with a request.
pub(super) const NOTE: usize = 500;
/// Descriptions, situations, outcomes.
pub(super) const TEXT: usize = 2_000;
/// Phone numbers are at most 21 characters; a longer line is refused before its shape is read.
const PHONE: usize = 32;
/// Resident ID numbers: 18 characters (15 in the old style).
const ID_NUMBER: usize = 18;
/// Most ids one repeated reference field holds (an organization's or a guide's enterprises, a
/// forum's enterprises).
pub(super) const MAX_REFERENCES: usize = 200;

const PHONE_SHAPE: &str = "must be 5 to 20 digits, optionally after '+'";

/// A one-line text of a fixed shape (a phone number, an ID number): bounded and refused with
/// control characters as [`Violations::line`], then `valid`; one violation either way. Returns
/// the trimmed text (empty when absent).
fn shaped<'a>(
    v: &mut Violations,
    field: &str,
    value: &'a str,
    (max, required): (usize, bool),
    valid: fn(&str) -> bool,
    shape: &str,
) -> &'a str {
    let mut probe = Violations::new();
    let trimmed = probe.line(field, value, max, required);
    if !probe.is_empty() {
        v.line(field, value, max, required);
    } else if !trimmed.is_empty() && !valid(trimmed) {
        v.add(field, shape);
    }
    trimmed
}

/// A phone number (digits with an optional leading '+').
pub(super) fn phone<'a>(
    v: &mut Violations,
    field: &str,
    value: &'a str,
    required: bool,
) -> &'a str {
    shaped(
        v,
        field,
        value,
        (PHONE, required),
        domain::numbers::valid_phone,
        PHONE_SHAPE,
    )
}

/// An optional resident ID number; `shape` says what the field accepts.
fn id_number<'a>(v: &mut Violations, value: &'a str, shape: &str) -> &'a str {
    shaped(
        v,
        "id_number",
        value,
        (ID_NUMBER, false),
        domain::numbers::valid_id_number,
        shape,
    )
}

/// An upsert's `request_id`: required to create (no id given), optional to update; bounded
/// either way.
pub(super) fn upsert_request_id(v: &mut Violations, creating: bool, value: &str) {
    if creating {
        v.request_id(value);
    } else {
        v.optional_request_id(value);
    }
}

/// Parses a required `YYYY-MM-DD` field of something that happened: not after `today` (the
/// county's).
pub(super) fn check_past_date(
    v: &mut Violations,
    field: &str,
    value: &str,
    today: chrono::NaiveDate,
) -> Option<chrono::NaiveDate> {
    let date = check_date(v, field, value)?;
    if date > today {
        v.add(field, format!("must not be after today ({today})"));
        return None;
    }
    Some(date)
}

/// Parses a required `YYYY-MM-DD` field.
pub(super) fn check_date(
    v: &mut Violations,
    field: &str,
    value: &str,
) -> Option<chrono::NaiveDate> {
    // A date is ten characters: anything much longer is refused before it is parsed.
    let parsed = if value.len() > 16 {
        Err("must be a date as YYYY-MM-DD")
    } else {
        domain::calendar::parse_date(value)
    };
    match parsed {
        Ok(d) => Some(d),
        Err(e) => {
            v.add(field, e);
            None
        }
    }
}

/// The SMALLINT a validated enum value is stored as (every defined value fits).
fn stored<E: Into<i32>>(value: E) -> i16 {
    i16::try_from(value.into()).unwrap_or(i16::MAX)
}

/// A required enum field, as stored: a defined value other than `UNSPECIFIED`.
pub(super) fn enum_value<E: TryFrom<i32> + Into<i32>>(
    v: &mut Violations,
    field: &str,
    value: i32,
) -> Option<i16> {
    v.enumeration::<E>(field, value, false).map(stored)
}

/// An optional enum filter, as stored: 0 means any; anything else must be a defined value.
pub(super) fn enum_filter<E: TryFrom<i32> + Into<i32>>(
    v: &mut Violations,
    field: &str,
    value: i32,
) -> Option<i16> {
    v.enumeration::<E>(field, value, true).map(stored)
}

/// An optional head count of an enterprise.
pub(super) fn count_field(v: &mut Violations, field: &str, value: Option<i32>) {
    if let Some(n) = value {
        v.within(field, n, 0..=1_000_000);
    }
}

/// A grid's boundary as an open ring (empty, with a violation, when it is none).
pub(super) fn boundary(
    v: &mut Violations,
    points: &[redsupply_proto::common::v1::LatLng],
) -> Vec<(f64, f64)> {
    if v.count(
        "grid.boundary",
        points,
        domain::boundary::MAX_BOUNDARY_POINTS,
    ) {
        domain::boundary::normalize_boundary(points).unwrap_or_else(|e| {
            v.add("grid.boundary", e.to_string());
            Vec::new()
        })
    } else {
        Vec::new()
    }
}

/// RegisterWorker's worker, its ID number in upper case.
pub(super) fn new_worker(r: &pb::RegisterWorkerRequest) -> Result<NewWorker, Status> {
    let mut v = Violations::new();
    v.request_id(&r.request_id);
    let name = v.line("name", &r.name, NAME, true);
    let id_number = id_number(
        &mut v,
        &r.id_number,
        "must be a resident ID number (18 characters)",
    );
    let phone = phone(&mut v, "phone", &r.phone, true);
    let platform = v.line("platform", &r.platform, LABEL, true);
    let enterprise_id = v.optional_id(
        "enterprise_id",
        r.enterprise_id.as_deref().unwrap_or_default(),
    );
    let community_id = v.optional_id(
        "community_id",
        r.community_id.as_deref().unwrap_or_default(),
    );
    v.into_result()?;
    Ok(NewWorker {
        name: name.to_owned(),
        phone: phone.to_owned(),
        id_number: (!id_number.is_empty()).then(|| id_number.to_ascii_uppercase()),
        platform: platform.to_owned(),
        enterprise_id,
        community_id,
        party_member: r.party_member,
    })
}

/// UpdateWorker's worker and edit; party membership is recorded by `staff` only.
pub(super) fn worker_edit(
    r: &pb::UpdateWorkerRequest,
    staff: bool,
) -> Result<(Uuid, WorkerEdit), Status> {
    let mut v = Violations::new();
    let id = v.id("worker_id", &r.worker_id);
    let name = r.name.as_deref().map(|n| v.line("name", n, NAME, true));
    let phone = r.phone.as_deref().map(|p| phone(&mut v, "phone", p, true));
    let id_number = r.id_number.as_deref().map(|n| {
        id_number(
            &mut v,
            n,
            "must be a resident ID number (18 characters), or empty to clear it",
        )
    });
    let platform = r
        .platform
        .as_deref()
        .map(|p| v.line("platform", p, LABEL, true));
    let enterprise_id = r
        .enterprise_id
        .as_deref()
        .map(|e| v.optional_id("enterprise_id", e));
    v.check(
        r.party_member.is_none() || staff,
        "party_member",
        "only staff record party membership",
    );
    v.into_result()?;
    let edit = WorkerEdit {
        name: name.map(str::to_owned),
        phone: phone.map(str::to_owned),
        id_number: id_number.map(|n| (!n.is_empty()).then(|| n.to_ascii_uppercase())),
        platform: platform.map(str::to_owned),
        enterprise_id,
        party_member: r.party_member,
    };
    Ok((id.expect("validated"), edit))
}

/// UpsertCommunity's change.
pub(super) fn community_change(
    r: &pb::UpsertCommunityRequest,
) -> Result<CommunityChange<'_>, Status> {
    let c = r
        .community
        .as_ref()
        .ok_or_else(|| invalid("community", "is required"))?;
    let mut v = Violations::new();
    let id = v.optional_id("community.id", &c.id);
    let township_id = v.optional_id("community.township_id", &c.township_id);
    upsert_request_id(&mut v, id.is_none(), &r.request_id);
    let name = v.line("community.name", &c.name, NAME, true);
    let township = v.line("community.township", &c.township, NAME, false);
    v.into_result()?;
    Ok(CommunityChange {
        id,
        expected_version: r.expected_version,
        request_id: (!r.request_id.is_empty()).then_some(r.request_id.as_str()),
        name,
        township,
        township_id,
    })
}

/// UpsertTownship's change.
pub(super) fn township_change(r: &pb::UpsertTownshipRequest) -> Result<TownshipChange<'_>, Status> {
    let t = r
        .township
        .as_ref()
        .ok_or_else(|| invalid("township", "is required"))?;
    let mut v = Violations::new();
    let id = v.optional_id("township.id", &t.id);
    upsert_request_id(&mut v, id.is_none(), &r.request_id);
    let name = v.line("township.name", &t.name, NAME, true);
    // Towns and streets are every kind the contract defines.
    let kind = enum_value::<pb::TownshipKind>(&mut v, "township.kind", t.kind);
    v.into_result()?;
    Ok(TownshipChange {
        id,
        expected_version: r.expected_version,
        request_id: &r.request_id,
        name,
        kind: kind.expect("validated"),
    })
}

/// The page token of ListPersonalDataAccess: the row before which the page starts (none: the
/// newest first).
pub(super) fn access_page(v: &mut Violations, token: &str) -> Option<i64> {
    if token.is_empty() {
        return None;
    }
    let t = token.parse::<i64>().ok().filter(|t| *t > 0);
    v.check(
        t.is_some(),
        "page_token",
        "is not a token this call gave out",
    );
    t
}
