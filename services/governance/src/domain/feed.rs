//! Which changes a `WatchCases` stream is sent: those of cases that match its filter (grids and
//! statuses), and — once — those of cases that stop matching it, so a mirror can drop them.

use uuid::Uuid;

/// What a watcher asked for; empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub grids: Vec<Uuid>,
    pub statuses: Vec<i16>,
}

/// How a change reaches a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The case matches the filter after the change.
    Matches,
    /// The case matched before the change and no longer does: the last message about it.
    Left,
}

impl FeedFilter {
    /// Whether a case in `grid` (None: the county queue) with `status` matches.
    pub fn matches(&self, grid: Option<Uuid>, status: i16) -> bool {
        (self.grids.is_empty() || grid.is_some_and(|g| self.grids.contains(&g)))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }

    /// The delivery of a change that left a case in `grid` with `status`, when before it the case
    /// was `before` (None: the change created it); None: the watcher is not sent it.
    pub fn delivery(
        &self,
        grid: Option<Uuid>,
        status: i16,
        before: Option<(Option<Uuid>, i16)>,
    ) -> Option<Delivery> {
        if self.matches(grid, status) {
            Some(Delivery::Matches)
        } else if before.is_some_and(|(g, s)| self.matches(g, s)) {
            Some(Delivery::Left)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSIGNED: i16 = 1;
    const IN_PROGRESS: i16 = 3;
    const RESOLVED: i16 = 4;

    fn grid(n: u128) -> Option<Uuid> {
        Some(Uuid::from_u128(n))
    }

    #[test]
    fn an_empty_filter_is_sent_every_change() {
        let all = FeedFilter::default();
        assert_eq!(all.delivery(None, ASSIGNED, None), Some(Delivery::Matches));
        assert_eq!(
            all.delivery(grid(1), RESOLVED, Some((grid(2), ASSIGNED))),
            Some(Delivery::Matches)
        );
    }

    #[test]
    fn a_case_reopened_out_of_a_status_filter_is_sent_once_as_left() {
        let resolved = FeedFilter {
            grids: vec![],
            statuses: vec![RESOLVED],
        };
        assert_eq!(
            resolved.delivery(grid(1), RESOLVED, Some((grid(1), IN_PROGRESS))),
            Some(Delivery::Matches)
        );
        assert_eq!(
            resolved.delivery(grid(1), IN_PROGRESS, Some((grid(1), RESOLVED))),
            Some(Delivery::Left)
        );
        // Not matching before or after: nothing.
        assert_eq!(
            resolved.delivery(grid(1), IN_PROGRESS, Some((grid(1), ASSIGNED))),
            None
        );
        assert_eq!(resolved.delivery(grid(1), ASSIGNED, None), None);
    }

    #[test]
    fn a_case_moved_to_another_grid_is_sent_once_to_the_grid_it_left() {
        let west = FeedFilter {
            grids: vec![Uuid::from_u128(1)],
            statuses: vec![],
        };
        assert_eq!(
            west.delivery(grid(2), ASSIGNED, Some((grid(1), IN_PROGRESS))),
            Some(Delivery::Left)
        );
        assert_eq!(
            west.delivery(grid(1), ASSIGNED, Some((None, ASSIGNED))),
            Some(Delivery::Matches)
        );
        assert_eq!(
            west.delivery(grid(2), ASSIGNED, Some((grid(2), ASSIGNED))),
            None
        );
        // The county queue is in no grid.
        assert_eq!(west.delivery(None, ASSIGNED, None), None);
    }

    #[test]
    fn both_filters_must_hold() {
        let f = FeedFilter {
            grids: vec![Uuid::from_u128(1)],
            statuses: vec![RESOLVED],
        };
        assert!(f.matches(grid(1), RESOLVED));
        assert!(!f.matches(grid(2), RESOLVED));
        assert!(!f.matches(grid(1), ASSIGNED));
        assert_eq!(
            f.delivery(grid(2), RESOLVED, Some((grid(1), RESOLVED))),
            Some(Delivery::Left)
        );
    }
}
