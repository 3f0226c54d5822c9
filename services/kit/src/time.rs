//! Conversions between `chrono` times (what the database speaks) and protobuf `Timestamp`s.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

pub fn to_timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// `None` when the timestamp is outside chrono's range or its nanos are out of bounds.
pub fn from_timestamp(t: &Timestamp) -> Option<DateTime<Utc>> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    DateTime::from_timestamp(t.seconds, t.nanos as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_nanoseconds() {
        let now = DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap();
        assert_eq!(from_timestamp(&to_timestamp(now)), Some(now));
    }

    #[test]
    fn out_of_range_nanos_are_refused() {
        let bad = Timestamp {
            seconds: 1,
            nanos: -5,
        };
        assert_eq!(from_timestamp(&bad), None);
    }
}
