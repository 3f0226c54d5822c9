//! The read models every service keeps of organization's registry arrive through the same
//! events, so they are decoded here once: a service says how it stores a worker's or a
//! community's state ([`WorkerStore`], [`CommunityStore`]), and [`WorkerEvents`] /
//! [`CommunityEvents`] are its consumers. Each state carries the registry's version; a store
//! applies only a newer one.

use std::future::Future;

use redsupply_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Event, Handler, HandlerError};

/// A worker as the registry last announced it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerState {
    pub id: Uuid,
    /// None: in no community.
    pub community: Option<Uuid>,
    pub platform: String,
    /// None: employed by no enterprise the registry knows.
    pub enterprise: Option<Uuid>,
    pub deleted: bool,
    pub version: i64,
}

impl WorkerState {
    /// The state a worker event carries. `WorkerUpdated` carries `WorkerRegistered`'s fields 1-7
    /// and `deleted`, so both decode as an update (a registration with `deleted` false).
    pub fn of(event: &Event) -> Result<Self, HandlerError> {
        let e: ev::WorkerUpdated = event.decode()?;
        Ok(Self {
            id: Uuid::parse_str(&e.worker_id).map_err(HandlerError::permanent)?,
            community: Uuid::parse_str(&e.community_id).ok(),
            platform: e.platform,
            enterprise: Uuid::parse_str(&e.enterprise_id).ok(),
            deleted: e.deleted,
            version: e.version,
        })
    }
}

/// A community as the registry last announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommunityState {
    pub id: Uuid,
    pub version: i64,
}

impl CommunityState {
    pub fn of(event: &Event) -> Result<Self, HandlerError> {
        let e: ev::CommunityUpserted = event.decode()?;
        Ok(Self {
            id: Uuid::parse_str(&e.community_id).map_err(HandlerError::permanent)?,
            version: e.version,
        })
    }
}

/// How a service keeps workers.
pub trait WorkerStore: Send + Sync + 'static {
    fn apply(
        &self,
        tx: &mut PgConnection,
        worker: &WorkerState,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// How a service keeps communities.
pub trait CommunityStore: Send + Sync + 'static {
    fn apply(
        &self,
        tx: &mut PgConnection,
        community: &CommunityState,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// The consumer of organization's worker events (`redsupply.organization.worker.>`).
pub struct WorkerEvents<S>(pub S);

impl<S: WorkerStore> Handler for WorkerEvents<S> {
    /// A report-in is followed by a worker.updated carrying the new community.
    fn ignores(&self, event: &Event) -> bool {
        event.subject.ends_with(".worker.reported_in")
    }

    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let worker = WorkerState::of(event)?;
        self.0.apply(tx, &worker).await?;
        Ok(())
    }
}

/// The consumer of organization's community events (`redsupply.organization.community.>`).
pub struct CommunityEvents<S>(pub S);

impl<S: CommunityStore> Handler for CommunityEvents<S> {
    async fn handle(&self, tx: &mut PgConnection, event: &Event) -> Result<(), HandlerError> {
        let community = CommunityState::of(event)?;
        self.0.apply(tx, &community).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use prost::Message;

    use super::*;

    fn event(subject: &str, payload: Vec<u8>) -> Event {
        Event {
            id: Uuid::now_v7(),
            subject: subject.to_owned(),
            headers: Default::default(),
            payload: Bytes::from(payload),
            delivered: 1,
        }
    }

    #[test]
    fn a_registration_and_an_update_decode_to_the_same_state() {
        let id = Uuid::now_v7();
        let community = Uuid::now_v7();
        let enterprise = Uuid::now_v7();
        let registered = ev::WorkerRegistered {
            worker_id: id.to_string(),
            platform: "meituan".into(),
            community_id: community.to_string(),
            enterprise_id: enterprise.to_string(),
            version: 1,
            ..Default::default()
        };
        let state = WorkerState::of(&event(
            "redsupply.organization.worker.registered",
            registered.encode_to_vec(),
        ))
        .unwrap();
        assert_eq!(
            state,
            WorkerState {
                id,
                community: Some(community),
                platform: "meituan".into(),
                enterprise: Some(enterprise),
                deleted: false,
                version: 1,
            }
        );
        let deleted = ev::WorkerUpdated {
            worker_id: id.to_string(),
            version: 2,
            deleted: true,
            ..Default::default()
        };
        let state = WorkerState::of(&event(
            "redsupply.organization.worker.updated",
            deleted.encode_to_vec(),
        ))
        .unwrap();
        assert!(state.deleted && state.community.is_none() && state.version == 2);
    }

    #[test]
    fn a_worker_event_without_an_id_is_parked_at_once() {
        let bad = ev::WorkerUpdated {
            worker_id: "not-a-uuid".into(),
            ..Default::default()
        };
        let err = WorkerState::of(&event(
            "redsupply.organization.worker.updated",
            bad.encode_to_vec(),
        ))
        .unwrap_err();
        assert!(err.permanent);
    }
}
