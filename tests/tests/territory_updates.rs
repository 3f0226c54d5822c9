//! The county's territory changed field by field and undone, against the real stack: a grid
//! renamed with `update_mask` keeps its boundary and community, a community its township, a
//! township its kind; a deleted grid comes back with a new version that the read models route to
//! again, unless a grid drawn since now holds its ground.

use kit::auth::with_bearer;
use prost_types::FieldMask;
use redsupply_proto::organization::v1 as pb;
use redsupply_tests::{TestApp, eventually, rid};
use tonic::Code;
use uuid::Uuid;

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

async fn grid(app: &TestApp, id: Uuid) -> pb::Grid {
    app.organization()
        .await
        .get_grid(with_bearer(
            pb::GetGridRequest { id: id.to_string() },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_grid_community_or_township_keeps_what_its_mask_leaves_out() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let community = app.create_community("Yingchun").await;
    let id = app
        .create_grid_in(Some(community), "Yingchun 1", 29.73, 103.56, 0.01)
        .await;
    let before = grid(&app, id).await;
    let renamed = org
        .upsert_grid(with_bearer(
            pb::UpsertGridRequest {
                grid: Some(pb::Grid {
                    id: id.to_string(),
                    name: "Yingchun North".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap();
    assert_eq!(renamed.name, "Yingchun North");
    assert_eq!(renamed.boundary, before.boundary);
    assert_eq!(renamed.community_id, community.to_string());
    assert_eq!(renamed.version, before.version + 1);
    // Without a mask the request is the whole record: an empty boundary is refused as before.
    let whole = org
        .upsert_grid(with_bearer(
            pb::UpsertGridRequest {
                grid: Some(pb::Grid {
                    id: id.to_string(),
                    name: "Yingchun North".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(whole.code(), Code::InvalidArgument);
    assert!(whole.message().contains("grid.boundary"), "{whole:?}");

    // A township renamed keeps its kind; a community renamed keeps its township.
    let township = org
        .upsert_township(with_bearer(
            pb::UpsertTownshipRequest {
                township: Some(pb::Township {
                    name: "Dongda Street".into(),
                    kind: pb::TownshipKind::Street as i32,
                    ..Default::default()
                }),
                request_id: rid(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .township
        .unwrap();
    let township = org
        .upsert_township(with_bearer(
            pb::UpsertTownshipRequest {
                township: Some(pb::Township {
                    id: township.id.clone(),
                    name: "Dongda Subdistrict".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .township
        .unwrap();
    assert_eq!(township.kind(), pb::TownshipKind::Street);
    let placed = org
        .upsert_community(with_bearer(
            pb::UpsertCommunityRequest {
                community: Some(pb::Community {
                    id: community.to_string(),
                    township_id: township.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["township_id"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .community
        .unwrap();
    assert_eq!(placed.name, "Yingchun", "the name is kept");
    assert_eq!(placed.township, "Dongda Subdistrict");
    let renamed = org
        .upsert_community(with_bearer(
            pb::UpsertCommunityRequest {
                community: Some(pb::Community {
                    id: community.to_string(),
                    name: "Yingchun Garden".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                expected_version: placed.version,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .community
        .unwrap();
    assert_eq!(renamed.township_id, township.id);
    // A stale version is refused, a misspelt field names update_mask.
    let stale = org
        .upsert_community(with_bearer(
            pb::UpsertCommunityRequest {
                community: Some(pb::Community {
                    id: community.to_string(),
                    name: "Late".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                expected_version: placed.version,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let misspelt = org
        .upsert_township(with_bearer(
            pb::UpsertTownshipRequest {
                township: Some(pb::Township {
                    id: township.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["nmae"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(misspelt.code(), Code::InvalidArgument);
    assert!(misspelt.message().contains("update_mask"), "{misspelt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_grid_is_restored_unless_a_grid_drawn_since_holds_its_ground() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let first = app.create_grid("Doomed", 29.73, 103.56, 0.01).await;
    let delete = |id: Uuid| pb::DeleteGridRequest {
        id: id.to_string(),
        expected_version: 0,
    };
    let restore = |id: Uuid| pb::RestoreGridRequest {
        id: id.to_string(),
        expected_version: 0,
    };
    org.delete_grid(with_bearer(delete(first), &admin))
        .await
        .unwrap();
    // Another grid is drawn where it was: the restore is refused, naming it.
    let second = app.create_grid("Newcomer", 29.73, 103.56, 0.01).await;
    let refused = org
        .restore_grid(with_bearer(restore(first), &admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("Newcomer"), "{refused:?}");
    assert!(grid(&app, first).await.deleted_at.is_some());

    // Once that one is gone, the first comes back with a new version, and governance routes to
    // it again.
    org.delete_grid(with_bearer(delete(second), &admin))
        .await
        .unwrap();
    let restored = org
        .restore_grid(with_bearer(restore(first), &admin))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap();
    assert!(restored.deleted_at.is_none());
    assert!(!restored.boundary.is_empty());
    let again = org
        .restore_grid(with_bearer(restore(first), &admin))
        .await
        .unwrap()
        .into_inner()
        .grid
        .unwrap();
    assert_eq!(
        again.version, restored.version,
        "a live grid is left as it is"
    );
    let pool = app.db.pool().await;
    eventually("governance to route to the restored grid", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM governance.grids
                 WHERE id = $1 AND version = $2 AND jsonb_array_length(boundary) > 0",
            )
            .bind(first)
            .bind(restored.version)
            .fetch_one(&pool)
            .await
            .unwrap();
            (n == 1).then_some(())
        }
    })
    .await;
    // Community staff of no community may not restore a county grid.
    let clerk = app.token(redsupply_proto::roles::COMMUNITY_ADMIN, "clerk");
    let denied = org
        .restore_grid(with_bearer(restore(first), &clerk))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_or_reward_changed_by_mask_keeps_the_rest() {
    use redsupply_proto::stations::v1 as st;
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let station = app
        .create_station("Yingchun Station", 29.735, 103.565)
        .await;
    let renamed = app
        .stations()
        .await
        .upsert_station(with_bearer(
            st::UpsertStationRequest {
                station: Some(st::Station {
                    id: station.id.clone(),
                    name: "Yingchun Riders' Home".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .station
        .unwrap();
    assert_eq!(renamed.name, "Yingchun Riders' Home");
    assert_eq!(renamed.location, station.location);
    assert_eq!(renamed.amenities, station.amenities);
    assert_eq!(renamed.tier, station.tier);
    assert_eq!(renamed.version, station.version + 1);
    let fixed = app
        .stations()
        .await
        .upsert_station(with_bearer(
            st::UpsertStationRequest {
                station: Some(st::Station {
                    id: station.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["open_now"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(fixed.code(), Code::InvalidArgument);
    assert!(fixed.message().contains("update_mask"), "{fixed:?}");

    // A reward taken off the shelf keeps its name and cost.
    let rice = app.create_reward("5 kg of rice", 5).await;
    let off = app
        .points()
        .await
        .upsert_reward(with_bearer(
            st::UpsertRewardRequest {
                reward: Some(st::Reward {
                    id: rice.id.clone(),
                    active: false,
                    ..Default::default()
                }),
                update_mask: mask(&["active"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reward
        .unwrap();
    assert!(!off.active);
    assert_eq!((off.name.as_str(), off.points_cost), ("5 kg of rice", 5));
}
