//! Who is calling and how far they reach. A [`Caller`] comes from a verified token, narrowed by the
//! policy layer to the roles the called RPC admits; its [`Scope`] lists the communities and grids
//! the token's holder serves. The checks here are the only way a handler decides "may this caller
//! touch that record": a worker reaches themselves, community staff the records of their
//! communities, grid officers and grid platforms the cases of their grids, a county admin
//! everything. Out of scope answers PERMISSION_DENIED naming what was missing.

use redsupply_proto::roles::{
    COMMUNITY_ADMIN, COUNTY_ADMIN, EXPERT, GRID_OFFICER, GRID_SYSTEM, WORKER,
};
use tonic::{Request, Status};
use uuid::Uuid;

/// The communities and grids a token's holder serves (claims `communities`, `grids`), and for a
/// `grid_system` the platform it is (claim `platform`). Empty lists reach nothing; a county admin
/// needs none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub communities: Vec<Uuid>,
    pub grids: Vec<Uuid>,
    pub platform: Option<String>,
}

/// Who is calling, as the verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub roles: Vec<String>,
    pub scope: Scope,
    /// When the token expires (seconds since the epoch; 0: never, for callers built in code).
    /// Long-lived calls (WatchCases) end then.
    pub expires_at: u64,
}

/// What part of the county a caller may see in a list: everything, or these communities and grids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    County,
    Only {
        communities: Vec<Uuid>,
        grids: Vec<Uuid>,
    },
}

impl Visible {
    /// The communities a list is limited to (`None`: no limit).
    pub fn communities(&self) -> Option<&[Uuid]> {
        match self {
            Visible::County => None,
            Visible::Only { communities, .. } => Some(communities),
        }
    }
    /// The grids a list is limited to, besides the grids of [`communities`](Self::communities).
    pub fn grids(&self) -> Option<&[Uuid]> {
        match self {
            Visible::County => None,
            Visible::Only { grids, .. } => Some(grids),
        }
    }
    pub fn community(&self, community: Option<Uuid>) -> bool {
        match self.communities() {
            None => true,
            Some(list) => community.is_some_and(|c| list.contains(&c)),
        }
    }
    pub fn grid(&self, grid: Option<Uuid>, community: Option<Uuid>) -> bool {
        match self.grids() {
            None => true,
            Some(list) => grid.is_some_and(|g| list.contains(&g)) || self.community(community),
        }
    }
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    /// True when `role` is the only role through which the caller reached this call. The policy
    /// layer keeps only the roles the RPC admits: a token's other roles (an identity provider's
    /// `offline_access`, say) never turn a worker into staff.
    pub fn is_only(&self, role: &str) -> bool {
        self.roles.iter().all(|r| r == role)
    }
    pub fn is_county(&self) -> bool {
        self.has_role(COUNTY_ADMIN)
    }
    /// Holds a role that acts for others (not only a worker acting for themselves, nor an expert
    /// answering the questions routed to them).
    pub fn is_staff(&self) -> bool {
        self.roles.iter().any(|r| r != WORKER && r != EXPERT)
    }

    /// What lists show this caller. Community staff see their communities; grid officers and
    /// grid platforms their grids (and the communities their token names).
    pub fn visible(&self) -> Visible {
        if self.is_county() {
            return Visible::County;
        }
        let communities = if self.has_role(COMMUNITY_ADMIN) || self.has_role(GRID_OFFICER) {
            self.scope.communities.clone()
        } else {
            Vec::new()
        };
        let grids = if self.has_role(GRID_OFFICER) || self.has_role(GRID_SYSTEM) {
            self.scope.grids.clone()
        } else {
            Vec::new()
        };
        Visible::Only { communities, grids }
    }

    /// PERMISSION_DENIED unless the record of `community` is in the caller's scope.
    pub fn ensure_community(&self, community: Option<Uuid>) -> Result<(), Status> {
        if self.visible().community(community) {
            return Ok(());
        }
        Err(out_of_scope(match community {
            Some(c) => format!("community {c}"),
            None => "county-level records".to_owned(),
        }))
    }

    /// PERMISSION_DENIED unless a case in `grid` (of `community`) is in the caller's scope; a case
    /// outside every grid is in the county's queue.
    pub fn ensure_grid(&self, grid: Option<Uuid>, community: Option<Uuid>) -> Result<(), Status> {
        if self.visible().grid(grid, community) {
            return Ok(());
        }
        Err(out_of_scope(match grid {
            Some(g) => format!("grid {g}"),
            None => "the county queue".to_owned(),
        }))
    }

    /// A caller acts for `worker` (of `community`) as that worker, or through a staff role in the
    /// worker's community; a worker acting for someone else is refused whatever else the token
    /// says.
    pub fn ensure_for_worker(
        &self,
        worker: impl std::fmt::Display,
        community: Option<Uuid>,
    ) -> Result<(), Status> {
        let worker = worker.to_string();
        if self.has_role(WORKER) && self.subject == worker {
            return Ok(());
        }
        if !self.is_staff() {
            return Err(Status::permission_denied(
                "a worker may act only for themselves",
            ));
        }
        self.ensure_community(community).map_err(|_| {
            out_of_scope(match community {
                Some(c) => format!("worker {worker} of community {c}"),
                None => format!("worker {worker} (of no community)"),
            })
        })
    }

    /// PERMISSION_DENIED when the caller reached this call only as `limited_role` and acts for
    /// someone else.
    pub fn ensure_self(
        &self,
        limited_role: &str,
        subject: impl std::fmt::Display,
    ) -> Result<(), Status> {
        if self.is_only(limited_role) && self.subject != subject.to_string() {
            return Err(Status::permission_denied(format!(
                "a {limited_role} may act only for themselves"
            )));
        }
        Ok(())
    }

    /// The platform a `grid_system` token names (claim `platform`), or its subject.
    pub fn platform(&self) -> &str {
        self.scope.platform.as_deref().unwrap_or(&self.subject)
    }
}

fn out_of_scope(what: String) -> Status {
    Status::permission_denied(format!("{what}: outside this token's scope"))
}

/// The caller the policy layer verified and narrowed for this call.
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(roles: &[&str], communities: &[Uuid], grids: &[Uuid]) -> Caller {
        Caller {
            subject: "s-1".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scope: Scope {
                communities: communities.to_vec(),
                grids: grids.to_vec(),
                platform: None,
            },
            expires_at: 0,
        }
    }

    #[test]
    fn community_staff_reach_their_communities_only() {
        let (c1, c2) = (Uuid::now_v7(), Uuid::now_v7());
        let staff = who(&[COMMUNITY_ADMIN], &[c1], &[]);
        assert!(staff.ensure_community(Some(c1)).is_ok());
        let err = staff.ensure_community(Some(c2)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains(&c2.to_string()), "{err:?}");
        assert!(staff.ensure_community(None).is_err());
        assert!(
            who(&[COUNTY_ADMIN], &[], &[])
                .ensure_community(Some(c2))
                .is_ok()
        );
        // A community named in the token grants nothing to a role without community reach.
        assert!(
            who(&[GRID_SYSTEM], &[c1], &[])
                .ensure_community(Some(c1))
                .is_err()
        );
        assert!(
            who(&[WORKER], &[c1], &[])
                .ensure_community(Some(c1))
                .is_err()
        );
    }

    #[test]
    fn grid_reach_comes_from_the_grid_or_its_community() {
        let (c1, c2, g1, g2) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let officer = who(&[GRID_OFFICER], &[], &[g1]);
        assert!(officer.ensure_grid(Some(g1), Some(c2)).is_ok());
        assert!(officer.ensure_grid(Some(g2), Some(c2)).is_err());
        assert!(officer.ensure_grid(None, None).is_err());
        let platform = who(&[GRID_SYSTEM], &[c2], &[g1]);
        assert!(platform.ensure_grid(Some(g1), None).is_ok());
        assert!(platform.ensure_grid(Some(g2), Some(c2)).is_err());
        let community = who(&[COMMUNITY_ADMIN], &[c1], &[g2]);
        assert!(community.ensure_grid(Some(g1), Some(c1)).is_ok());
        assert!(community.ensure_grid(Some(g2), Some(c2)).is_err());
        assert!(
            who(&[COUNTY_ADMIN], &[], &[])
                .ensure_grid(None, None)
                .is_ok()
        );
    }

    #[test]
    fn a_worker_acts_for_themselves_and_staff_for_workers_in_scope() {
        let c1 = Uuid::now_v7();
        let worker = who(&[WORKER], &[c1], &[]);
        assert!(worker.ensure_for_worker("s-1", None).is_ok());
        assert!(worker.ensure_for_worker("s-2", Some(c1)).is_err());
        let staff = who(&[WORKER, COMMUNITY_ADMIN], &[c1], &[]);
        assert!(staff.ensure_for_worker("s-1", None).is_ok());
        assert!(staff.ensure_for_worker("s-2", Some(c1)).is_ok());
        let err = staff
            .ensure_for_worker("s-2", Some(Uuid::now_v7()))
            .unwrap_err();
        assert!(err.message().contains("s-2"), "{err:?}");
        assert!(
            who(&[COUNTY_ADMIN], &[], &[])
                .ensure_for_worker("s-9", None)
                .is_ok()
        );
    }
}
