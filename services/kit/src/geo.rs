//! Where the county is, and what a grid boundary must be to be one: inside the county's extent
//! (which also keeps it off the 180° meridian), a simple ring of a sane size, and not lying over
//! another grid beyond a tolerance. Pure geometry on WGS 84 degrees; areas use an equirectangular
//! projection at the ring's latitude, which is exact enough at a county's scale (errors well
//! under 1 % for rings a few kilometres across).

use geo::{Area, BooleanOps, Coord, LineString, Polygon, Validation};
use serde::Deserialize;

/// Metres per degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_320.0;

/// The county's bounding box, in degrees. Tips, stations and grids outside it are refused.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Extent {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl Default for Extent {
    /// Jiajiang county (夹江县), Leshan, Sichuan, with a margin of a few kilometres.
    fn default() -> Self {
        Self {
            south: 29.45,
            west: 103.30,
            north: 29.95,
            east: 103.75,
        }
    }
}

impl Extent {
    /// Whether a point lies inside (edges included).
    pub fn contains(&self, latitude: f64, longitude: f64) -> bool {
        (self.south..=self.north).contains(&latitude)
            && (self.west..=self.east).contains(&longitude)
    }

    /// A refusal naming the extent, for a point outside it.
    pub fn describe(&self) -> String {
        format!(
            "must lie in the county (latitude {}..{}, longitude {}..{})",
            self.south, self.north, self.west, self.east
        )
    }

    /// Why the extent cannot serve (a setting error), if it cannot.
    pub fn problem(&self) -> Option<String> {
        let finite = [self.south, self.west, self.north, self.east]
            .iter()
            .all(|v| v.is_finite());
        if !finite || self.south >= self.north || self.west >= self.east {
            return Some(format!(
                "county.extent {self:?}: south < north and west < east"
            ));
        }
        if self.south < -90.0 || self.north > 90.0 || self.west < -180.0 || self.east > 180.0 {
            return Some(format!(
                "county.extent {self:?}: outside -90..90, -180..180"
            ));
        }
        None
    }
}

/// The rules a grid boundary follows (settings `county.*`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct GridRules {
    /// The smallest grid, in square metres (a street corner is not a grid).
    #[serde(default = "defaults::min_grid_area_m2")]
    pub min_grid_area_m2: f64,
    /// The largest grid, in square kilometres.
    #[serde(default = "defaults::max_grid_area_km2")]
    pub max_grid_area_km2: f64,
    /// How much of the smaller of two grids may lie under the other (shared edges drawn by hand
    /// never match exactly), as a fraction.
    #[serde(default = "defaults::grid_overlap_tolerance")]
    pub grid_overlap_tolerance: f64,
}

impl GridRules {
    /// Why the rules cannot serve (a setting error), if they cannot.
    pub fn problem(&self) -> Option<String> {
        let finite = [
            self.min_grid_area_m2,
            self.max_grid_area_km2,
            self.grid_overlap_tolerance,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite
            || self.min_grid_area_m2 < 0.0
            || self.min_grid_area_m2 > self.max_grid_area_km2 * 1e6
        {
            return Some(format!(
                "county.grids {self:?}: finite, min_grid_area_m2 ≥ 0 and at most max_grid_area_km2"
            ));
        }
        if !(0.0..=1.0).contains(&self.grid_overlap_tolerance) {
            return Some(format!(
                "county.grids.grid_overlap_tolerance {}: a fraction within 0..=1",
                self.grid_overlap_tolerance
            ));
        }
        None
    }
}

impl Default for GridRules {
    fn default() -> Self {
        Self {
            min_grid_area_m2: defaults::min_grid_area_m2(),
            max_grid_area_km2: defaults::max_grid_area_km2(),
            grid_overlap_tolerance: defaults::grid_overlap_tolerance(),
        }
    }
}

mod defaults {
    pub fn min_grid_area_m2() -> f64 {
        100.0
    }
    pub fn max_grid_area_km2() -> f64 {
        100.0
    }
    pub fn grid_overlap_tolerance() -> f64 {
        0.05
    }
}

/// A grid boundary as given: a ring of (latitude, longitude).
#[derive(Debug, Clone)]
pub struct Boundary {
    polygon: Polygon<f64>,
    /// The projection's scale for longitude (cos of the mean latitude).
    cos_lat: f64,
}

/// Why a boundary is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundaryError {
    #[error("needs at least 3 distinct points")]
    TooFewPoints,
    #[error("point {0} {1}")]
    Outside(usize, String),
    #[error("must not cross itself")]
    SelfIntersecting,
    #[error("covers {0:.0} m², less than the smallest grid ({1:.0} m²)")]
    TooSmall(f64, f64),
    #[error("covers {0:.1} km², more than the largest grid ({1:.1} km²)")]
    TooLarge(f64, f64),
}

impl Boundary {
    /// Checks a ring against the extent and the size rules.
    pub fn new(
        ring: &[(f64, f64)],
        extent: &Extent,
        rules: &GridRules,
    ) -> Result<Self, BoundaryError> {
        for (i, &(lat, lng)) in ring.iter().enumerate() {
            if !extent.contains(lat, lng) {
                return Err(BoundaryError::Outside(i, extent.describe()));
            }
        }
        let mut points: Vec<(f64, f64)> = ring.to_vec();
        if points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        let mut distinct = points.clone();
        distinct.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        distinct.dedup();
        if distinct.len() < 3 {
            return Err(BoundaryError::TooFewPoints);
        }
        let mean_lat = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
        let cos_lat = mean_lat.to_radians().cos();
        let polygon = Polygon::new(
            LineString::from(
                points
                    .iter()
                    .map(|&(lat, lng)| Coord { x: lng, y: lat })
                    .collect::<Vec<_>>(),
            ),
            vec![],
        );
        if !polygon.is_valid() {
            return Err(BoundaryError::SelfIntersecting);
        }
        let boundary = Self { polygon, cos_lat };
        let area = boundary.area_m2();
        if area < rules.min_grid_area_m2 {
            return Err(BoundaryError::TooSmall(area, rules.min_grid_area_m2));
        }
        if area > rules.max_grid_area_km2 * 1e6 {
            return Err(BoundaryError::TooLarge(area / 1e6, rules.max_grid_area_km2));
        }
        Ok(boundary)
    }

    /// The area in square metres.
    pub fn area_m2(&self) -> f64 {
        degrees2_to_m2(self.polygon.unsigned_area(), self.cos_lat)
    }

    /// The share of the smaller of the two that the other covers (0 when apart, 1 when one holds
    /// the other). An `other` ring that is no polygon overlaps nothing.
    pub fn overlap_with(&self, other: &[(f64, f64)]) -> f64 {
        let ring: Vec<Coord<f64>> = other
            .iter()
            .map(|&(lat, lng)| Coord { x: lng, y: lat })
            .collect();
        if ring.len() < 3 {
            return 0.0;
        }
        let other = Polygon::new(LineString::from(ring), vec![]);
        let smaller = self.polygon.unsigned_area().min(other.unsigned_area());
        if smaller <= 0.0 {
            return 0.0;
        }
        let shared = self.polygon.intersection(&other).unsigned_area();
        (shared / smaller).clamp(0.0, 1.0)
    }
}

fn degrees2_to_m2(area: f64, cos_lat: f64) -> f64 {
    area * METRES_PER_DEGREE * METRES_PER_DEGREE * cos_lat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lat: f64, lng: f64, size: f64) -> Vec<(f64, f64)> {
        vec![
            (lat, lng),
            (lat, lng + size),
            (lat + size, lng + size),
            (lat + size, lng),
        ]
    }

    #[test]
    fn a_grid_in_the_county_of_a_sane_size_is_a_boundary() {
        let b = Boundary::new(
            &square(29.73, 103.56, 0.01),
            &Extent::default(),
            &GridRules::default(),
        )
        .unwrap();
        // 0.01° × 0.01° at 29.7° N: 1,113 m × 967 m.
        let area = b.area_m2();
        assert!((area - 1_076_000.0).abs() < 10_000.0, "{area}");
    }

    #[test]
    fn the_planet_the_null_island_and_the_antimeridian_are_refused() {
        let (e, r) = (Extent::default(), GridRules::default());
        let planet = [
            (-89.0, -179.0),
            (-89.0, 179.0),
            (89.0, 179.0),
            (89.0, -179.0),
        ];
        assert!(matches!(
            Boundary::new(&planet, &e, &r),
            Err(BoundaryError::Outside(0, _))
        ));
        assert!(matches!(
            Boundary::new(&square(0.0, 0.0, 0.01), &e, &r),
            Err(BoundaryError::Outside(..))
        ));
        let across = [(10.0, 179.5), (10.0, -179.5), (11.0, -179.5), (11.0, 179.5)];
        assert!(matches!(
            Boundary::new(&across, &e, &r),
            Err(BoundaryError::Outside(..))
        ));
    }

    #[test]
    fn degenerate_crossed_tiny_and_huge_rings_are_refused() {
        let (e, r) = (Extent::default(), GridRules::default());
        assert_eq!(
            Boundary::new(&[(29.7, 103.5), (29.71, 103.5), (29.7, 103.5)], &e, &r).unwrap_err(),
            BoundaryError::TooFewPoints
        );
        let bow_tie = [
            (29.7, 103.5),
            (29.71, 103.51),
            (29.7, 103.51),
            (29.71, 103.5),
        ];
        assert_eq!(
            Boundary::new(&bow_tie, &e, &r).unwrap_err(),
            BoundaryError::SelfIntersecting
        );
        assert!(matches!(
            Boundary::new(&square(29.7, 103.5, 0.00005), &e, &r),
            Err(BoundaryError::TooSmall(..))
        ));
        assert!(matches!(
            Boundary::new(&square(29.5, 103.35, 0.4), &e, &r),
            Err(BoundaryError::TooLarge(..))
        ));
    }

    #[test]
    fn overlap_is_the_share_of_the_smaller_grid() {
        let (e, r) = (Extent::default(), GridRules::default());
        let b = Boundary::new(&square(29.70, 103.50, 0.02), &e, &r).unwrap();
        // Half of an equal square.
        let half = b.overlap_with(&square(29.70, 103.51, 0.02));
        assert!((half - 0.5).abs() < 1e-6, "{half}");
        // A small grid inside: all of it.
        assert!((b.overlap_with(&square(29.705, 103.505, 0.005)) - 1.0).abs() < 1e-6);
        // Neighbours sharing an edge: nothing.
        assert!(b.overlap_with(&square(29.70, 103.52, 0.02)) < 1e-9);
        assert_eq!(b.overlap_with(&[(29.7, 103.5)]), 0.0);
    }

    #[test]
    fn extent_settings_are_checked() {
        assert!(Extent::default().problem().is_none());
        assert!(GridRules::default().problem().is_none());
        let nan = GridRules {
            grid_overlap_tolerance: f64::NAN,
            ..GridRules::default()
        };
        assert!(
            nan.problem().is_some(),
            "NaN would turn the overlap check off"
        );
        let upside_down = GridRules {
            min_grid_area_m2: 1e9,
            ..GridRules::default()
        };
        assert!(upside_down.problem().is_some());
        let flipped = Extent {
            south: 30.0,
            north: 29.0,
            ..Extent::default()
        };
        assert!(flipped.problem().is_some());
        let nan = Extent {
            west: f64::NAN,
            ..Extent::default()
        };
        assert!(nan.problem().is_some());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn point() -> impl Strategy<Value = (f64, f64)> {
            (-100.0f64..100.0, -200.0f64..200.0)
        }

        proptest! {
            /// Any ring at all — points anywhere, any count, crossing or not — is either refused
            /// or a boundary inside the extent of an allowed size; nothing panics.
            #[test]
            fn any_ring_is_refused_or_sane(ring in prop::collection::vec(point(), 0..12)) {
                let (e, r) = (Extent::default(), GridRules::default());
                if let Ok(b) = Boundary::new(&ring, &e, &r) {
                    prop_assert!(ring.iter().all(|&(lat, lng)| e.contains(lat, lng)));
                    let area = b.area_m2();
                    prop_assert!(area >= r.min_grid_area_m2 && area <= r.max_grid_area_km2 * 1e6);
                }
            }

            /// Overlap is a share: within 0..=1, and a grid covers all of itself.
            #[test]
            fn overlap_is_a_share(
                lat in 29.5f64..29.9, lng in 103.35f64..103.7, size in 0.001f64..0.04,
                dlat in -0.05f64..0.05, dlng in -0.05f64..0.05,
            ) {
                let (e, r) = (Extent::default(), GridRules::default());
                let ring = square(lat, lng, size);
                if let Ok(b) = Boundary::new(&ring, &e, &r) {
                    let o = b.overlap_with(&square(lat + dlat, lng + dlng, size));
                    prop_assert!((0.0..=1.0).contains(&o));
                    prop_assert!((b.overlap_with(&ring) - 1.0).abs() < 1e-6);
                }
            }

            /// Inside the extent means within its box, and nothing else.
            #[test]
            fn extent_contains_exactly_its_box(p in point()) {
                let e = Extent::default();
                let inside = p.0 >= e.south && p.0 <= e.north && p.1 >= e.west && p.1 <= e.east;
                prop_assert_eq!(e.contains(p.0, p.1), inside);
            }
        }
    }
}
