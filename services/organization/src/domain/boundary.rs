//! What makes a grid boundary valid, without I/O: a ring of WGS 84 points that does not cross
//! itself and encloses an area, of a bounded number of points.

use redsupply_proto::common::v1::LatLng;

/// Why a boundary is not a usable grid polygon.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundaryError {
    #[error("needs at least 3 distinct points")]
    TooFewPoints,
    #[error("point {0} is not a finite WGS 84 coordinate (latitude -90..90, longitude -180..180)")]
    BadCoordinate(usize),
    #[error("edges {0} and {1} cross: the ring intersects itself")]
    SelfIntersecting(usize, usize),
    #[error("encloses no area")]
    NoArea,
    #[error("has more than {0} points")]
    TooManyPoints(usize),
}

/// The self-intersection check compares every pair of edges, so its cost grows with the square of
/// the points: 2,000 keeps one call to about two million pairs.
pub const MAX_BOUNDARY_POINTS: usize = 2_000;

/// Validates a ring and returns it open (the closing repeat of the first point dropped).
pub fn normalize_boundary(points: &[LatLng]) -> Result<Vec<(f64, f64)>, BoundaryError> {
    if points.len() > MAX_BOUNDARY_POINTS {
        return Err(BoundaryError::TooManyPoints(MAX_BOUNDARY_POINTS));
    }
    let mut ring: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        if !valid_coordinate(p.latitude, p.longitude) {
            return Err(BoundaryError::BadCoordinate(i));
        }
        // Consecutive duplicates add nothing.
        if ring.last() != Some(&(p.latitude, p.longitude)) {
            ring.push((p.latitude, p.longitude));
        }
    }
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return Err(BoundaryError::TooFewPoints);
    }
    let n = ring.len();
    for i in 0..n {
        for j in (i + 1)..n {
            // Adjacent edges share a point; skip them (and the pair closing the ring).
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (c, d) = (ring[j], ring[(j + 1) % n]);
            if segments_intersect(a, b, c, d) {
                return Err(BoundaryError::SelfIntersecting(i, j));
            }
        }
    }
    if signed_area(&ring).abs() < 1e-12 {
        return Err(BoundaryError::NoArea);
    }
    Ok(ring)
}

pub fn valid_coordinate(lat: f64, lng: f64) -> bool {
    lat.is_finite()
        && lng.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
}

fn signed_area(ring: &[(f64, f64)]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (y1, x1) = ring[i];
            let (y2, x2) = ring[(i + 1) % n];
            x1 * y2 - x2 * y1
        })
        .sum::<f64>()
        / 2.0
}

fn orientation(p: (f64, f64), q: (f64, f64), r: (f64, f64)) -> f64 {
    (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
}

fn on_segment(p: (f64, f64), q: (f64, f64), r: (f64, f64)) -> bool {
    q.0 <= p.0.max(r.0) && q.0 >= p.0.min(r.0) && q.1 <= p.1.max(r.1) && q.1 >= p.1.min(r.1)
}

fn segments_intersect(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let (o1, o2, o3, o4) = (
        orientation(a, b, c),
        orientation(a, b, d),
        orientation(c, d, a),
        orientation(c, d, b),
    );
    if ((o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0))
        && ((o3 > 0.0 && o4 < 0.0) || (o3 < 0.0 && o4 > 0.0))
    {
        return true;
    }
    (o1 == 0.0 && on_segment(a, c, b))
        || (o2 == 0.0 && on_segment(a, d, b))
        || (o3 == 0.0 && on_segment(c, a, d))
        || (o4 == 0.0 && on_segment(c, b, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(points: &[(f64, f64)]) -> Vec<LatLng> {
        points
            .iter()
            .map(|&(latitude, longitude)| LatLng {
                latitude,
                longitude,
            })
            .collect()
    }

    #[test]
    fn a_closed_square_is_accepted_and_opened() {
        let r = normalize_boundary(&ring(&[
            (0.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (1.0, 0.0),
            (0.0, 0.0),
        ]))
        .unwrap();
        assert_eq!(r.len(), 4);
        let open =
            normalize_boundary(&ring(&[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)])).unwrap();
        assert_eq!(r, open);
    }

    #[test]
    fn a_bow_tie_is_refused() {
        let err = normalize_boundary(&ring(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]))
            .unwrap_err();
        assert!(
            matches!(err, BoundaryError::SelfIntersecting(_, _)),
            "{err:?}"
        );
    }

    #[test]
    fn too_few_points_or_bad_coordinates_are_refused() {
        assert_eq!(
            normalize_boundary(&ring(&[(0.0, 0.0), (0.0, 1.0), (0.0, 0.0)])),
            Err(BoundaryError::TooFewPoints)
        );
        assert_eq!(
            normalize_boundary(&ring(&[(0.0, 0.0), (95.0, 1.0), (1.0, 1.0)])),
            Err(BoundaryError::BadCoordinate(1))
        );
        assert_eq!(
            normalize_boundary(&ring(&[(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0)])),
            Err(BoundaryError::BadCoordinate(1))
        );
    }

    #[test]
    fn collinear_points_enclose_no_area() {
        assert_eq!(
            normalize_boundary(&ring(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)])),
            Err(BoundaryError::NoArea)
        );
    }
}
