//! The volunteer team's rule without I/O: how many hours a service counts.

use chrono::{DateTime, Utc};

/// Longest service one check-out records; a forgotten check-out does not become a week of hours.
pub const MAX_SERVICE_HOURS: f64 = 12.0;

/// Hours between check-in and check-out, at most [`MAX_SERVICE_HOURS`].
pub fn service_hours(started: DateTime<Utc>, ended: DateTime<Utc>) -> f64 {
    let h = (ended - started).num_milliseconds() as f64 / 3_600_000.0;
    h.clamp(0.0, MAX_SERVICE_HOURS)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn service_hours_are_measured_and_capped() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!((service_hours(start, start + Duration::minutes(90)) - 1.5).abs() < 1e-9);
        assert_eq!(
            service_hours(start, start + Duration::days(3)),
            MAX_SERVICE_HOURS
        );
        assert_eq!(service_hours(start, start - Duration::minutes(5)), 0.0);
    }
}
