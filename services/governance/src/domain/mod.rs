//! Governance rules, without I/O: which grid holds a point (an R-tree of grid polygons), which
//! department takes a category, how long it has, which status changes a case may make, and what a
//! valid tip looks like.

mod case;
mod feed;

pub mod dispatch;
pub mod volunteers;

pub use case::{ReopenRefusal, reopen_allowed, resolution_after, transition_allowed};
pub use feed::{Delivery, FeedFilter};

use std::collections::HashMap;

use chrono::Duration;
use geo::{Area, BoundingRect, Intersects, LineString, Point, Polygon};
use redsupply_proto::governance::v1::TipCategory;
use rstar::{AABB, RTree, RTreeObject};
use serde::Deserialize;
use uuid::Uuid;

/// `TIP_CATEGORY_FOOD_SAFETY` → `food_safety`: the key used in settings.
pub fn category_key(c: TipCategory) -> String {
    c.as_str_name()
        .trim_start_matches("TIP_CATEGORY_")
        .to_ascii_lowercase()
}

/// Category → department, and deadlines, from settings.
#[derive(Debug, Clone, Deserialize)]
pub struct RoutingSettings {
    #[serde(default)]
    pub departments: HashMap<String, String>,
    pub default_department: String,
    /// The county-level queue for tips outside every grid.
    pub county_queue: String,
    #[serde(default)]
    pub deadline_hours: HashMap<String, u32>,
    pub default_deadline_hours: u32,
}

impl RoutingSettings {
    pub fn department(&self, category: TipCategory, in_grid: bool) -> String {
        if !in_grid {
            return self.county_queue.clone();
        }
        self.departments
            .get(&category_key(category))
            .cloned()
            .unwrap_or_else(|| self.default_department.clone())
    }

    pub fn deadline(&self, category: TipCategory) -> Duration {
        let hours = self
            .deadline_hours
            .get(&category_key(category))
            .copied()
            .unwrap_or(self.default_deadline_hours);
        Duration::hours(i64::from(hours))
    }
}

struct GridShape {
    id: Uuid,
    polygon: Polygon<f64>,
    area: f64,
    envelope: AABB<[f64; 2]>,
}

impl RTreeObject for GridShape {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Grid polygons in an R-tree keyed by their bounding boxes. `generation` tells which grid changes
/// it already holds.
#[derive(Default)]
pub struct GridIndex {
    tree: RTree<GridShape>,
    pub generation: i64,
}

impl GridIndex {
    /// `grids`: id and open ring of (latitude, longitude).
    pub fn new(grids: impl IntoIterator<Item = (Uuid, Vec<(f64, f64)>)>, generation: i64) -> Self {
        let shapes = grids
            .into_iter()
            .filter_map(|(id, ring)| {
                if ring.len() < 3 {
                    return None;
                }
                let coords: Vec<(f64, f64)> = ring.iter().map(|&(lat, lng)| (lng, lat)).collect();
                let polygon = Polygon::new(LineString::from(coords), vec![]);
                let rect = polygon.bounding_rect()?;
                Some(GridShape {
                    id,
                    area: polygon.unsigned_area(),
                    envelope: AABB::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    polygon,
                })
            })
            .collect();
        Self {
            tree: RTree::bulk_load(shapes),
            generation,
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The grid holding the point (its boundary included); where grids overlap, the smallest one,
    /// then the lowest id, so the answer never depends on insertion order.
    pub fn locate(&self, latitude: f64, longitude: f64) -> Option<Uuid> {
        let point = Point::new(longitude, latitude);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([longitude, latitude]))
            .filter(|g| g.polygon.intersects(&point))
            .min_by(|a, b| a.area.total_cmp(&b.area).then(a.id.cmp(&b.id)))
            .map(|g| g.id)
    }
}

/// When a tip joins an open case instead of opening one.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeSettings {
    pub distance_meters: f64,
    pub window_minutes: i64,
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Haversine distance in meters.
pub fn distance_meters(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Degrees of latitude and longitude spanning `meters` around `lat`.
pub fn degrees_around(lat: f64, meters: f64) -> (f64, f64) {
    let dlat = meters / 111_195.0;
    (dlat, dlat / lat.to_radians().cos().max(0.01))
}

/// Advisory-lock keys for merging near `(lat, lng)`: the cells of one fixed lattice that the
/// point's neighbourhood (± `distance`) touches. Cells are at least as large as a neighbourhood
/// (up to 60° of latitude), so a point's own cell is among its keys, and two tips within
/// `distance` of each other always share a key: they merge one after the other and never open
/// two cases. Sorted, to lock in one order.
pub fn merge_lock_keys(category: i16, lat: f64, lng: f64, distance_m: f64) -> Vec<i64> {
    let (dlat, dlng) = degrees_around(lat, distance_m);
    let cell = |v: f64, side: f64| (v / side).floor() as i64;
    // The same lattice everywhere: 2d tall, 4d (in degrees of latitude) wide.
    let (side_lat, side_lng) = (2.0 * dlat, 4.0 * dlat);
    let mut keys = Vec::with_capacity(4);
    for la in [lat - dlat, lat + dlat] {
        for lo in [lng - dlng, lng + dlng] {
            let (i, j) = (cell(la, side_lat), cell(lo, side_lng));
            let key = (i64::from(category) << 48) ^ ((i & 0xff_ffff) << 24) ^ (j & 0xff_ffff);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.sort_unstable();
    keys
}

/// `JJ-2026-000123`.
pub fn case_number(county: &str, year: i32, n: i64) -> String {
    format!("{county}-{year}-{n:06}")
}

pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
pub const MAX_PHOTOS: usize = 9;
pub const MAX_PHOTO_URL_LEN: usize = 2_048;

pub fn valid_photo_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= MAX_PHOTO_URL_LEN
        && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lat0: f64, lng0: f64, size: f64) -> Vec<(f64, f64)> {
        vec![
            (lat0, lng0),
            (lat0, lng0 + size),
            (lat0 + size, lng0 + size),
            (lat0 + size, lng0),
        ]
    }

    #[test]
    fn a_point_is_routed_to_the_grid_that_holds_it() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let index = GridIndex::new(
            [
                (a, square(29.0, 103.0, 0.01)),
                (b, square(29.02, 103.0, 0.01)),
            ],
            1,
        );
        assert_eq!(index.locate(29.005, 103.005), Some(a));
        assert_eq!(index.locate(29.025, 103.005), Some(b));
        assert_eq!(index.locate(29.015, 103.005), None, "between the grids");
        assert_eq!(index.locate(29.0, 103.005), Some(a), "on the boundary");
    }

    #[test]
    fn a_point_outside_a_concave_grid_but_inside_its_box_is_not_in_it() {
        let l_shape = vec![
            (0.0, 0.0),
            (0.0, 2.0),
            (1.0, 2.0),
            (1.0, 1.0),
            (2.0, 1.0),
            (2.0, 0.0),
        ];
        let id = Uuid::now_v7();
        let index = GridIndex::new([(id, l_shape)], 1);
        assert_eq!(index.locate(0.5, 1.5), Some(id));
        assert_eq!(index.locate(1.5, 1.5), None);
    }

    #[test]
    fn overlapping_grids_resolve_to_the_smallest() {
        let (big, small) = (Uuid::now_v7(), Uuid::now_v7());
        let index = GridIndex::new(
            [(big, square(0.0, 0.0, 1.0)), (small, square(0.4, 0.4, 0.2))],
            1,
        );
        assert_eq!(index.locate(0.5, 0.5), Some(small));
        assert_eq!(index.locate(0.1, 0.1), Some(big));
    }

    #[test]
    fn departments_and_deadlines_come_from_settings() {
        let routing = RoutingSettings {
            departments: HashMap::from([("food_safety".into(), "market_supervision".into())]),
            default_department: "grid_office".into(),
            county_queue: "county_grid_office".into(),
            deadline_hours: HashMap::from([("food_safety".into(), 24)]),
            default_deadline_hours: 72,
        };
        assert_eq!(
            routing.department(TipCategory::FoodSafety, true),
            "market_supervision"
        );
        assert_eq!(
            routing.department(TipCategory::Traffic, true),
            "grid_office"
        );
        assert_eq!(
            routing.department(TipCategory::FoodSafety, false),
            "county_grid_office"
        );
        assert_eq!(
            routing.deadline(TipCategory::FoodSafety),
            Duration::hours(24)
        );
        assert_eq!(routing.deadline(TipCategory::Dispute), Duration::hours(72));
    }

    #[test]
    fn tips_within_the_merge_distance_share_a_lock() {
        let d = 50.0;
        let base = (29.740_000, 103.570_000);
        for (dlat, dlng) in [
            (0.0003, 0.0),
            (0.0, 0.0004),
            (-0.0002, 0.0003),
            (0.00031, -0.00031),
        ] {
            let (lat, lng) = (base.0 + dlat, base.1 + dlng);
            if distance_meters(base.0, base.1, lat, lng) > d {
                continue;
            }
            let a = merge_lock_keys(3, base.0, base.1, d);
            let b = merge_lock_keys(3, lat, lng, d);
            assert!(a.iter().any(|k| b.contains(k)), "{dlat},{dlng}");
        }
        let other_category = merge_lock_keys(4, base.0, base.1, d);
        assert!(
            merge_lock_keys(3, base.0, base.1, d)
                .iter()
                .all(|k| !other_category.contains(k))
        );
    }

    #[test]
    fn case_numbers_are_zero_padded_per_county_and_year() {
        assert_eq!(case_number("JJ", 2026, 123), "JJ-2026-000123");
    }

    #[test]
    fn photo_urls_must_be_web_references() {
        assert!(valid_photo_url("https://cdn.example/p/1.jpg"));
        assert!(!valid_photo_url("file:///etc/passwd"));
        assert!(!valid_photo_url("https://x/ y.jpg"));
    }
}
