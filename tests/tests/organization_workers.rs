//! Workers in the organization registry, against the real stack: a worker edits only their own
//! record and reports in to a community (stations' read model follows), staff delete softly, and
//! volunteer roles appointed in governance show on the worker.

use kit::auth::with_bearer;
use redsupply_proto::organization::v1 as pb;
use redsupply_tests::{TestApp, assert_invalid, eventually, rid};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_edits_only_their_own_record_reports_in_and_stations_follows() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (me, my_token) = app.register_party_worker("Li Wei", false).await;
    let (other, _) = app.register_party_worker("Wang Fang", false).await;
    let mut org = app.organization().await;
    let community = org
        .upsert_community(with_bearer(
            pb::UpsertCommunityRequest {
                community: Some(pb::Community {
                    name: "Qingyi".into(),
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .community
        .unwrap();

    let edit = |worker: Uuid, version: i64| pb::UpdateWorkerRequest {
        worker_id: worker.to_string(),
        expected_version: version,
        phone: Some("13700001111".into()),
        platform: Some("Ele.me".into()),
        ..Default::default()
    };
    let updated = org
        .update_worker(with_bearer(edit(me, 1), &my_token))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    assert_eq!(
        (updated.version, updated.phone.as_str()),
        (2, "13700001111")
    );
    assert_eq!(
        org.update_worker(with_bearer(edit(me, 1), &my_token))
            .await
            .unwrap_err()
            .code(),
        Code::Aborted,
        "stale version"
    );
    assert_eq!(
        org.update_worker(with_bearer(edit(other, 0), &my_token))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Roles an identity provider adds (offline_access) do not make a worker staff.
    let with_extras = app
        .auth
        .issue(&me.to_string(), &["worker", "offline_access"], None)
        .unwrap();
    assert_eq!(
        org.update_worker(with_bearer(edit(other, 0), &with_extras))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut claim = edit(me, 0);
    claim.party_member = Some(true);
    assert_invalid(
        org.update_worker(with_bearer(claim, &my_token))
            .await
            .unwrap_err(),
        "party_member",
    );
    // The new phone finds the worker; the old one does not.
    let by_phone = |phone: &str| pb::SearchWorkersRequest {
        phone: phone.into(),
        ..Default::default()
    };
    let found = app.search_workers(by_phone("13700001111"), &admin).await;
    assert_eq!(found.len(), 1);

    let reported = org
        .report_in(with_bearer(
            pb::ReportInRequest {
                request_id: rid(),
                worker_id: me.to_string(),
                community_id: community.id.clone(),
                note: String::new(),
            },
            &my_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let worker = reported.worker.unwrap();
    assert_eq!(worker.community_id, community.id);
    assert!(worker.reported_in_at.is_some());
    assert_invalid(
        org.report_in(with_bearer(
            pb::ReportInRequest {
                request_id: rid(),
                worker_id: me.to_string(),
                community_id: Uuid::now_v7().to_string(),
                note: String::new(),
            },
            &my_token,
        ))
        .await
        .unwrap_err(),
        "community_id",
    );

    // Stations' read model follows the worker into the community (for its leaderboards).
    let pool = app.db.pool().await;
    eventually("stations to learn the worker's new community", || {
        let pool = pool.clone();
        let community = Uuid::parse_str(&community.id).unwrap();
        async move {
            let c: Option<Uuid> =
                sqlx::query_scalar("SELECT community_id FROM stations.workers WHERE id = $1")
                    .bind(me)
                    .fetch_optional(&pool)
                    .await
                    .ok()??;
            (c == Some(community)).then_some(())
        }
    })
    .await;

    // Only staff delete, softly: the worker leaves searches but stays readable.
    assert_eq!(
        org.delete_worker(with_bearer(
            pb::DeleteWorkerRequest {
                worker_id: other.to_string(),
                expected_version: 0,
            },
            &my_token,
        ))
        .await
        .unwrap_err()
        .code(),
        Code::PermissionDenied
    );
    let deleted = org
        .delete_worker(with_bearer(
            pb::DeleteWorkerRequest {
                worker_id: other.to_string(),
                expected_version: 1,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    assert!(deleted.deleted_at.is_some());
    let everyone = app
        .search_workers(pb::SearchWorkersRequest::default(), &admin)
        .await;
    assert_eq!(everyone.len(), 1, "a deleted worker is not found");
    assert_eq!(
        org.update_worker(with_bearer(edit(other, 0), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "a deleted worker is not edited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_roles_appointed_in_governance_show_on_the_worker() {
    use redsupply_proto::governance::v1::VolunteerRole;
    let app = TestApp::spawn().await;
    let (worker, token) = app.register_party_worker("Zhao Min", true).await;
    app.join_volunteer_team(worker, &token).await.unwrap();
    app.appoint_volunteer_role(worker, VolunteerRole::FoodSafetyMonitor, &app.admin_token())
        .await
        .unwrap();
    eventually("organization to show the role", || async {
        let w = app.try_worker_as(worker, &token).await.ok()?;
        (w.volunteer_roles == ["VOLUNTEER_ROLE_FOOD_SAFETY_MONITOR"]).then_some(())
    })
    .await;
}

/// The same person registered twice, by phone or by ID number, is refused with ALREADY_EXISTS
/// pointing at the record that exists, found through the lookup hashes (the answer holds no
/// number); a retried registration answers the first; a deleted record's phone is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_person_is_registered_once_and_the_answer_points_at_the_record() {
    use tonic_types::StatusExt;
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let register = |request_id: &str, phone: &str, id_number: &str| {
        let app = &app;
        let req = with_bearer(
            pb::RegisterWorkerRequest {
                request_id: request_id.into(),
                name: "Li Wei".into(),
                phone: phone.into(),
                id_number: id_number.into(),
                platform: "Meituan".into(),
                ..Default::default()
            },
            &admin,
        );
        async move { app.organization().await.register_worker(req).await }
    };
    let first = register("r1", "13811112222", "51018119900101123X")
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    let again = register("r1", "13811112222", "51018119900101123X")
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    assert_eq!(first.id, again.id, "a retry is the same registration");
    for (phone, id_number, field) in [
        ("13811112222", "", "phone"),
        ("13899990000", "51018119900101123X", "id_number"),
    ] {
        let err = register(&rid(), phone, id_number).await.unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
        let violations = err
            .get_details_bad_request()
            .expect("a bad request")
            .field_violations;
        assert_eq!(violations[0].field, field);
        let info = err
            .get_details_resource_info()
            .expect("the existing record");
        assert_eq!(
            (info.resource_type.as_str(), info.resource_name.as_str()),
            ("worker", first.id.as_str())
        );
        assert!(!err.message().contains("1381111") && !err.message().contains("5101811990"));
    }
    // Another worker may not take the phone either.
    let other = register(&rid(), "13855556666", "")
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    let err = app
        .organization()
        .await
        .update_worker(with_bearer(
            pb::UpdateWorkerRequest {
                worker_id: other.id.clone(),
                phone: Some("13811112222".into()),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    // Once the first record is deleted, the person can be registered again.
    app.organization()
        .await
        .delete_worker(with_bearer(
            pb::DeleteWorkerRequest {
                worker_id: first.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap();
    let anew = register(&rid(), "13811112222", "51018119900101123X")
        .await
        .unwrap();
    assert_ne!(anew.into_inner().worker.unwrap().id, first.id);
    assert_eq!(
        app.count("SELECT count(*) FROM organization.workers WHERE deleted_at IS NULL")
            .await,
        2
    );
}
