//! Consumer `governance-workers`: organization's worker events into the worker read model (decoded
//! by `kit::bus::registry`), so governance refuses a volunteer or a staff-filed tip for someone
//! not registered (or deleted).

use kit::bus::registry::{WorkerState, WorkerStore};
use sqlx::PgConnection;

use crate::store;

/// Governance's `workers` table.
pub struct Workers;

impl WorkerStore for Workers {
    async fn apply(&self, tx: &mut PgConnection, w: &WorkerState) -> Result<(), sqlx::Error> {
        store::apply_worker(tx, w.id, w.community, w.deleted, w.version).await
    }
}
