//! The request checks stations' RPCs share, on top of `kit::api::Violations`: the bound of every
//! text and repeated field, amenity lists (bounded before their elements are read, duplicates
//! dropped in one pass), time windows, and the station a create or replace describes. Pure: no
//! I/O, every violation named by its field.

use chrono::{DateTime, Datelike, Utc};
use kit::{
    api::{Violations, distinct},
    time::from_timestamp,
};
use prost_types::Timestamp;
use redsupply_proto::stations::v1::{self as pb, Amenity, StationHost, StationTier};
use uuid::Uuid;

use crate::{
    domain::{Hours, YEARS},
    store::NewStation,
};

pub const MAX_NAME: usize = 100;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_NOTE: usize = 500;
/// As organization bounds a worker's platform.
pub const MAX_PLATFORM: usize = 64;
/// Amenities one station offers or one visit uses: six are defined; repeats collapse.
pub const MAX_AMENITIES: usize = 16;
pub const MAX_GRID_IDS: usize = 200;
/// The database's `rewards_cost_bounded`.
pub const MAX_POINTS_COST: i64 = 1_000_000;
pub const MAX_SUPPLY: i64 = 100_000;
pub const MAX_REDEEM: i64 = 100;
pub const MAX_LIMIT: i32 = 100;

/// One amenity: required (`AMENITY_UNSPECIFIED` refused) or a filter (unspecified: any).
pub fn amenity(v: &mut Violations, field: &str, raw: i32, required: bool) -> Option<i16> {
    v.enumeration::<Amenity>(field, raw, !required)
        .map(|a| a as i16)
}

/// A repeated amenity field: at most [`MAX_AMENITIES`], each defined, each once, in order.
pub fn amenities(v: &mut Violations, field: &str, raw: &[i32]) -> Vec<i16> {
    if !v.count(field, raw, MAX_AMENITIES) {
        return Vec::new();
    }
    let parsed = raw
        .iter()
        .enumerate()
        .filter_map(|(i, a)| amenity(v, &format!("{field}[{i}]"), *a, true))
        .collect();
    distinct(parsed)
}

/// The `request_id` of an upsert: required to create, optional to replace, bounded either way.
pub fn upsert_request_id(v: &mut Violations, creating: bool, raw: &str) {
    if creating {
        v.request_id(raw);
    } else {
        v.optional_request_id(raw);
    }
}

/// An optional time: `None` when absent; a violation when it is no valid time or lies outside
/// [`YEARS`].
pub fn optional_time(
    v: &mut Violations,
    field: &str,
    raw: Option<&Timestamp>,
) -> Option<DateTime<Utc>> {
    let t = raw?;
    let parsed = from_timestamp(t).filter(|t| YEARS.contains(&t.year()));
    v.check(
        parsed.is_some(),
        field,
        format!(
            "must be a valid time within the years {}..={}",
            YEARS.start(),
            YEARS.end()
        ),
    );
    parsed
}

/// A window [`from`, `until`) of optional bounds; `until` before `from` is refused.
pub fn window(
    v: &mut Violations,
    from: Option<&Timestamp>,
    until: Option<&Timestamp>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let from = optional_time(v, "from", from);
    let until = optional_time(v, "until", until);
    if let (Some(f), Some(u)) = (from, until) {
        v.check(u >= f, "until", "must not lie before from");
    }
    (from, until)
}

/// A station as a create or replace describes it, checked.
pub struct StationInput<'a> {
    pub id: Option<Uuid>,
    pub name: &'a str,
    pub address: &'a str,
    pub tier: i16,
    pub host: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub amenities: Vec<i16>,
    pub community: Option<Uuid>,
    pub hours: Hours,
    pub riding_speed_kmh: Option<f64>,
}

impl StationInput<'_> {
    pub fn new_station(&self) -> NewStation<'_> {
        NewStation {
            name: self.name,
            tier: self.tier,
            host: self.host,
            latitude: self.latitude,
            longitude: self.longitude,
            address: self.address,
            amenities: &self.amenities,
            community_id: self.community,
            hours: self.hours,
            riding_speed_kmh: self.riding_speed_kmh,
        }
    }
}

/// Checks every field of `s` (named `station.*`).
pub fn station<'a>(v: &mut Violations, s: &'a pb::Station) -> StationInput<'a> {
    let id = v.optional_id("station.id", &s.id);
    let name = v.line("station.name", &s.name, MAX_NAME, true);
    let address = v.line("station.address", &s.address, MAX_ADDRESS, false);
    let tier = v.enumeration::<StationTier>("station.tier", s.tier, false);
    let host = v.enumeration::<StationHost>("station.host", s.host, false);
    let (latitude, longitude) = v.location("station.location", s.location.as_ref());
    let amenities = amenities(v, "station.amenities", &s.amenities);
    // Ignored here (ReportAmenityStatus sets states), but bounded like every list.
    v.count("station.amenity_states", &s.amenity_states, MAX_AMENITIES);
    // Ignored here too (RetireStation sets it), but checked like every text.
    v.text("station.retired_reason", &s.retired_reason, MAX_NOTE, false);
    let community = v.optional_id("station.community_id", &s.community_id);
    let hours = opening_hours(v, s.opening_hours.as_ref());
    v.check(
        s.riding_speed_kmh == 0.0 || (1.0..=60.0).contains(&s.riding_speed_kmh),
        "station.riding_speed_kmh",
        "must be 0 (the area's or county's) or within 1..=60 km/h",
    );
    StationInput {
        id,
        name,
        address,
        tier: tier.map_or(0, |t| t as i16),
        host: host.map_or(0, |h| h as i16),
        latitude,
        longitude,
        amenities,
        community,
        hours,
        riding_speed_kmh: (s.riding_speed_kmh > 0.0).then_some(s.riding_speed_kmh),
    }
}

/// Opening hours (absent: always open); minutes within a day, and a day that has some.
fn opening_hours(v: &mut Violations, raw: Option<&pb::OpeningHours>) -> Hours {
    let Some(h) = raw else {
        return Hours {
            always_open: true,
            opens: 0,
            closes: 0,
        };
    };
    let opens = v.within(
        "station.opening_hours.opens_minute",
        h.opens_minute,
        0..=1439,
    );
    let closes = v.within(
        "station.opening_hours.closes_minute",
        h.closes_minute,
        0..=1439,
    );
    v.check(
        h.always_open || opens != closes,
        "station.opening_hours",
        "opens and closes at the same minute; set always_open instead",
    );
    Hours {
        always_open: h.always_open,
        opens,
        closes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    fn fields(v: Violations) -> Vec<String> {
        match v.into_result() {
            Ok(()) => Vec::new(),
            Err(s) => s
                .get_details_bad_request()
                .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn amenity_lists_are_bounded_before_their_elements_and_collapse_repeats() {
        let mut v = Violations::new();
        let rest = Amenity::Rest as i32;
        let water = Amenity::DrinkingWater as i32;
        assert_eq!(
            amenities(&mut v, "a", &[rest, water, rest, rest]),
            [rest as i16, water as i16]
        );
        assert!(v.is_empty());
        // 100,000 bad values: one violation for the count, none per element.
        assert!(amenities(&mut v, "a", &vec![999; 100_000]).is_empty());
        amenities(&mut v, "b", &[0, 999]);
        assert_eq!(fields(v), ["a", "b[0]", "b[1]"]);
    }

    #[test]
    fn a_window_is_valid_times_in_order() {
        let at = |seconds| Timestamp { seconds, nanos: 0 };
        let mut v = Violations::new();
        let (f, u) = window(&mut v, Some(&at(1_800_000_000)), Some(&at(1_800_000_060)));
        assert!(f.is_some() && u.is_some() && v.is_empty());
        window(&mut v, Some(&at(1_800_000_060)), Some(&at(1_800_000_000)));
        window(&mut v, Some(&at(-100_000_000_000)), None);
        window(
            &mut v,
            None,
            Some(&Timestamp {
                seconds: 0,
                nanos: -1,
            }),
        );
        assert_eq!(fields(v), ["until", "from", "until"]);
    }

    #[test]
    fn a_station_names_each_bad_field() {
        let s = pb::Station {
            name: "a\0b".into(),
            address: "x".repeat(201),
            tier: 999,
            host: 0,
            amenities: vec![0],
            opening_hours: Some(pb::OpeningHours {
                always_open: false,
                opens_minute: 1440,
                closes_minute: 1440,
            }),
            ..Default::default()
        };
        let mut v = Violations::new();
        station(&mut v, &s);
        assert_eq!(
            fields(v),
            [
                "station.name",
                "station.address",
                "station.tier",
                "station.host",
                "station.location",
                "station.amenities[0]",
                "station.opening_hours.opens_minute",
                "station.opening_hours.closes_minute",
                "station.opening_hours",
            ]
        );
    }
}
