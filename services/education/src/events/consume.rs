//! What education consumes: organization's workers (consumer `education-workers`) and
//! communities (`education-communities`), decoded by `kit::bus::registry` and applied in newer
//! versions only.

use kit::bus::registry::{CommunityState, CommunityStore, WorkerState, WorkerStore};
use sqlx::PgConnection;

use crate::store;

pub const WORKERS_CONSUMER: &str = "education-workers";
pub const COMMUNITIES_CONSUMER: &str = "education-communities";

/// Education's `workers` table.
pub struct Workers;

impl WorkerStore for Workers {
    async fn apply(&self, tx: &mut PgConnection, w: &WorkerState) -> Result<(), sqlx::Error> {
        store::apply_worker(tx, w.id, w.community, w.deleted, w.version).await
    }
}

/// Education's `communities` table.
pub struct Communities;

impl CommunityStore for Communities {
    async fn apply(&self, tx: &mut PgConnection, c: &CommunityState) -> Result<(), sqlx::Error> {
        store::apply_community(tx, c.id, c.version).await
    }
}
