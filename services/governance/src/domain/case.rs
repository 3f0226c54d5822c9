//! The case lifecycle's rules: which status changes a case may make, how it ends (fixed, or void
//! when every tip was rejected), and how long a closed case may still be reopened.

use chrono::{DateTime, Duration, Utc};
use redsupply_proto::governance::v1::{CaseResolution, CaseStatus};

/// Whether a case may move from `from` to `to` (a change to the same status is a note update,
/// not a transition). Reopening a closed case is allowed here; [`reopen_allowed`] bounds it in time.
pub fn transition_allowed(from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus::*;
    matches!(
        (from, to),
        (Assigned, Accepted | InProgress | Resolved)
            | (Accepted, InProgress | Resolved)
            | (InProgress, Resolved)
            | (Resolved, Closed | InProgress | Assigned)
            | (Closed, Assigned | InProgress)
    )
}

/// The resolution a case has after moving to `to`: fixed once resolved (and still when closed
/// after that), none once open again; a void case stays void while closed.
pub fn resolution_after(to: CaseStatus, before: CaseResolution) -> CaseResolution {
    match to {
        CaseStatus::Resolved => CaseResolution::Fixed,
        CaseStatus::Closed => match before {
            CaseResolution::Unspecified => CaseResolution::Fixed,
            other => other,
        },
        _ => CaseResolution::Unspecified,
    }
}

/// Why a closed case cannot be reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReopenRefusal {
    /// Closed longer ago than the window.
    WindowPassed,
}

/// Staff may reopen a case closed at `closed_at` until `window` has passed.
pub fn reopen_allowed(
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), ReopenRefusal> {
    match closed_at {
        Some(at) if now - at > window => Err(ReopenRefusal::WindowPassed),
        // Closed before closing times were kept, or within the window.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn cases_move_forward_and_may_reopen() {
        assert!(transition_allowed(Assigned, Accepted));
        assert!(transition_allowed(Resolved, InProgress));
        assert!(transition_allowed(Resolved, Assigned));
        assert!(transition_allowed(Resolved, Closed));
        assert!(transition_allowed(Closed, InProgress));
        assert!(!transition_allowed(Assigned, Closed));
        assert!(!transition_allowed(Accepted, Assigned));
        assert!(!transition_allowed(Closed, Resolved));
    }

    #[test]
    fn a_case_is_fixed_once_resolved_and_open_again_once_reopened() {
        assert_eq!(
            resolution_after(Resolved, CaseResolution::Unspecified),
            CaseResolution::Fixed
        );
        assert_eq!(
            resolution_after(Closed, CaseResolution::Fixed),
            CaseResolution::Fixed
        );
        assert_eq!(
            resolution_after(Closed, CaseResolution::Void),
            CaseResolution::Void
        );
        assert_eq!(
            resolution_after(InProgress, CaseResolution::Fixed),
            CaseResolution::Unspecified
        );
        assert_eq!(
            resolution_after(Assigned, CaseResolution::Void),
            CaseResolution::Unspecified
        );
    }

    #[test]
    fn a_closed_case_reopens_only_within_the_window() {
        let now = Utc::now();
        let window = Duration::days(30);
        assert_eq!(
            reopen_allowed(Some(now - Duration::days(29)), now, window),
            Ok(())
        );
        assert_eq!(
            reopen_allowed(Some(now - Duration::days(31)), now, window),
            Err(ReopenRefusal::WindowPassed)
        );
        assert_eq!(reopen_allowed(None, now, window), Ok(()));
    }
}
