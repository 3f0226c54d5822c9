//! The registry's grids: updates carry a version and refuse a stale one, deletes are soft, and the
//! read models in governance and stations follow updates and deletions.

use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{SubmitTipRequest, TipCategory, TipStatus},
    organization::v1::{
        DeleteGridRequest, GetGridRequest, Grid, ListGridsRequest, UpsertGridRequest,
    },
    stations::v1::GetCoverageRequest,
};
use redsupply_tests::{TestApp, eventually};
use tonic::Code;

fn square(lat: f64, lng: f64, size: f64) -> Vec<LatLng> {
    [
        (lat, lng),
        (lat, lng + size),
        (lat + size, lng + size),
        (lat + size, lng),
    ]
    .map(|(latitude, longitude)| LatLng {
        latitude,
        longitude,
    })
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_updates_are_refused_and_deleted_grids_leave_the_read_models() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let id = app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let base = org.clone();
    let upsert = |expected_version: i64, size: f64| {
        let mut org = base.clone();
        let req = with_bearer(
            UpsertGridRequest {
                grid: Some(Grid {
                    id: id.to_string(),
                    name: "Grid".into(),
                    boundary: square(29.73, 103.56, size),
                    ..Default::default()
                }),
                request_id: String::new(),
                expected_version,
                update_mask: None,
            },
            &admin,
        );
        async move { org.upsert_grid(req).await }
    };
    let v2 = upsert(1, 0.012).await.unwrap().into_inner().grid.unwrap();
    assert_eq!(v2.version, 2);
    let stale = upsert(1, 0.013).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Governance follows the update: a point inside the enlarged grid is routed to it.
    let (w, token) = app.register_worker("Li").await;
    let pool = app.db.pool().await;
    eventually("governance to hold version 2", || {
        let pool = pool.clone();
        async move {
            let v: i64 = sqlx::query_scalar("SELECT version FROM governance.grids WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()?;
            (v == 2).then_some(())
        }
    })
    .await;
    let tip = |request_id: &str| SubmitTipRequest {
        request_id: request_id.into(),
        reporter_id: w.to_string(),
        category: TipCategory::Traffic as i32,
        description: "Signal out".into(),
        location: Some(LatLng {
            latitude: 29.7415,
            longitude: 103.5715,
        }),
        ..Default::default()
    };
    let routed_to = |request_id: &'static str| {
        let token = token.clone();
        let admin = admin.clone();
        let app = &app;
        async move {
            let t = app.submit_tip(tip(request_id), &token).await;
            let t = app
                .await_tip("the tip to be dispatched", &t.id, &token, |t| {
                    t.status() == TipStatus::Routed
                })
                .await;
            app.case_as(&t.case_id, &admin).await.grid_id
        }
    };
    assert_eq!(routed_to("before").await, id.to_string());

    // Soft delete: history stays readable, lists and routing forget it.
    let deleted = org
        .delete_grid(with_bearer(
            DeleteGridRequest {
                id: id.to_string(),
                expected_version: 2,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap();
    assert!(deleted.deleted_at.is_some());
    assert_eq!(deleted.version, 3);
    let still = org
        .get_grid(with_bearer(GetGridRequest { id: id.to_string() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap();
    assert!(still.deleted_at.is_some());
    let listed = org
        .list_grids(with_bearer(ListGridsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .grids;
    assert!(listed.is_empty());
    assert_eq!(
        upsert(3, 0.01).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "a deleted grid is not edited"
    );

    eventually("governance and stations to drop the grid", || {
        let pool = pool.clone();
        async move {
            let g: i64 = sqlx::query_scalar("SELECT version FROM governance.grids WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()?;
            let s: i64 = sqlx::query_scalar("SELECT version FROM stations.grids WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()?;
            (g == 3 && s == 3).then_some(())
        }
    })
    .await;
    // Another category, so that it is not merged into the first tip's (still open) case.
    let far = "after";
    let routed = {
        let t = app
            .submit_tip(
                SubmitTipRequest {
                    category: TipCategory::Environment as i32,
                    ..tip(far)
                },
                &token,
            )
            .await;
        let t = app
            .await_tip("the tip to be dispatched", &t.id, &token, |t| {
                t.status() == TipStatus::Routed
            })
            .await;
        app.case_as(&t.case_id, &admin).await.grid_id
    };
    assert_eq!(
        routed, "",
        "no grid holds the tip any more: the county queue"
    );
    let coverage = app
        .stations()
        .await
        .get_coverage(with_bearer(
            GetCoverageRequest {
                cell_meters: 200,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        coverage.grids.is_empty(),
        "coverage no longer lists the deleted grid"
    );
}
