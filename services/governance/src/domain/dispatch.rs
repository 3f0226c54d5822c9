//! The planning half of dispatch, without I/O: which case a submitted tip joins. A tip joins the
//! nearest open case of its category within the merge distance (then the oldest); tips dispatched
//! together may also join a case one of them opens. The one-by-one path and the batch path both
//! plan through [`Grouping`], so they decide alike; `app::dispatch` reads the candidates and
//! writes what the plan says.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{degrees_around, distance_meters};

/// Where a tip is, and what it reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spot {
    pub category: i16,
    pub latitude: f64,
    pub longitude: f64,
}

/// An open case a tip may join: one that was open before the tips being dispatched.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCase {
    pub id: Uuid,
    pub spot: Spot,
    pub created_at: DateTime<Utc>,
}

/// Where a tip goes: a case open before the group (an index into [`Grouping::existing`]), or one
/// the group opens (an index into [`Grouping::opened`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Existing(usize),
    New(usize),
}

/// The decisions for tips dispatched together, made in order.
#[derive(Debug, Default)]
pub struct Grouping {
    /// The cases open before the group that some tip considered, in order of first sight.
    pub existing: Vec<Uuid>,
    /// The cases the group opens, each at the spot of the tip that opens it.
    pub opened: Vec<Spot>,
}

impl Grouping {
    /// The case `tip` joins, if any: among `candidates` (open cases of its category near it, as
    /// the store found them) and the cases the group opened so far, the nearest within
    /// `distance` meters, then the oldest. A case opened before the group is older than any the
    /// group opens. `distance` 0 (or less) merges nothing.
    pub fn join(&mut self, tip: &Spot, candidates: &[OpenCase], distance: f64) -> Option<Target> {
        if distance <= 0.0 {
            return None;
        }
        let mut best: Option<(f64, usize, Target)> = None;
        let mut consider = |d: f64, order: usize, t: Target| {
            if d <= distance && best.is_none_or(|(bd, bo, _)| (d, order) < (bd, bo)) {
                best = Some((d, order, t));
            }
        };
        let mut older: Vec<&OpenCase> = candidates.iter().collect();
        older.sort_by_key(|c| (c.created_at, c.id));
        for (k, c) in older.into_iter().enumerate() {
            let d = distance_meters(
                tip.latitude,
                tip.longitude,
                c.spot.latitude,
                c.spot.longitude,
            );
            let pos = match self.existing.iter().position(|e| *e == c.id) {
                Some(p) => p,
                None => {
                    self.existing.push(c.id);
                    self.existing.len() - 1
                }
            };
            consider(d, k, Target::Existing(pos));
        }
        let (dlat, dlng) = degrees_around(tip.latitude, distance);
        for (k, c) in self.opened.iter().enumerate() {
            // The same box the store's candidate query applies to cases opened before the group.
            let in_box = (c.latitude - tip.latitude).abs() <= dlat
                && (c.longitude - tip.longitude).abs() <= dlng;
            if c.category == tip.category && in_box {
                let d = distance_meters(tip.latitude, tip.longitude, c.latitude, c.longitude);
                consider(d, usize::MAX / 2 + k, Target::New(k));
            }
        }
        best.map(|(_, _, t)| t)
    }

    /// `tip` opens a new case.
    pub fn open(&mut self, tip: &Spot) -> Target {
        self.opened.push(*tip);
        Target::New(self.opened.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    const POTHOLE: i16 = 1;
    const LIGHT: i16 = 2;

    fn spot(category: i16, north_m: f64) -> Spot {
        Spot {
            category,
            latitude: 29.7 + north_m / 111_195.0,
            longitude: 103.5,
        }
    }

    fn case(n: u128, s: Spot, age_minutes: i64) -> OpenCase {
        OpenCase {
            id: Uuid::from_u128(n),
            spot: s,
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap()
                - Duration::minutes(age_minutes),
        }
    }

    #[test]
    fn the_nearest_open_case_within_the_distance_wins() {
        let mut g = Grouping::default();
        let far = case(1, spot(POTHOLE, 40.0), 10);
        let near = case(2, spot(POTHOLE, 10.0), 5);
        let tip = spot(POTHOLE, 0.0);
        let t = g.join(&tip, &[far, near], 50.0);
        assert_eq!(
            t,
            Some(Target::Existing(
                g.existing
                    .iter()
                    .position(|i| *i == Uuid::from_u128(2))
                    .unwrap()
            ))
        );
        let beyond = case(3, spot(POTHOLE, 80.0), 1);
        assert_eq!(Grouping::default().join(&tip, &[beyond], 50.0), None);
    }

    #[test]
    fn at_the_same_distance_the_oldest_wins() {
        let mut g = Grouping::default();
        let young = case(1, spot(POTHOLE, 10.0), 1);
        let old = case(2, spot(POTHOLE, 10.0), 30);
        let Some(Target::Existing(p)) = g.join(&spot(POTHOLE, 0.0), &[young, old], 50.0) else {
            panic!("joins one");
        };
        assert_eq!(g.existing[p], Uuid::from_u128(2));
    }

    #[test]
    fn tips_of_a_group_join_the_case_an_earlier_one_opens_of_their_category_only() {
        let mut g = Grouping::default();
        let first = spot(POTHOLE, 0.0);
        assert_eq!(g.join(&first, &[], 50.0), None);
        assert_eq!(g.open(&first), Target::New(0));
        assert_eq!(
            g.join(&spot(POTHOLE, 20.0), &[], 50.0),
            Some(Target::New(0))
        );
        assert_eq!(g.join(&spot(LIGHT, 20.0), &[], 50.0), None);
        assert_eq!(g.join(&spot(POTHOLE, 200.0), &[], 50.0), None);
    }

    #[test]
    fn a_case_open_before_the_group_beats_one_the_group_opened_at_the_same_distance() {
        let mut g = Grouping::default();
        let opener = spot(POTHOLE, 20.0);
        g.open(&opener);
        let before = case(7, spot(POTHOLE, 20.0), 3);
        assert_eq!(
            g.join(&spot(POTHOLE, 0.0), &[before], 50.0),
            Some(Target::Existing(0))
        );
    }

    #[test]
    fn no_distance_merges_nothing() {
        let mut g = Grouping::default();
        let c = case(1, spot(POTHOLE, 0.0), 1);
        assert_eq!(g.join(&spot(POTHOLE, 0.0), &[c], 0.0), None);
        assert!(g.existing.is_empty());
    }
}
