//! The volunteer team's rules without I/O: how many hours a service counts, and who may confirm
//! a service so that its hours earn points.

use chrono::{DateTime, Utc};
use redsupply_proto::governance::v1::VolunteerRole;
use uuid::Uuid;

/// Longest service one check-out records; a forgotten check-out does not become a week of hours.
pub const MAX_SERVICE_HOURS: f64 = 12.0;

/// Hours between check-in and check-out, at most [`MAX_SERVICE_HOURS`].
pub fn service_hours(started: DateTime<Utc>, ended: DateTime<Utc>) -> f64 {
    let h = (ended - started).num_milliseconds() as f64 / 3_600_000.0;
    h.clamp(0.0, MAX_SERVICE_HOURS)
}

/// Who confirms a shift: county staff, or a volunteer with the roles they hold.
pub enum Confirmer<'a> {
    Staff,
    Volunteer { worker: Uuid, roles: &'a [i32] },
}

/// Whether `confirmer` may confirm `worker`'s finished shift of `recorded` hours for `hours`
/// (0: as recorded); the hours to credit, or why not. A team leader confirms others' shifts,
/// never their own.
pub fn confirmation(
    confirmer: &Confirmer<'_>,
    worker: Uuid,
    recorded: Option<f64>,
    hours: f64,
) -> Result<f64, ConfirmRefusal> {
    if let Confirmer::Volunteer { worker: me, roles } = confirmer {
        if !roles.contains(&(VolunteerRole::TeamLeader as i32)) {
            return Err(ConfirmRefusal::NotLeader);
        }
        if *me == worker {
            return Err(ConfirmRefusal::OwnShift);
        }
    }
    let recorded = recorded.ok_or(ConfirmRefusal::StillOpen)?;
    if hours > recorded + 1e-9 {
        return Err(ConfirmRefusal::MoreThanRecorded(recorded));
    }
    Ok(if hours > 0.0 { hours } else { recorded })
}

#[derive(Debug, PartialEq)]
pub enum ConfirmRefusal {
    NotLeader,
    OwnShift,
    StillOpen,
    MoreThanRecorded(f64),
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

    #[test]
    fn a_team_leader_confirms_others_shifts_up_to_the_hours_recorded() {
        let (leader, rider) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let leads = [VolunteerRole::TeamLeader as i32];
        let guides = [VolunteerRole::CivilTrafficGuide as i32];
        let as_leader = Confirmer::Volunteer {
            worker: leader,
            roles: &leads,
        };
        assert_eq!(confirmation(&as_leader, rider, Some(3.0), 0.0), Ok(3.0));
        assert_eq!(confirmation(&as_leader, rider, Some(3.0), 2.0), Ok(2.0));
        assert_eq!(
            confirmation(&as_leader, rider, Some(3.0), 4.0),
            Err(ConfirmRefusal::MoreThanRecorded(3.0))
        );
        assert_eq!(
            confirmation(&as_leader, leader, Some(3.0), 0.0),
            Err(ConfirmRefusal::OwnShift)
        );
        let as_guide = Confirmer::Volunteer {
            worker: leader,
            roles: &guides,
        };
        assert_eq!(
            confirmation(&as_guide, rider, Some(3.0), 0.0),
            Err(ConfirmRefusal::NotLeader)
        );
        assert_eq!(
            confirmation(&Confirmer::Staff, rider, None, 0.0),
            Err(ConfirmRefusal::StillOpen)
        );
        assert_eq!(
            confirmation(&Confirmer::Staff, rider, Some(1.5), 0.0),
            Ok(1.5)
        );
    }
}
