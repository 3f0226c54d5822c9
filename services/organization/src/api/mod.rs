//! `redsupply.organization.v1` in and out, one file per proto service (`registry.rs` for
//! `OrganizationService`, `party.rs`, `enterprise.rs`, `care.rs`, `desk.rs`), with the policy table
//! (`policy.rs`), the caller's scope (`scope.rs`), requests into typed commands (`validate.rs`)
//! and rows into protobuf (`convert.rs`); here what they share: the mapping of the use cases'
//! refusals to statuses, and the check of ids a list is filtered by.

pub mod care;
mod care_records;
mod convert;
mod correction;
pub mod desk;
mod desk_faq;
mod desk_view;
pub mod enterprise;
mod forums;
mod guides;
mod membership;
pub mod party;
mod policy;
mod records;
pub mod registry;
mod reports;
mod scope;
mod territory;
mod validate;

pub use policy::POLICIES;
use reports::names_of;
use scope::{ensure_for_worker, ensure_for_workers, in_communities};

use kit::api::{internal, invalid, not_found};
use sqlx::PgPool;
use tonic::Status;
use uuid::Uuid;

use crate::{
    app::registry::RegistryError,
    change::{self, Aggregate, ChangeError},
};

/// `community_field`: where the request named the community (its own id for UpsertCommunity,
/// which answers NOT_FOUND instead).
fn registry_status(context: &str, community_field: &str, e: RegistryError) -> Status {
    match e {
        RegistryError::UnknownCommunity(id) if community_field == "community.id" => {
            not_found("community", id)
        }
        RegistryError::UnknownCommunity(id) => {
            invalid(community_field, format!("community {id} does not exist"))
        }
        RegistryError::Change(change) => change.into_status(context),
        RegistryError::UnknownTownship(id) => invalid(
            "community.township_id",
            format!("township {id} does not exist"),
        ),
        RegistryError::UnknownEnterprise(id) => {
            invalid("enterprise_id", format!("enterprise {id} does not exist"))
        }
        shape @ (RegistryError::Boundary(_) | RegistryError::Overlap { .. }) => {
            invalid("grid.boundary", shape.to_string())
        }
        RegistryError::Database(db) => internal(context, db),
    }
}

fn change_status(context: &str) -> impl FnOnce(ChangeError) -> Status + '_ {
    move |e| e.into_status(context)
}

/// NOT_FOUND when `id` (if given) names no `what` ever recorded: a list filtered by an unknown
/// id answers as a read of that id would.
async fn ensure_known(pool: &PgPool, what: Aggregate, id: Option<Uuid>) -> Result<(), Status> {
    let Some(id) = id else {
        return Ok(());
    };
    if change::recorded(pool, what, id)
        .await
        .map_err(|e| internal("checking the id", e))?
    {
        Ok(())
    } else {
        Err(not_found(what.name(), id))
    }
}
