//! What every change of a case writes besides the case itself: the history line that explains it
//! and the feed change that carries what the case was before, so the history and the feed agree.
//! Dispatch, the escalation sweep, grid routing and staff's changes all write through here.

use redsupply_proto::governance::v1 as pb;
use sqlx::PgConnection;

use crate::store::{self, Before, CaseRow, Transition};

/// Records the change from `before` to `after` by `actor` for `reason` (with the reply the
/// reporter is shown, if any); returns the case as the feed now shows it.
pub async fn record_case_change(
    tx: &mut PgConnection,
    before: &CaseRow,
    after: &CaseRow,
    actor: &str,
    reason: &str,
    public_reply: &str,
) -> Result<pb::Case, sqlx::Error> {
    store::record_transition(
        tx,
        &Transition {
            public_reply,
            ..Transition::of(before, after, actor, reason)
        },
    )
    .await?;
    store::record_change(tx, after.id, Some(Before::of(before))).await
}
