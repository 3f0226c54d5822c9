//! Stations and points rules, without I/O: great-circle distance and riding time, opening hours in
//! the county's local time, a nearest-station index, the coverage of grids by the service circle,
//! the points rules ([`points`]), amenity reports ([`amenities`]) and honours ([`honours`]).

pub mod amenities;
pub mod coverage;
pub mod honours;
pub mod points;

pub use amenities::{COUNTING_STATES, ReportRules};
pub use coverage::{Coverage, Reach, SpeedArea, Speeds, coverage};
pub use points::{Balance, Movement, PointsSettings, capped, volunteer_points};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};
use rstar::{AABB, PointDistance, RTree, RTreeObject};
use uuid::Uuid;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Haversine distance in meters between two WGS 84 points.
pub fn distance_meters(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Minutes to ride `meters` at `speed_kmh`.
pub fn travel_minutes(meters: f64, speed_kmh: f64) -> f64 {
    meters / (speed_kmh * 1000.0 / 60.0)
}

/// Meters covered in `minutes` at `speed_kmh`.
pub fn reach_meters(minutes: f64, speed_kmh: f64) -> f64 {
    minutes * speed_kmh * 1000.0 / 60.0
}

/// The county's clock: a fixed offset from UTC (China keeps no daylight saving).
#[derive(Debug, Clone, Copy)]
pub struct LocalClock {
    offset: FixedOffset,
}

impl LocalClock {
    pub fn new(utc_offset_minutes: i32) -> Option<Self> {
        FixedOffset::east_opt(utc_offset_minutes * 60).map(|offset| Self { offset })
    }

    pub fn offset_minutes(&self) -> i32 {
        self.offset.local_minus_utc() / 60
    }

    pub fn minute_of_day(&self, t: DateTime<Utc>) -> i32 {
        let local = t.with_timezone(&self.offset);
        (local.hour() * 60 + local.minute()) as i32
    }

    pub fn hour_of_day(&self, t: DateTime<Utc>) -> i32 {
        t.with_timezone(&self.offset).hour() as i32
    }

    /// The start of the local day holding `t`, in UTC.
    pub fn start_of_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let date = t.with_timezone(&self.offset).date_naive();
        self.local_midnight(date)
    }

    fn local_midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        self.offset
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .expect("a fixed offset has no gaps")
            .with_timezone(&Utc)
    }

    /// [start, end) of the local days from `first` up to `next`, in UTC.
    pub fn dates(&self, first: NaiveDate, next: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.local_midnight(first), self.local_midnight(next))
    }

    /// [start, end) of the local month "YYYY-MM" (exactly that: four digits of a year within
    /// [`YEARS`], a dash, two digits of a month), in UTC.
    pub fn month(&self, month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (y, m) = parse_month(month)?;
        let first = NaiveDate::from_ymd_opt(y, m, 1)?;
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)?
        };
        Some((self.local_midnight(first), self.local_midnight(next)))
    }
}

/// The years a month or a time bound of a request may name: no record of this service lies
/// outside them, and PostgreSQL's `timestamptz` holds all of them.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

/// "YYYY-MM" as (year, month); `None` for any other spelling ("+2026-01", "2026-1", "-2026-01")
/// or a year outside [`YEARS`].
pub fn parse_month(text: &str) -> Option<(i32, u32)> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 7 || b[4] != b'-' || !digits(0..4) || !digits(5..7) {
        return None;
    }
    let (y, m): (i32, u32) = (text[..4].parse().ok()?, text[5..].parse().ok()?);
    (YEARS.contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

/// Daily opening hours, local minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub always_open: bool,
    pub opens: i32,
    pub closes: i32,
}

impl Hours {
    pub fn open_at(&self, minute_of_day: i32) -> bool {
        if self.always_open {
            return true;
        }
        if self.opens <= self.closes {
            (self.opens..self.closes).contains(&minute_of_day)
        } else {
            // Closes after midnight.
            minute_of_day >= self.opens || minute_of_day < self.closes
        }
    }
}

/// What a nearest-station search needs of a station.
#[derive(Debug, Clone)]
pub struct StationPoint {
    pub id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    /// Amenities offered and working.
    pub working: Vec<i16>,
    pub hours: Hours,
    /// The station's own riding speed (km/h); None: its area's or the county's ([`Speeds`]).
    pub riding_speed_kmh: Option<f64>,
}

/// A station placed on the unit sphere: straight-line distance there orders stations exactly as
/// great-circle distance does, so the R-tree's nearest-neighbour walk is correct everywhere.
struct Placed {
    xyz: [f64; 3],
    index: usize,
}

fn to_xyz(lat: f64, lng: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lng.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

impl RTreeObject for Placed {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for Placed {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        (0..3).map(|i| (self.xyz[i] - point[i]).powi(2)).sum()
    }
}

/// An R-tree over every station, for nearest-first search with filters.
pub struct StationIndex {
    tree: RTree<Placed>,
    stations: Vec<StationPoint>,
}

impl StationIndex {
    pub fn new(stations: Vec<StationPoint>) -> Self {
        let placed = stations
            .iter()
            .enumerate()
            .map(|(index, s)| Placed {
                xyz: to_xyz(s.latitude, s.longitude),
                index,
            })
            .collect();
        Self {
            tree: RTree::bulk_load(placed),
            stations,
        }
    }

    pub fn len(&self) -> usize {
        self.stations.len()
    }

    pub fn stations(&self) -> &[StationPoint] {
        &self.stations
    }

    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }

    /// Stations nearest first that pass `keep`, with their distance in meters, until `limit` or
    /// beyond `max_meters`.
    pub fn nearest(
        &self,
        lat: f64,
        lng: f64,
        limit: usize,
        max_meters: f64,
        keep: impl Fn(&StationPoint) -> bool,
    ) -> Vec<(&StationPoint, f64)> {
        let mut out = Vec::new();
        for p in self.tree.nearest_neighbor_iter(&to_xyz(lat, lng)) {
            let s = &self.stations[p.index];
            let d = distance_meters(lat, lng, s.latitude, s.longitude);
            if d > max_meters || out.len() >= limit {
                break;
            }
            if keep(s) {
                out.push((s, d));
            }
        }
        // Equal distances in a stable order.
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
        out
    }
}

impl StationIndex {
    /// Whether some station that passes `keep` lies within its own `reach` of the point; no
    /// station reaches beyond `max_reach`.
    pub fn covered(
        &self,
        lat: f64,
        lng: f64,
        max_reach: f64,
        reach: impl Fn(&StationPoint) -> f64,
        keep: impl Fn(&StationPoint) -> bool,
    ) -> bool {
        for p in self.tree.nearest_neighbor_iter(&to_xyz(lat, lng)) {
            let s = &self.stations[p.index];
            let d = distance_meters(lat, lng, s.latitude, s.longitude);
            if d > max_reach {
                return false;
            }
            if d <= reach(s) && keep(s) {
                return true;
            }
        }
        false
    }
}

/// A station qualifies for coverage or search when open at `minute` and, if an amenity is asked
/// for, offering it in working order.
pub fn qualifies(s: &StationPoint, amenity: Option<i16>, minute: Option<i32>) -> bool {
    amenity.is_none_or(|a| s.working.contains(&a)) && minute.is_none_or(|m| s.hours.open_at(m))
}

/// What proves a visit: staff recording it at the counter, or the worker's own check-in from
/// within `radius_m` of the station. `at`: where the worker stands, if given.
pub fn visit_proof(
    by_staff: bool,
    at: Option<(f64, f64)>,
    station: (f64, f64),
    radius_m: f64,
) -> Result<(i16, Option<f64>), VisitRefusal> {
    if by_staff {
        return Ok((
            VISIT_BY_STAFF,
            at.map(|(lat, lng)| distance_meters(lat, lng, station.0, station.1)),
        ));
    }
    let (lat, lng) = at.ok_or(VisitRefusal::NoLocation)?;
    let d = distance_meters(lat, lng, station.0, station.1);
    if d > radius_m {
        return Err(VisitRefusal::TooFar {
            meters: d,
            radius: radius_m,
        });
    }
    Ok((VISIT_BY_LOCATION, Some(d)))
}

pub const VISIT_BY_LOCATION: i16 = 1;
pub const VISIT_BY_STAFF: i16 = 2;

#[derive(Debug, PartialEq)]
pub enum VisitRefusal {
    NoLocation,
    TooFar { meters: f64, radius: f64 },
}

pub fn one_day() -> Duration {
    Duration::days(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = distance_meters(29.0, 103.0, 30.0, 103.0);
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }

    #[test]
    fn distance_is_symmetric_and_zero_at_the_same_point() {
        let a = distance_meters(29.74, 103.57, 29.75, 103.58);
        let b = distance_meters(29.75, 103.58, 29.74, 103.57);
        assert!((a - b).abs() < 1e-6);
        assert_eq!(distance_meters(29.74, 103.57, 29.74, 103.57), 0.0);
    }

    #[test]
    fn fifteen_kmh_covers_1250_m_in_5_minutes() {
        assert!((travel_minutes(1_250.0, 15.0) - 5.0).abs() < 1e-9);
        assert!((reach_meters(5.0, 15.0) - 1_250.0).abs() < 1e-9);
    }

    #[test]
    fn opening_hours_work_across_midnight() {
        let day = Hours {
            always_open: false,
            opens: 8 * 60,
            closes: 22 * 60,
        };
        assert!(day.open_at(8 * 60));
        assert!(!day.open_at(22 * 60));
        let night = Hours {
            always_open: false,
            opens: 20 * 60,
            closes: 2 * 60,
        };
        assert!(night.open_at(23 * 60));
        assert!(night.open_at(60));
        assert!(!night.open_at(12 * 60));
    }

    #[test]
    fn the_local_clock_is_eight_hours_ahead() {
        let clock = LocalClock::new(480).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-30T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(clock.hour_of_day(t), 1);
        assert_eq!(
            clock.start_of_day(t),
            DateTime::parse_from_rfc3339("2026-11-30T16:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
        );
        let (from, until) = clock.month("2026-12").unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-12-31T16:00:00+00:00");
        assert!(clock.month("2026-13").is_none());
        for bad in [
            "-2026-01",
            "+2026-01",
            "2026-1",
            "02026-01",
            "9999-01",
            "2026-00",
            "2026-١٢",
        ] {
            assert!(clock.month(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_month("2100-12"), Some((2100, 12)));
    }

    pub(super) fn station(id: u128, lat: f64, lng: f64, working: &[i16]) -> StationPoint {
        StationPoint {
            id: Uuid::from_u128(id),
            latitude: lat,
            longitude: lng,
            working: working.to_vec(),
            hours: Hours {
                always_open: true,
                opens: 0,
                closes: 0,
            },
            riding_speed_kmh: None,
        }
    }

    #[test]
    fn a_worker_checks_in_from_near_the_station_and_staff_need_no_location() {
        let station = (29.740, 103.570);
        assert_eq!(
            visit_proof(false, None, station, 300.0),
            Err(VisitRefusal::NoLocation)
        );
        let (proof, d) = visit_proof(false, Some((29.741, 103.570)), station, 300.0).unwrap();
        assert_eq!(proof, VISIT_BY_LOCATION);
        assert!((d.unwrap() - 111.2).abs() < 1.0);
        let far = visit_proof(false, Some((29.750, 103.570)), station, 300.0);
        assert!(matches!(far, Err(VisitRefusal::TooFar { meters, .. }) if meters > 1_000.0));
        assert_eq!(
            visit_proof(true, None, station, 300.0),
            Ok((VISIT_BY_STAFF, None))
        );
    }

    #[test]
    fn the_index_finds_the_nearest_station_with_the_amenity() {
        let index = StationIndex::new(vec![
            station(1, 29.740, 103.570, &[1]),
            station(2, 29.745, 103.570, &[1, 4]),
            station(3, 29.760, 103.570, &[4]),
        ]);
        let near = index.nearest(29.741, 103.570, 3, f64::MAX, |_| true);
        let ids: Vec<u128> = near.iter().map(|(s, _)| s.id.as_u128()).collect();
        assert_eq!(ids, [1, 2, 3]);
        let charging = index.nearest(29.741, 103.570, 5, f64::MAX, |s| {
            qualifies(s, Some(4), None)
        });
        assert_eq!(charging[0].0.id.as_u128(), 2);
        assert_eq!(charging.len(), 2);
        let within_1km = index.nearest(29.741, 103.570, 5, 1_000.0, |_| true);
        assert_eq!(within_1km.len(), 2);
    }
}
