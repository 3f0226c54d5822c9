//! The registry a test stands on: communities, grids, workers, enterprises and the party tree,
//! created as county staff would, each returned once the services that need it know it; and the
//! stations and rewards of the points supermarkets.

use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    organization::v1 as org,
    roles,
    stations::v1::{self as st, Amenity, StationHost, StationTier},
};
use uuid::Uuid;

use crate::{TestApp, eventually, rid};

/// A tip of `category` by `reporter` at 29.735, 103.565: inside the grid tests create with
/// `create_grid("Grid", 29.73, 103.56, 0.01)`.
pub fn tip_in_grid(
    reporter: Uuid,
    request_id: &str,
    category: redsupply_proto::governance::v1::TipCategory,
    description: &str,
) -> redsupply_proto::governance::v1::SubmitTipRequest {
    redsupply_proto::governance::v1::SubmitTipRequest {
        request_id: request_id.into(),
        reporter_id: reporter.to_string(),
        category: category as i32,
        description: description.into(),
        location: Some(LatLng {
            latitude: 29.735,
            longitude: 103.565,
        }),
        ..Default::default()
    }
}

impl TestApp {
    /// Registers a worker and returns its id and a worker token for it.
    pub async fn register_worker(&self, name: &str) -> (Uuid, String) {
        self.register_worker_in(None, name).await
    }

    /// A worker of `community` (registered by county staff) and a worker token for them.
    pub async fn register_worker_in(&self, community: Option<Uuid>, name: &str) -> (Uuid, String) {
        self.register_worker_with(org::RegisterWorkerRequest {
            request_id: rid(),
            name: name.into(),
            phone: crate::unique_phone(),
            platform: "Meituan".into(),
            community_id: community.map(|c| c.to_string()),
            ..Default::default()
        })
        .await
    }

    /// A worker who is (or is not) a party member, registered by county staff, and a worker token
    /// for them.
    pub async fn register_party_worker(&self, name: &str, party_member: bool) -> (Uuid, String) {
        self.register_worker_with(org::RegisterWorkerRequest {
            request_id: rid(),
            name: name.into(),
            phone: crate::unique_phone(),
            platform: "Meituan".into(),
            party_member,
            ..Default::default()
        })
        .await
    }

    /// Registers `worker` as county staff and returns its id and a worker token for it.
    pub async fn register_worker_with(&self, worker: org::RegisterWorkerRequest) -> (Uuid, String) {
        let w = self
            .organization()
            .await
            .register_worker(with_bearer(worker, &self.admin_token()))
            .await
            .expect("register worker")
            .into_inner()
            .worker
            .unwrap();
        let id = Uuid::parse_str(&w.id).unwrap();
        let token = self.token(roles::WORKER, &w.id);
        (id, token)
    }

    /// Creates a square grid with its south-west corner at (lat, lng) and `size` degrees a side, and
    /// waits until governance's read model holds it.
    pub async fn create_grid(&self, name: &str, lat: f64, lng: f64, size: f64) -> Uuid {
        self.create_grid_in(None, name, lat, lng, size).await
    }

    /// A community (as county staff create it).
    pub async fn create_community(&self, name: &str) -> Uuid {
        let c = self
            .organization()
            .await
            .upsert_community(with_bearer(
                org::UpsertCommunityRequest {
                    community: Some(org::Community {
                        name: name.into(),
                        ..Default::default()
                    }),
                    request_id: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                &self.admin_token(),
            ))
            .await
            .expect("upsert community")
            .into_inner()
            .community
            .unwrap();
        Uuid::parse_str(&c.id).unwrap()
    }

    /// An enterprise (as county staff create it, a new request id), as stored.
    pub async fn create_enterprise(&self, enterprise: org::Enterprise) -> org::Enterprise {
        self.enterprises()
            .await
            .upsert_enterprise(with_bearer(
                org::UpsertEnterpriseRequest {
                    enterprise: Some(enterprise),
                    request_id: rid(),
                    expected_version: 0,
                    update_mask: None,
                },
                &self.admin_token(),
            ))
            .await
            .expect("an enterprise")
            .into_inner()
            .enterprise
            .expect("an enterprise in the answer")
    }

    /// A square grid of `community` with its south-west corner at (lat, lng), once governance
    /// knows it.
    pub async fn create_grid_in(
        &self,
        community: Option<Uuid>,
        name: &str,
        lat: f64,
        lng: f64,
        size: f64,
    ) -> Uuid {
        let boundary = vec![
            LatLng {
                latitude: lat,
                longitude: lng,
            },
            LatLng {
                latitude: lat,
                longitude: lng + size,
            },
            LatLng {
                latitude: lat + size,
                longitude: lng + size,
            },
            LatLng {
                latitude: lat + size,
                longitude: lng,
            },
        ];
        let grid = self
            .organization()
            .await
            .upsert_grid(with_bearer(
                org::UpsertGridRequest {
                    grid: Some(org::Grid {
                        name: name.into(),
                        boundary,
                        community_id: community.map(|c| c.to_string()).unwrap_or_default(),
                        ..Default::default()
                    }),
                    request_id: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                &self.admin_token(),
            ))
            .await
            .expect("upsert grid")
            .into_inner()
            .grid
            .unwrap();
        let id = Uuid::parse_str(&grid.id).unwrap();
        let pool = self.db.pool().await;
        eventually("governance to learn the grid", || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM governance.grids WHERE id = $1
                       AND community_id IS NOT DISTINCT FROM $2",
                )
                .bind(id)
                .bind(community)
                .fetch_one(&pool)
                .await
                .ok()?;
                (n == 1).then_some(())
            }
        })
        .await;
        id
    }

    /// An organization of the party tree (as county staff create it), or its refusal.
    pub async fn upsert_organization(
        &self,
        name: &str,
        kind: org::OrganizationKind,
        parent: &str,
        mode: org::FormationMode,
    ) -> Result<org::Organization, tonic::Status> {
        self.party()
            .await
            .upsert_organization(with_bearer(
                org::UpsertOrganizationRequest {
                    organization: Some(org::Organization {
                        name: name.into(),
                        kind: kind as i32,
                        parent_id: parent.into(),
                        formation_mode: mode as i32,
                        ..Default::default()
                    }),
                    request_id: rid(),
                    expected_version: 0,
                    update_mask: None,
                },
                &self.admin_token(),
            ))
            .await
            .map(|r| r.into_inner().organization.unwrap())
    }

    /// The working committee, one industry committee and one party organization under it.
    pub async fn organization_tree(
        &self,
    ) -> (org::Organization, org::Organization, org::Organization) {
        use org::{FormationMode, OrganizationKind};
        let wc = self
            .upsert_organization(
                "Working Committee",
                OrganizationKind::WorkingCommittee,
                "",
                FormationMode::Unspecified,
            )
            .await
            .unwrap();
        let ic = self
            .upsert_organization(
                "Express Industry Committee",
                OrganizationKind::IndustryCommittee,
                &wc.id,
                FormationMode::Unspecified,
            )
            .await
            .unwrap();
        let po = self
            .upsert_organization(
                "Riders' Online Branch",
                OrganizationKind::PartyOrganization,
                &ic.id,
                FormationMode::OnlineBranch,
            )
            .await
            .unwrap();
        (wc, ic, po)
    }

    /// A main station `name` at (`latitude`, `longitude`) offering a place to rest, as county
    /// staff create it.
    pub async fn create_station(&self, name: &str, latitude: f64, longitude: f64) -> st::Station {
        self.stations()
            .await
            .upsert_station(with_bearer(
                st::UpsertStationRequest {
                    request_id: rid(),
                    station: Some(st::Station {
                        name: name.into(),
                        tier: StationTier::Main as i32,
                        host: StationHost::CommunityCentre as i32,
                        location: Some(LatLng {
                            latitude,
                            longitude,
                        }),
                        amenities: vec![Amenity::Rest as i32],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &self.admin_token(),
            ))
            .await
            .expect("creating a station")
            .into_inner()
            .station
            .expect("the station")
    }

    /// `quantity` of `reward` supplied by `station` to `community`'s supermarket, as county
    /// staff record it (the request id names all four, so a second call adds nothing).
    pub async fn supply(
        &self,
        station: &st::Station,
        community: Uuid,
        reward: &st::Reward,
        quantity: i64,
    ) -> st::SupplyStockResponse {
        self.points()
            .await
            .supply_stock(with_bearer(
                st::SupplyStockRequest {
                    request_id: format!("{}-{community}-{}-{quantity}", station.id, reward.id),
                    station_id: station.id.clone(),
                    community_id: community.to_string(),
                    reward_id: reward.id.clone(),
                    quantity,
                },
                &self.admin_token(),
            ))
            .await
            .expect("supplying stock")
            .into_inner()
    }

    /// A reward of the county catalog, as county staff add it.
    pub async fn create_reward(&self, name: &str, points_cost: i64) -> st::Reward {
        self.points()
            .await
            .upsert_reward(with_bearer(
                st::UpsertRewardRequest {
                    request_id: rid(),
                    reward: Some(st::Reward {
                        name: name.into(),
                        points_cost,
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                &self.admin_token(),
            ))
            .await
            .expect("adding a reward")
            .into_inner()
            .reward
            .expect("the reward")
    }
}
