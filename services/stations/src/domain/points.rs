//! The points rules, without I/O: what each source earns, the daily caps, and how every entry
//! moves a worker's balance, which has three parts: available (what may be redeemed), pending
//! (from tips not yet confirmed) and debt (points taken back after they were spent). A credit to
//! available repays debt first; a take-back takes what is still pending, then what is available,
//! and the rest becomes debt. Each entry's [`Movement`] is stored with it, so the ledger replays
//! into every part and no part ever goes below zero.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct PointsSettings {
    /// Points for each submitted tip (pending until the tip is confirmed).
    pub tip_submitted: i64,
    /// Points for a tip merged into a case another tip opened (at most `tip_submitted`): a
    /// repeat report of the same spot earns less than the first one.
    #[serde(default)]
    pub tip_merged: i64,
    /// Days after which a tip's pending points become available if it was not rejected (its case
    /// accepted confirms it sooner).
    #[serde(default = "default_pending_days")]
    pub pending_days: u32,
    /// How often the release of pending points looks for tips old enough (seconds).
    #[serde(default = "default_release_sweep_secs")]
    pub release_sweep_secs: u64,
    /// Points for attending a training session.
    #[serde(default)]
    pub training_attended: i64,
    /// Points for attending an activity, by its kind (`free_clinic`, `book_giveaway`,
    /// `weekend_class`, `themed_lecture_series`, `other`); a kind without a line earns none.
    #[serde(default)]
    pub activity_attended: HashMap<String, i64>,
    /// Points when the reporter confirms their resolved case is fixed.
    #[serde(default)]
    pub tip_confirmed: i64,
    /// Points for each reporter when their case is resolved.
    #[serde(default)]
    pub case_resolved: i64,
    /// Points per confirmed hour of volunteer service (pro rata).
    #[serde(default)]
    pub volunteer_hour: i64,
    /// Most points a worker earns from one source in one local day; absent: no cap.
    #[serde(default)]
    pub daily_cap: HashMap<String, i64>,
}

fn default_pending_days() -> u32 {
    7
}

fn default_release_sweep_secs() -> u64 {
    60
}

impl PointsSettings {
    /// What is wrong with the settings, if anything.
    pub fn problem(&self) -> Option<String> {
        let amounts = [
            ("tip_submitted", self.tip_submitted),
            ("tip_merged", self.tip_merged),
            ("training_attended", self.training_attended),
            ("tip_confirmed", self.tip_confirmed),
            ("case_resolved", self.case_resolved),
            ("volunteer_hour", self.volunteer_hour),
        ];
        if let Some((name, _)) = amounts.iter().find(|(_, p)| *p < 0) {
            return Some(format!("stations.points.{name} must not be negative"));
        }
        if let Some((kind, _)) = self.activity_attended.iter().find(|(_, p)| **p < 0) {
            return Some(format!(
                "stations.points.activity_attended.{kind} must not be negative"
            ));
        }
        if self.tip_merged > self.tip_submitted {
            return Some("stations.points.tip_merged must not exceed tip_submitted".into());
        }
        if self.release_sweep_secs == 0 {
            return Some("stations.points.release_sweep_secs must be above 0".into());
        }
        None
    }

    /// What attending an activity of `kind` earns.
    pub fn for_activity(&self, kind: &str) -> i64 {
        self.activity_attended.get(kind).copied().unwrap_or(0)
    }

    /// What a tip earns: less when it was merged into an existing case.
    pub fn for_tip(&self, merged: bool) -> i64 {
        if merged {
            self.tip_merged
        } else {
            self.tip_submitted
        }
    }
}

/// Points actually awarded: the rule's amount, cut so that today's total stays within the cap.
pub fn capped(amount: i64, cap: Option<i64>, earned_today: i64) -> i64 {
    match cap {
        Some(cap) => amount.min((cap - earned_today).max(0)),
        None => amount,
    }
}

/// Whole points for `hours` of volunteer service.
pub fn volunteer_points(hours: f64, per_hour: i64) -> i64 {
    if !hours.is_finite() || hours <= 0.0 {
        return 0;
    }
    (hours * per_hour as f64).floor() as i64
}

/// A worker's balance in its three parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub available: i64,
    pub pending: i64,
    pub debt: i64,
}

/// How one ledger entry moves a balance. `points` is its change to what the worker has earned
/// and kept (available + pending - debt): what leaderboards count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Movement {
    pub points: i64,
    pub pending_change: i64,
    pub debt_change: i64,
}

impl Movement {
    pub fn available_change(&self) -> i64 {
        self.points - self.pending_change + self.debt_change
    }

    /// Points of this movement that repaid debt.
    pub fn repaid(&self) -> i64 {
        (-self.debt_change).max(0)
    }

    /// A credit of `points` that waits for its tip to be confirmed.
    pub fn pending(points: i64) -> Self {
        Movement {
            points,
            pending_change: points,
            debt_change: 0,
        }
    }

    /// A credit to available, which repays `balance`'s debt first.
    pub fn credit(balance: Balance, points: i64) -> Self {
        Movement {
            points,
            pending_change: 0,
            debt_change: -points.min(balance.debt).max(0),
        }
    }

    /// `points` leave pending for available, repaying debt first.
    pub fn release(balance: Balance, points: i64) -> Self {
        let points = points.min(balance.pending).max(0);
        Movement {
            points: 0,
            pending_change: -points,
            debt_change: -points.min(balance.debt),
        }
    }

    /// Takes back `points` of an award of which `still_pending` are pending: those first, then
    /// what is available; what was spent already becomes debt.
    pub fn take_back(balance: Balance, points: i64, still_pending: i64) -> Self {
        let points = points.max(0);
        let from_pending = points.min(still_pending).min(balance.pending).max(0);
        let rest = points - from_pending;
        let from_available = rest.min(balance.available.max(0));
        Movement {
            points: -points,
            pending_change: -from_pending,
            debt_change: rest - from_available,
        }
    }

    /// Spends `points` of available (the caller checked that they are there).
    pub fn spend(points: i64) -> Self {
        Movement {
            points: -points,
            pending_change: 0,
            debt_change: 0,
        }
    }
}

impl Balance {
    pub fn after(self, m: Movement) -> Balance {
        Balance {
            available: self.available + m.available_change(),
            pending: self.pending + m.pending_change,
            debt: self.debt + m.debt_change,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.available >= 0 && self.pending >= 0 && self.debt >= 0
    }

    /// What the worker has earned and kept: available + pending - debt.
    pub fn standing(&self) -> i64 {
        self.available + self.pending - self.debt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(available: i64, pending: i64, debt: i64) -> Balance {
        Balance {
            available,
            pending,
            debt,
        }
    }

    #[test]
    fn caps_and_hours_are_whole_and_bounded() {
        assert_eq!(capped(5, Some(12), 10), 2);
        assert_eq!(capped(5, Some(12), 15), 0);
        assert_eq!(capped(5, None, 1_000), 5);
        assert_eq!(volunteer_points(2.5, 10), 25);
        assert_eq!(volunteer_points(f64::NAN, 10), 0);
    }

    #[test]
    fn a_tip_is_pending_until_released_and_a_release_repays_debt_first() {
        let start = b(0, 0, 3);
        let awarded = start.after(Movement::pending(5));
        assert_eq!(awarded, b(0, 5, 3));
        let release = Movement::release(awarded, 5);
        assert_eq!(release.repaid(), 3);
        assert_eq!(awarded.after(release), b(2, 0, 0));
        assert_eq!(
            release.points, 0,
            "a release changes nothing a leaderboard counts"
        );
    }

    #[test]
    fn a_take_back_empties_pending_then_available_then_becomes_debt() {
        // Still pending: taken from pending alone.
        let m = Movement::take_back(b(4, 5, 0), 5, 5);
        assert_eq!(b(4, 5, 0).after(m), b(4, 0, 0));
        // Released and spent: what is left of available, the rest owed.
        let m = Movement::take_back(b(2, 0, 0), 5, 0);
        assert_eq!(b(2, 0, 0).after(m), b(0, 0, 3));
        assert_eq!(m.points, -5);
        // Partly pending (merged down, then rejected): both.
        let m = Movement::take_back(b(1, 1, 0), 3, 1);
        assert_eq!(b(1, 1, 0).after(m), b(0, 0, 1));
    }

    #[test]
    fn a_credit_repays_debt_before_it_is_available() {
        let m = Movement::credit(b(0, 0, 3), 2);
        assert_eq!(b(0, 0, 3).after(m), b(0, 0, 1));
        let m = Movement::credit(b(0, 0, 1), 10);
        assert_eq!(m.repaid(), 1);
        assert_eq!(b(0, 0, 1).after(m), b(9, 0, 0));
    }

    #[test]
    fn every_movement_keeps_the_parts_valid_and_standing_is_the_sum_of_points() {
        // Walk a mixed history; standing always equals the sum of the entries' points.
        let mut balance = Balance::default();
        let mut points = 0;
        let steps: Vec<Box<dyn Fn(Balance) -> Movement>> = vec![
            Box::new(|_| Movement::pending(5)),
            Box::new(|b| Movement::release(b, 5)),
            Box::new(|_| Movement::spend(5)),
            Box::new(|b| Movement::take_back(b, 5, 0)),
            Box::new(|_| Movement::pending(5)),
            Box::new(|b| Movement::credit(b, 3)),
            Box::new(|b| Movement::release(b, 5)),
            Box::new(|b| Movement::take_back(b, 3, 0)),
        ];
        for step in steps {
            let m = step(balance);
            balance = balance.after(m);
            points += m.points;
            assert!(balance.is_valid(), "{balance:?} after {m:?}");
            assert_eq!(balance.standing(), points);
        }
        assert_eq!(balance, b(0, 0, 0));
    }

    #[test]
    fn a_merged_tip_earns_less_and_the_settings_say_so() {
        let mut s: PointsSettings = serde_json::from_value(serde_json::json!({
            "tip_submitted": 5, "tip_merged": 1
        }))
        .unwrap();
        assert_eq!(s.for_tip(false), 5);
        assert_eq!(s.for_tip(true), 1);
        assert_eq!(s.pending_days, 7);
        assert!(s.problem().is_none());
        s.tip_merged = 6;
        assert!(s.problem().unwrap().contains("tip_merged"));
    }
}
