//! Contact links (党支部—党员—群众): a party member keeps in touch with a set of workers. The set
//! is one aggregate per member with its own version; coverage says how many workers have a contact
//! and which members carry more than they should.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    store::{contacts, workers},
};

/// Bumps the member's set version and announces the whole set; returns (count, version).
async fn announce(tx: &mut PgConnection, member: Uuid) -> Result<(i32, i64), sqlx::Error> {
    let version = contacts::bump_version(tx, member).await?;
    let workers = contacts::workers_of(tx, member).await?;
    events::contacts_changed(tx, member, &workers, version).await?;
    Ok((workers.len() as i32, version))
}

/// Adds links from the member to each worker (links that exist are kept). Replays of the same call
/// change nothing and publish nothing.
pub async fn link(
    pool: &PgPool,
    member: Uuid,
    worker_ids: &[Uuid],
) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let m = workers::load(&mut tx, member).await?;
    if !m.party_member {
        return Err(ChangeError::Precondition(format!(
            "worker {member} is not a party member"
        )));
    }
    if worker_ids.contains(&member) {
        return Err(ChangeError::invalid(
            "worker_ids",
            "a member does not keep in touch with themselves",
        ));
    }
    change::require_all(&mut tx, Aggregate::Worker, "worker_ids", worker_ids).await?;
    let added = contacts::insert_links(&mut tx, member, worker_ids).await?;
    let result = if added > 0 {
        announce(&mut tx, member).await?
    } else {
        contacts::current(&mut tx, member).await?
    };
    tx.commit().await?;
    Ok(result)
}

pub async fn unlink(pool: &PgPool, member: Uuid, worker: Uuid) -> Result<(i32, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    change::lock(&mut tx, Aggregate::Worker, member, 0).await?;
    let removed = contacts::delete_link(&mut tx, member, worker).await?;
    if removed == 0 {
        return Err(ChangeError::Precondition(format!(
            "member {member} is not in touch with worker {worker}"
        )));
    }
    let result = announce(&mut tx, member).await?;
    tx.commit().await?;
    Ok(result)
}
