//! Membership of the party organizations, one spell at a time: a member joins (an approved join
//! request), leaves, is transferred to another organization or removed by staff, each with who
//! and why; clearing a worker's party membership ends their spell too. Every change moves the
//! worker's organization and their history together, with a new worker version and two events
//! (the worker's, and the spell's).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events::publish,
    store::{
        membership::{
            self, End, JOINED_BY_REQUEST, LEFT, REMOVED, SpellRow, Start, TRANSFERRED,
            TRANSFERRED_IN,
        },
        tree, workers,
    },
};

/// A changed spell and the worker's version after the change.
pub type Changed = (SpellRow, i64);

/// Makes the locked worker a member of `organization` through the approved request.
pub(super) async fn join(
    tx: &mut PgConnection,
    worker: Uuid,
    organization: Uuid,
    join_request: Uuid,
    by: &str,
) -> Result<Changed, ChangeError> {
    workers::set_organization(tx, worker, Some(organization), true).await?;
    let start = Start {
        organization_id: organization,
        how: JOINED_BY_REQUEST,
        join_request_id: Some(join_request),
        by,
    };
    let spell = membership::open(tx, worker, &start).await?;
    announce(tx, worker, spell).await
}

/// Ends the locked worker's spell as `end` says (their organization becomes none; with
/// `party_member` false their party membership is cleared too); None if they had no spell.
pub(super) async fn end(
    tx: &mut PgConnection,
    worker: Uuid,
    end: &End<'_>,
    party_member: bool,
) -> Result<Option<Changed>, ChangeError> {
    membership::record_missing(tx, worker).await?;
    let Some(spell) = membership::close(tx, worker, end).await? else {
        return Ok(None);
    };
    workers::set_organization(tx, worker, None, party_member).await?;
    Ok(Some(announce(tx, worker, spell).await?))
}

/// Publishes the worker as they now stand and the spell; the spell and the worker's version.
async fn announce(
    tx: &mut PgConnection,
    worker: Uuid,
    spell: Uuid,
) -> Result<Changed, ChangeError> {
    let (mut spells, version) = announce_all(tx, worker, &[spell]).await?;
    Ok((spells.remove(0), version))
}

/// Publishes the worker as they now stand and each spell changed with them, in order.
async fn announce_all(
    tx: &mut PgConnection,
    worker: Uuid,
    spells: &[Uuid],
) -> Result<(Vec<SpellRow>, i64), ChangeError> {
    let w = workers::load(tx, worker).await?;
    publish::worker_updated(tx, &w).await?;
    let mut rows = Vec::with_capacity(spells.len());
    for &id in spells {
        let row = membership::get(tx, id).await?;
        publish::membership_changed(tx, &row, w.version).await?;
        rows.push(row);
    }
    Ok((rows, w.version))
}

/// Locks the worker at the caller's version and answers the organization they are a member of.
async fn member_of(
    tx: &mut PgConnection,
    worker: Uuid,
    expected_version: i64,
) -> Result<Uuid, ChangeError> {
    change::lock(tx, Aggregate::Worker, worker, expected_version).await?;
    membership::record_missing(tx, worker).await?;
    workers::load(tx, worker)
        .await?
        .organization_id
        .ok_or_else(|| {
            ChangeError::Precondition(format!(
                "worker {worker} is not a member of any party organization"
            ))
        })
}

/// The member leaves their organization; they stay a party member.
pub async fn leave(
    pool: &PgPool,
    caller: &str,
    worker: Uuid,
    expected_version: i64,
    reason: &str,
) -> Result<Changed, ChangeError> {
    let mut tx = pool.begin().await?;
    member_of(&mut tx, worker, expected_version).await?;
    let ended = end(&mut tx, worker, &ended(LEFT, reason, caller), true)
        .await?
        .ok_or_else(|| no_spell(worker))?;
    tx.commit().await?;
    Ok(ended)
}

/// Staff remove the member from their organization; with `party_membership_ended` the worker is
/// no longer recorded as a party member.
pub async fn remove(
    pool: &PgPool,
    caller: &str,
    worker: Uuid,
    expected_version: i64,
    reason: &str,
    party_membership_ended: bool,
) -> Result<Changed, ChangeError> {
    let mut tx = pool.begin().await?;
    member_of(&mut tx, worker, expected_version).await?;
    let ended = end(
        &mut tx,
        worker,
        &ended(REMOVED, reason, caller),
        !party_membership_ended,
    )
    .await?
    .ok_or_else(|| no_spell(worker))?;
    tx.commit().await?;
    Ok(ended)
}

/// Staff move the member to another party organization: the spell that ended, the one that
/// began, and the worker's version.
pub async fn transfer(
    pool: &PgPool,
    caller: &str,
    worker: Uuid,
    expected_version: i64,
    to: Uuid,
    reason: &str,
) -> Result<(SpellRow, SpellRow, i64), ChangeError> {
    let mut tx = pool.begin().await?;
    let from = member_of(&mut tx, worker, expected_version).await?;
    match tree::live_kind(&mut tx, to).await? {
        None => {
            return Err(ChangeError::invalid(
                "organization_id",
                format!("organization {to} does not exist"),
            ));
        }
        Some(3) => {}
        Some(_) => {
            return Err(ChangeError::invalid(
                "organization_id",
                "members belong to party organizations, not committees",
            ));
        }
    }
    if from == to {
        return Err(ChangeError::Precondition(format!(
            "worker {worker} is already a member of organization {to}"
        )));
    }
    let end = End {
        transferred_to: Some(to),
        ..ended(TRANSFERRED, reason, caller)
    };
    let previous = membership::close(&mut tx, worker, &end)
        .await?
        .ok_or_else(|| no_spell(worker))?;
    workers::set_organization(&mut tx, worker, Some(to), true).await?;
    let start = Start {
        organization_id: to,
        how: TRANSFERRED_IN,
        join_request_id: None,
        by: caller,
    };
    let spell = membership::open(&mut tx, worker, &start).await?;
    let (mut spells, version) = announce_all(&mut tx, worker, &[previous, spell]).await?;
    tx.commit().await?;
    let spell = spells.pop().expect("two spells");
    let previous = spells.pop().expect("two spells");
    Ok((previous, spell, version))
}

/// A member with no open spell: `record_missing` opens one for every member, so this is a bug.
fn no_spell(worker: Uuid) -> ChangeError {
    ChangeError::Precondition(format!(
        "worker {worker} has no open spell of membership to end"
    ))
}

fn ended<'a>(how: i16, reason: &'a str, by: &'a str) -> End<'a> {
    End {
        how,
        reason,
        by,
        transferred_to: None,
    }
}
