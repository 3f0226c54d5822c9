//! The honours rules, without I/O: a selection's period (a year or a quarter of the county's
//! time), the categories, how a review moves a nomination, and the candidate's record that
//! reviewers read.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{LocalClock, YEARS};

/// The honours a selection may award.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// 最美骑手
    BestRider = 1,
    /// 最美快递员
    BestCourier = 2,
    /// 夹江好人
    JiajiangGoodPerson = 3,
}

impl Category {
    pub fn from_i16(v: i16) -> Option<Self> {
        match v {
            1 => Some(Self::BestRider),
            2 => Some(Self::BestCourier),
            3 => Some(Self::JiajiangGoodPerson),
            _ => None,
        }
    }
}

/// A selection's period: a year, or one quarter of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    /// 1..=4; `None` for the whole year.
    pub quarter: Option<u32>,
}

impl Period {
    /// "YYYY" or "YYYY-Qn" (n in 1..=4), a year within [`YEARS`]; nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let year: i32 = text[..4].parse().ok()?;
        if !YEARS.contains(&year) {
            return None;
        }
        let quarter = match &b[4..] {
            [] => None,
            [b'-', b'Q', q @ b'1'..=b'4'] => Some(u32::from(q - b'0')),
            _ => return None,
        };
        Some(Self { year, quarter })
    }

    /// Its canonical spelling.
    pub fn label(&self) -> String {
        match self.quarter {
            Some(q) => format!("{}-Q{q}", self.year),
            None => format!("{}", self.year),
        }
    }

    /// [start, end) in UTC, the county's days.
    pub fn bounds(&self, clock: &LocalClock) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (first, next) = match self.quarter {
            None => (
                NaiveDate::from_ymd_opt(self.year, 1, 1)?,
                NaiveDate::from_ymd_opt(self.year + 1, 1, 1)?,
            ),
            Some(4) => (
                NaiveDate::from_ymd_opt(self.year, 10, 1)?,
                NaiveDate::from_ymd_opt(self.year + 1, 1, 1)?,
            ),
            Some(q) => (
                NaiveDate::from_ymd_opt(self.year, 3 * q - 2, 1)?,
                NaiveDate::from_ymd_opt(self.year, 3 * q + 1, 1)?,
            ),
        };
        Some(clock.dates(first, next))
    }
}

/// Where a nomination stands. Stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Nominated = 1,
    Shortlisted = 2,
    Awarded = 3,
    Declined = 4,
}

impl Standing {
    pub fn from_i16(v: i16) -> Option<Self> {
        match v {
            1 => Some(Self::Nominated),
            2 => Some(Self::Shortlisted),
            3 => Some(Self::Awarded),
            4 => Some(Self::Declined),
            _ => None,
        }
    }

    /// Whether the review is over: an award or a decline is final.
    pub fn decided(self) -> bool {
        matches!(self, Self::Awarded | Self::Declined)
    }
}

/// What county staff decide on a nomination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Shortlist,
    Award,
    Decline,
}

/// Why a decision cannot apply to a nomination where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRefusal {
    #[error("only a shortlisted nomination may be awarded; shortlist it first")]
    NotShortlisted,
    #[error("the nomination is already shortlisted")]
    AlreadyShortlisted,
    #[error("the nomination was already decided ({0:?}); a decision is final")]
    Decided(Standing),
}

/// Where `decision` takes a nomination standing at `from`: nominated → shortlisted or declined,
/// shortlisted → awarded or declined; a decided nomination stays as it is.
pub fn review(from: Standing, decision: Decision) -> Result<Standing, ReviewRefusal> {
    use Decision as D;
    use Standing as S;
    match (from, decision) {
        (S::Awarded | S::Declined, _) => Err(ReviewRefusal::Decided(from)),
        (S::Nominated, D::Shortlist) => Ok(S::Shortlisted),
        (S::Nominated, D::Award) => Err(ReviewRefusal::NotShortlisted),
        (S::Shortlisted, D::Shortlist) => Err(ReviewRefusal::AlreadyShortlisted),
        (S::Shortlisted, D::Award) => Ok(S::Awarded),
        (_, D::Decline) => Ok(S::Declined),
    }
}

/// The standing a decision leads to, whatever the nomination's: what a retried review must find.
pub fn outcome(decision: Decision) -> Standing {
    match decision {
        Decision::Shortlist => Standing::Shortlisted,
        Decision::Award => Standing::Awarded,
        Decision::Decline => Standing::Declined,
    }
}

/// A candidate's record over a selection's period, from stations' ledger and deeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    /// Points earned in the period that still stand (honours' own points left out).
    pub points_standing: i64,
    /// Tips submitted in the period, confirmed and not rejected.
    pub confirmed_tips: i32,
    pub volunteer_shifts: i32,
    /// Hours of the shifts whose hours are known.
    pub volunteer_hours: f64,
    pub trainings_attended: i32,
    pub activities_attended: i32,
    /// Honours awarded to the worker in other nominations.
    pub honours_before: i32,
}

/// The honours settings (`[stations.honours]`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct HonoursSettings {
    /// The most points one award may carry.
    #[serde(default = "default_max_award_points")]
    pub max_award_points: i64,
}

impl Default for HonoursSettings {
    fn default() -> Self {
        Self {
            max_award_points: default_max_award_points(),
        }
    }
}

fn default_max_award_points() -> i64 {
    500
}

impl HonoursSettings {
    pub fn problem(&self) -> Option<String> {
        (!(0..=1_000_000).contains(&self.max_award_points))
            .then(|| "stations.honours.max_award_points must be within 0..=1000000".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_a_year_or_one_of_its_quarters_spelled_one_way() {
        assert_eq!(
            Period::parse("2026"),
            Some(Period {
                year: 2026,
                quarter: None
            })
        );
        assert_eq!(Period::parse("2026-Q3").unwrap().quarter, Some(3));
        for bad in [
            "",
            "26",
            "2026-",
            "2026-Q0",
            "2026-Q5",
            "2026-q1",
            "2026Q1",
            "+2026",
            "2026-Q1 ",
            "1969",
            "2101",
            "２０２６",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Period::parse("2026-Q4").unwrap().label(), "2026-Q4");
    }

    #[test]
    fn a_period_runs_from_the_county_s_midnight_to_the_next_period_s() {
        let clock = LocalClock::new(480).unwrap();
        let (start, end) = Period::parse("2026-Q1").unwrap().bounds(&clock).unwrap();
        assert_eq!(start.to_rfc3339(), "2025-12-31T16:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-03-31T16:00:00+00:00");
        let (_, q4_end) = Period::parse("2026-Q4").unwrap().bounds(&clock).unwrap();
        let (year_start, year_end) = Period::parse("2026").unwrap().bounds(&clock).unwrap();
        assert_eq!(year_start, start);
        assert_eq!(year_end, q4_end);
        assert_eq!(year_end.to_rfc3339(), "2026-12-31T16:00:00+00:00");
    }

    #[test]
    fn a_nomination_is_shortlisted_before_it_is_awarded_and_a_decision_is_final() {
        use Decision as D;
        use Standing as S;
        assert_eq!(review(S::Nominated, D::Shortlist), Ok(S::Shortlisted));
        assert_eq!(review(S::Nominated, D::Decline), Ok(S::Declined));
        assert_eq!(
            review(S::Nominated, D::Award),
            Err(ReviewRefusal::NotShortlisted)
        );
        assert_eq!(review(S::Shortlisted, D::Award), Ok(S::Awarded));
        assert_eq!(review(S::Shortlisted, D::Decline), Ok(S::Declined));
        for d in [D::Shortlist, D::Award, D::Decline] {
            assert_eq!(
                review(S::Awarded, d),
                Err(ReviewRefusal::Decided(S::Awarded))
            );
            assert_eq!(
                review(S::Declined, d),
                Err(ReviewRefusal::Decided(S::Declined))
            );
        }
    }
}
