//! What a worker's report does to an amenity, without I/O. One worker saying "broken" marks it
//! reported, and it keeps counting in searches and coverage; it is taken out once staff confirm
//! it, or once enough distinct workers have said so within the window the settings give. Staff
//! set any state directly.

use serde::Deserialize;

pub const WORKING: i16 = 1;
pub const BROKEN: i16 = 2;
pub const UNDER_REPAIR: i16 = 3;
pub const REPORTED_BROKEN: i16 = 4;

/// The states in which an amenity counts in searches and coverage.
pub const COUNTING_STATES: &[i16] = &[WORKING, REPORTED_BROKEN];

/// How many workers make a report stick, and within how long.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ReportRules {
    /// Distinct workers whose reports take the amenity out (at least 1).
    #[serde(default = "default_to_confirm")]
    pub reports_to_confirm: u32,
    /// Reports older than this no longer count.
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
}

impl Default for ReportRules {
    fn default() -> Self {
        Self {
            reports_to_confirm: default_to_confirm(),
            window_minutes: default_window_minutes(),
        }
    }
}

fn default_to_confirm() -> u32 {
    3
}

fn default_window_minutes() -> u32 {
    120
}

/// The state after a worker's report, given the state before and the distinct workers who
/// reported it within the window, this one included. Broken or under repair stays as it is.
pub fn after_worker_report(current: i16, reporters: u32, rules: &ReportRules) -> i16 {
    match current {
        BROKEN | UNDER_REPAIR => current,
        _ if reporters >= rules.reports_to_confirm.max(1) => BROKEN,
        _ => REPORTED_BROKEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: ReportRules = ReportRules {
        reports_to_confirm: 3,
        window_minutes: 120,
    };

    #[test]
    fn one_report_marks_the_amenity_and_it_keeps_counting() {
        let after = after_worker_report(WORKING, 1, &RULES);
        assert_eq!(after, REPORTED_BROKEN);
        assert!(COUNTING_STATES.contains(&after));
    }

    #[test]
    fn enough_distinct_reporters_take_it_out() {
        assert_eq!(
            after_worker_report(REPORTED_BROKEN, 2, &RULES),
            REPORTED_BROKEN
        );
        let after = after_worker_report(REPORTED_BROKEN, 3, &RULES);
        assert_eq!(after, BROKEN);
        assert!(!COUNTING_STATES.contains(&after));
    }

    #[test]
    fn what_staff_set_stays_and_a_threshold_of_zero_means_one() {
        assert_eq!(after_worker_report(UNDER_REPAIR, 9, &RULES), UNDER_REPAIR);
        assert_eq!(after_worker_report(BROKEN, 1, &RULES), BROKEN);
        let one = ReportRules {
            reports_to_confirm: 0,
            ..RULES
        };
        assert_eq!(after_worker_report(WORKING, 1, &one), BROKEN);
    }
}
