//! Coverage of grids by the service circle, without I/O: how far each station reaches in the
//! minutes asked for at its riding speed (its own, its area's, or the county's), and which
//! sampled cells of a grid lie beyond every qualifying station's reach.

use geo::{Contains, LineString, Point, Polygon};

use super::{StationIndex, StationPoint, reach_meters};

/// An area of the county where riders are slower (or faster) than the county's speed: an old
/// town's lanes, a hill road (`[[stations.speed_areas]]`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct SpeedArea {
    pub name: String,
    pub riding_speed_kmh: f64,
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl SpeedArea {
    fn contains(&self, lat: f64, lng: f64) -> bool {
        (self.south..=self.north).contains(&lat) && (self.west..=self.east).contains(&lng)
    }
}

/// The riding speed travel times assume at each station: its own, else that of the first area
/// holding it, else the county's.
#[derive(Debug, Clone, PartialEq)]
pub struct Speeds {
    pub county_kmh: f64,
    pub areas: Vec<SpeedArea>,
}

impl Speeds {
    pub fn county(county_kmh: f64) -> Self {
        Speeds {
            county_kmh,
            areas: Vec::new(),
        }
    }

    pub fn at(&self, s: &StationPoint) -> f64 {
        s.riding_speed_kmh
            .or_else(|| {
                self.areas
                    .iter()
                    .find(|a| a.contains(s.latitude, s.longitude))
                    .map(|a| a.riding_speed_kmh)
            })
            .unwrap_or(self.county_kmh)
    }

    /// What is wrong with the areas, if anything (a setting error).
    pub fn problem(&self) -> Option<String> {
        let speed_ok = |v: f64| v.is_finite() && (1.0..=60.0).contains(&v);
        if !speed_ok(self.county_kmh) {
            return Some("stations.riding_speed_kmh must be within 1..60".into());
        }
        self.areas.iter().find_map(|a| {
            let box_ok = [a.south, a.west, a.north, a.east].iter().all(|v| v.is_finite())
                && a.south < a.north
                && a.west < a.east;
            (!speed_ok(a.riding_speed_kmh) || !box_ok).then(|| {
                format!(
                    "stations.speed_areas {:?}: riding_speed_kmh must be within 1..60 and south < north, west < east",
                    a.name
                )
            })
        })
    }

    /// The fastest speed anywhere: what bounds every station's reach.
    pub fn fastest(&self, stations: &[StationPoint]) -> f64 {
        stations
            .iter()
            .map(|s| self.at(s))
            .fold(self.county_kmh, f64::max)
    }
}

/// The coverage of one grid: sampled cells, and the centres of those beyond reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub cells: usize,
    pub gaps: Vec<(f64, f64)>,
}

/// The bounding box of a ring: (south, north, west, east).
pub fn bounds(ring: &[(f64, f64)]) -> (f64, f64, f64, f64) {
    ring.iter().fold(
        (90.0f64, -90.0f64, 180.0f64, -180.0f64),
        |(s, n, w, e), &(lat, lng)| (s.min(lat), n.max(lat), w.min(lng), e.max(lng)),
    )
}

/// How far each station reaches: `minutes` of riding at its speed.
pub struct Reach<'a> {
    pub minutes: f64,
    pub speeds: &'a Speeds,
}

impl Reach<'_> {
    pub fn of(&self, s: &StationPoint) -> f64 {
        reach_meters(self.minutes, self.speeds.at(s))
    }
}

/// Samples the grid (open ring of (lat, lng)) on a square lattice of `cell_meters` and keeps the
/// cells whose centre lies inside it and beyond the reach of every qualifying station.
pub fn coverage(
    ring: &[(f64, f64)],
    cell_meters: f64,
    reach: &Reach<'_>,
    index: &StationIndex,
    keep: impl Fn(&StationPoint) -> bool,
) -> Coverage {
    let max_reach = reach_meters(reach.minutes, reach.speeds.fastest(index.stations()));
    let polygon = Polygon::new(
        LineString::from(
            ring.iter()
                .map(|&(lat, lng)| (lng, lat))
                .collect::<Vec<_>>(),
        ),
        vec![],
    );
    let (lat_min, lat_max, lng_min, lng_max) = bounds(ring);
    let dlat = cell_meters / 111_195.0;
    let dlng = dlat / ((lat_min + lat_max) / 2.0).to_radians().cos().max(0.01);
    let mut cells = 0;
    let mut gaps = Vec::new();
    let mut lat = lat_min + dlat / 2.0;
    while lat < lat_max {
        let mut lng = lng_min + dlng / 2.0;
        while lng < lng_max {
            if polygon.contains(&Point::new(lng, lat)) {
                cells += 1;
                if !index.covered(lat, lng, max_reach, |s| reach.of(s), &keep) {
                    gaps.push((lat, lng));
                }
            }
            lng += dlng;
        }
        lat += dlat;
    }
    Coverage { cells, gaps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::station;

    #[test]
    fn a_grid_far_from_every_station_is_all_gap_and_one_around_a_station_has_none_near_it() {
        let index = StationIndex::new(vec![station(1, 29.740, 103.570, &[1])]);
        let speeds = Speeds::county(15.0);
        let five_minutes = Reach {
            minutes: 5.0,
            speeds: &speeds,
        };
        // ~1.1 km square centred on the station: everything within 1,250 m is covered.
        let around = [
            (29.735, 103.565),
            (29.735, 103.575),
            (29.745, 103.575),
            (29.745, 103.565),
        ];
        let c = coverage(&around, 100.0, &five_minutes, &index, |_| true);
        assert!(c.cells > 50);
        assert!(c.gaps.is_empty(), "{:?}", c.gaps.len());
        let far = [
            (29.80, 103.60),
            (29.80, 103.61),
            (29.81, 103.61),
            (29.81, 103.60),
        ];
        let c = coverage(&far, 200.0, &five_minutes, &index, |_| true);
        assert_eq!(c.gaps.len(), c.cells);
    }

    #[test]
    fn a_station_reaches_as_far_as_its_own_or_its_areas_speed_takes_it() {
        let old_town = SpeedArea {
            name: "Old town".into(),
            riding_speed_kmh: 6.0,
            south: 29.70,
            west: 103.50,
            north: 29.72,
            east: 103.60,
        };
        let speeds = Speeds {
            county_kmh: 15.0,
            areas: vec![old_town],
        };
        assert!(speeds.problem().is_none());
        let in_town = station(1, 29.71, 103.55, &[1]);
        let outside = station(2, 29.75, 103.55, &[1]);
        let mut hill = station(3, 29.75, 103.56, &[1]);
        hill.riding_speed_kmh = Some(9.0);
        assert_eq!(speeds.at(&in_town), 6.0);
        assert_eq!(speeds.at(&outside), 15.0);
        assert_eq!(speeds.at(&hill), 9.0, "the station's own comes first");
        assert_eq!(speeds.fastest(&[in_town.clone(), hill.clone()]), 15.0);
        // 900 m from the old-town station: beyond its 500 m, within a county station's 1,250 m.
        let reach = Reach {
            minutes: 5.0,
            speeds: &speeds,
        };
        let ring = |lat: f64| {
            [
                (lat - 0.0005, 103.5595),
                (lat - 0.0005, 103.5605),
                (lat + 0.0005, 103.5605),
                (lat + 0.0005, 103.5595),
            ]
        };
        let slow = StationIndex::new(vec![station(1, 29.71, 103.55, &[1])]);
        let c = coverage(&ring(29.71), 50.0, &reach, &slow, |_| true);
        assert_eq!(c.gaps.len(), c.cells, "old town: 6 km/h reaches 500 m");
        let fast = StationIndex::new(vec![station(2, 29.75, 103.55, &[1])]);
        let c = coverage(&ring(29.75), 50.0, &reach, &fast, |_| true);
        assert!(c.gaps.is_empty(), "15 km/h reaches 1,250 m");
        let bad = Speeds {
            county_kmh: 15.0,
            areas: vec![SpeedArea {
                riding_speed_kmh: 0.0,
                ..speeds.areas[0].clone()
            }],
        };
        assert!(bad.problem().unwrap().contains("Old town"));
    }
}
