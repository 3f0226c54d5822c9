//! Consumer `organization-volunteer-roles`: governance's appointments, shown on the worker.
//! Appointments are only ever added, so applying a set is idempotent in any order.

use kit::bus::{Event, Handler, HandlerError};
use redsupply_proto::{events::v1 as ev, governance::v1::VolunteerRole};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::workers;

pub struct VolunteerRoleEvents;

impl Handler for VolunteerRoleEvents {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let e: ev::VolunteerRoleAppointed = event.decode()?;
        let worker = Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?;
        let roles: Vec<String> = e
            .roles
            .iter()
            .chain(std::iter::once(&e.role))
            .filter_map(|r| VolunteerRole::try_from(*r).ok())
            .filter(|r| *r != VolunteerRole::Unspecified)
            .map(|r| r.as_str_name().to_owned())
            .collect();
        workers::add_volunteer_roles(tx, worker, &roles).await?;
        Ok(())
    }
}
