//! Undoing deletions in the registry, against the real stack: a worker, an organization, an
//! enterprise and a guide deleted by mistake come back with a new version (and read models
//! follow), in the order their rules need; restoring a live record changes nothing.

use kit::auth::with_bearer;
use redsupply_proto::organization::v1::{self as pb, EnterpriseKind};
use redsupply_tests::{TestApp, rid};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_deleted_by_mistake_comes_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let mut party = app.party().await;
    let mut ent = app.enterprises().await;

    // A worker: deleted, restored (stations sees them again), once.
    let (rider, _) = app.register_worker("Li Wei").await;
    app.stations_know_worker(rider).await;
    let deleted = org
        .delete_worker(with_bearer(
            pb::DeleteWorkerRequest {
                worker_id: rider.to_string(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    let base = org.clone();
    let restore_worker = |id: Uuid| {
        let mut org = base.clone();
        let req = with_bearer(
            pb::RestoreWorkerRequest {
                worker_id: id.to_string(),
                expected_version: 0,
            },
            &admin,
        );
        async move {
            org.restore_worker(req)
                .await
                .map(|r| r.into_inner().worker.unwrap())
        }
    };
    let back = restore_worker(rider).await.unwrap();
    assert!(back.deleted_at.is_none());
    assert_eq!(back.version, deleted.version + 1);
    assert_eq!(
        restore_worker(rider).await.unwrap().version,
        back.version,
        "a live worker is answered as it is"
    );
    app.await_row(
        "stations to see the worker again",
        "SELECT count(*) FROM stations.workers WHERE id = $1 AND NOT deleted",
        rider,
    )
    .await;
    // Deleted, then someone registers with the same phone: the old record stays deleted.
    org.delete_worker(with_bearer(
        pb::DeleteWorkerRequest {
            worker_id: rider.to_string(),
            expected_version: 0,
        },
        &admin,
    ))
    .await
    .unwrap();
    org.register_worker(with_bearer(
        pb::RegisterWorkerRequest {
            request_id: rid(),
            name: "Li Wei".into(),
            phone: back.phone.clone(),
            platform: "Meituan".into(),
            ..Default::default()
        },
        &admin,
    ))
    .await
    .unwrap();
    let err = restore_worker(rider).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    // Organizations: a branch under a deleted committee waits for the committee.
    let (_, committee, branch) = app.organization_tree().await;
    for id in [&branch.id, &committee.id] {
        party
            .delete_organization(with_bearer(
                pb::DeleteOrganizationRequest {
                    id: id.clone(),
                    expected_version: 0,
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let restore_org = |id: &str| {
        let mut party = party.clone();
        let req = with_bearer(
            pb::RestoreOrganizationRequest {
                id: id.into(),
                expected_version: 0,
            },
            &admin,
        );
        async move {
            party
                .restore_organization(req)
                .await
                .map(|r| r.into_inner().organization.unwrap())
        }
    };
    let err = restore_org(&branch.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("restore it first"), "{err:?}");
    restore_org(&committee.id).await.unwrap();
    let branch_back = restore_org(&branch.id).await.unwrap();
    assert!(branch_back.deleted_at.is_none());
    assert_eq!(branch_back.name, branch.name);

    // An enterprise and a guide.
    let outlet = app
        .create_enterprise(pb::Enterprise {
            name: "Outlet".into(),
            kind: EnterpriseKind::ExpressOutlet as i32,
            ..Default::default()
        })
        .await;
    ent.delete_enterprise(with_bearer(
        pb::DeleteEnterpriseRequest {
            id: outlet.id.clone(),
            expected_version: 0,
        },
        &admin,
    ))
    .await
    .unwrap();
    let outlet_back = ent
        .restore_enterprise(with_bearer(
            pb::RestoreEnterpriseRequest {
                id: outlet.id.clone(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    assert!(outlet_back.deleted_at.is_none());
    let guide = party
        .upsert_guide(with_bearer(
            pb::UpsertGuideRequest {
                guide: Some(pb::Guide {
                    name: "Wang Min".into(),
                    kind: pb::GuideKind::Instructor as i32,
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
        .guide
        .unwrap();
    party
        .delete_guide(with_bearer(
            pb::DeleteGuideRequest {
                id: guide.id.clone(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();
    let stale = party
        .restore_guide(with_bearer(
            pb::RestoreGuideRequest {
                id: guide.id.clone(),
                expected_version: guide.version,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        stale.code(),
        Code::Aborted,
        "the deletion moved the version on"
    );
    let guide_back = party
        .restore_guide(with_bearer(
            pb::RestoreGuideRequest {
                id: guide.id.clone(),
                expected_version: guide.version + 1,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .guide
        .unwrap();
    assert!(guide_back.deleted_at.is_none());
    assert_eq!(guide_back.version, guide.version + 2);
    // A worker may not restore anything.
    let (_, worker) = app.register_worker("Zhou").await;
    let denied = party
        .restore_guide(with_bearer(
            pb::RestoreGuideRequest {
                id: guide.id.clone(),
                expected_version: 0,
            },
            &worker,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}
