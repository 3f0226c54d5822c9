//! The registry a test stands on: communities, grids and workers created as county staff would,
//! each returned once the services that need it know it.

use kit::auth::with_bearer;
use redsupply_proto::{common::v1::LatLng, organization::v1 as org, roles};
use uuid::Uuid;

use crate::{TestApp, eventually};

impl TestApp {
    /// Registers a worker and returns its id and a worker token for it.
    pub async fn register_worker(&self, name: &str) -> (Uuid, String) {
        self.register_worker_in(None, name).await
    }

    /// A worker of `community` (registered by county staff) and a worker token for them.
    pub async fn register_worker_in(&self, community: Option<Uuid>, name: &str) -> (Uuid, String) {
        let w = self
            .organization()
            .await
            .register_worker(with_bearer(
                org::RegisterWorkerRequest {
                    request_id: Uuid::now_v7().to_string(),
                    name: name.into(),
                    phone: "13900000000".into(),
                    platform: "Meituan".into(),
                    community_id: community.map(|c| c.to_string()),
                    ..Default::default()
                },
                &self.admin_token(),
            ))
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
                    expected_version: 0,
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
                    expected_version: 0,
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
}
