//! Stations and points rules, without I/O: great-circle distance and riding time, and how many
//! points each source earns.

use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
pub struct PointsSettings {
    /// Points for each submitted tip.
    pub tip_submitted: i64,
    /// Points for attending a training session.
    #[serde(default)]
    pub training_attended: i64,
}

#[cfg(test)]
mod tests {
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
    }
}
