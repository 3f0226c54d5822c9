//! Education rules, without I/O: course lengths, the check-in window, what counts as a legal
//! lecture, the shape of expertise tags, check-in codes, and who an activity admits.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use redsupply_proto::education::v1::{ActivityKind, CourseFormat, CourseTheme};

/// The usual length of a format, in minutes.
pub fn default_duration_minutes(format: CourseFormat) -> i32 {
    match format {
        CourseFormat::MicroClass => 10,
        CourseFormat::RestBreakTalk => 20,
        CourseFormat::ThematicLecture | CourseFormat::Unspecified => 60,
    }
}

/// Check-in opens this long before a session starts and closes when it ends.
pub const CHECK_IN_OPENS_BEFORE: Duration = Duration::minutes(15);

pub fn check_in_window(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (starts_at - CHECK_IN_OPENS_BEFORE, ends_at)
}

pub fn within_check_in_window(
    now: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> bool {
    let (from, until) = check_in_window(starts_at, ends_at);
    from <= now && now <= until
}

/// A thematic lecture on legal aid, labour arbitration or women's rights.
pub fn is_legal_lecture(format: CourseFormat, theme: CourseTheme) -> bool {
    format == CourseFormat::ThematicLecture
        && matches!(
            theme,
            CourseTheme::LegalAid | CourseTheme::LabourArbitration | CourseTheme::WomensRights
        )
}

/// Expertise tags: lower-case words joined by `_`, at most 32 characters.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 32
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// No 0/O, 1/I/L: codes are read aloud and typed on phones.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

pub fn new_code(rng: &mut impl Rng) -> String {
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Codes are case-insensitive and forgiving of spaces and dashes.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase()
}

/// An activity's seats as they stand: its capacity, the workers signed up (and not cancelled,
/// checked in or not), and the walk-ins (checked in without signing up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    pub capacity: i64,
    pub signed_up: i64,
    pub walk_ins: i64,
}

impl Seats {
    /// Seats neither held by a sign-up nor taken by a walk-in.
    pub fn free(&self) -> i64 {
        (self.capacity - self.signed_up - self.walk_ins).max(0)
    }

    /// Whether a new sign-up fits: the seats held and the walk-ins leave one.
    pub fn admits_sign_up(&self) -> bool {
        self.free() > 0
    }

    /// Whether a worker checks in: one signed up always (their seat is held); one who did not
    /// only while a seat is free of sign-ups and walk-ins.
    pub fn admits_check_in(&self, signed_up: bool) -> bool {
        signed_up || self.free() > 0
    }
}

/// A kind of activity needs a lecture series: its own kind does.
pub fn needs_series(kind: ActivityKind) -> bool {
    kind == ActivityKind::ThemedLectureSeries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_classes_last_ten_minutes() {
        assert_eq!(default_duration_minutes(CourseFormat::MicroClass), 10);
        assert!(default_duration_minutes(CourseFormat::ThematicLecture) > 10);
    }

    #[test]
    fn the_window_opens_before_the_start_and_closes_at_the_end() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let end = start + Duration::minutes(30);
        assert!(within_check_in_window(
            start - Duration::minutes(10),
            start,
            end
        ));
        assert!(within_check_in_window(end, start, end));
        assert!(!within_check_in_window(
            start - Duration::minutes(16),
            start,
            end
        ));
        assert!(!within_check_in_window(
            end + Duration::seconds(1),
            start,
            end
        ));
    }

    #[test]
    fn only_thematic_lectures_on_legal_themes_are_legal_lectures() {
        assert!(is_legal_lecture(
            CourseFormat::ThematicLecture,
            CourseTheme::LabourArbitration
        ));
        assert!(!is_legal_lecture(
            CourseFormat::MicroClass,
            CourseTheme::LegalAid
        ));
        assert!(!is_legal_lecture(
            CourseFormat::ThematicLecture,
            CourseTheme::WorkSafety
        ));
    }

    #[test]
    fn tags_and_codes_have_a_fixed_shape() {
        assert!(valid_tag("labour_law"));
        assert!(!valid_tag("Labour Law"));
        let code = new_code(&mut rand::rng());
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(normalize_code(" abcd-efgh "), "ABCDEFGH");
    }

    #[test]
    fn a_signed_up_worker_keeps_their_seat_and_walk_ins_take_what_is_free() {
        let seats = Seats {
            capacity: 3,
            signed_up: 2,
            walk_ins: 0,
        };
        assert_eq!(seats.free(), 1);
        assert!(seats.admits_sign_up());
        assert!(seats.admits_check_in(true));
        assert!(seats.admits_check_in(false), "one seat is free");
        let full = Seats {
            walk_ins: 1,
            ..seats
        };
        assert!(!full.admits_sign_up());
        assert!(
            !full.admits_check_in(false),
            "the last seat went to a walk-in"
        );
        assert!(
            full.admits_check_in(true),
            "a signed-up worker's seat is held"
        );
        // Never fewer than no free seats.
        let over = Seats {
            capacity: 1,
            signed_up: 2,
            walk_ins: 1,
        };
        assert_eq!(over.free(), 0);
    }

    #[test]
    fn only_a_lecture_series_event_needs_its_series() {
        assert!(needs_series(ActivityKind::ThemedLectureSeries));
        assert!(!needs_series(ActivityKind::FreeClinic));
    }
}
