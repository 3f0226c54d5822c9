//! The party side of the organization service, against the real stack: the organization tree
//! (working committee, industry committees, party organizations) and what it refuses, party
//! members asking to join an organization and the organization deciding, and members keeping in
//! touch with workers (contact links) with the coverage that counts them.

use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1 as ev,
    organization::v1::{self as pb, FormationMode, OrganizationKind},
    roles::{COMMUNITY_ADMIN, WORKER},
};
use redsupply_tests::{TestApp, assert_invalid, eventually, rid};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_tree_has_three_levels_and_refuses_what_does_not_fit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (wc, ic, po) = app.organization_tree().await;
    assert_eq!(po.parent_id, ic.id);
    assert_eq!(po.formation_mode(), FormationMode::OnlineBranch);

    let second = app
        .upsert_organization(
            "Another",
            OrganizationKind::WorkingCommittee,
            "",
            FormationMode::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(
        second.code(),
        Code::FailedPrecondition,
        "one working committee"
    );
    let no_mode = app
        .upsert_organization(
            "No mode",
            OrganizationKind::PartyOrganization,
            &ic.id,
            FormationMode::Unspecified,
        )
        .await
        .unwrap_err();
    assert_invalid(no_mode, "organization.formation_mode");
    let misplaced = app
        .upsert_organization(
            "Misplaced",
            OrganizationKind::PartyOrganization,
            &wc.id,
            FormationMode::Standalone,
        )
        .await
        .unwrap_err();
    assert_invalid(misplaced, "organization.parent_id");
    let unknown_parent = app
        .upsert_organization(
            "Orphan",
            OrganizationKind::IndustryCommittee,
            &Uuid::now_v7().to_string(),
            FormationMode::Unspecified,
        )
        .await
        .unwrap_err();
    assert_invalid(unknown_parent, "organization.parent_id");

    // Community staff do not reshape the tree.
    let mut party = app.party().await;
    let denied = party
        .upsert_organization(with_bearer(
            pb::UpsertOrganizationRequest {
                organization: Some(pb::Organization {
                    name: "x".into(),
                    kind: OrganizationKind::IndustryCommittee as i32,
                    parent_id: wc.id.clone(),
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
                update_mask: None,
            },
            &app.token(COMMUNITY_ADMIN, "community-staff"),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // A rename with a stale version is refused; with the current one it lands.
    let renamed = |version: i64| pb::UpsertOrganizationRequest {
        organization: Some(pb::Organization {
            id: po.id.clone(),
            name: "Riders' Online Party Branch".into(),
            kind: OrganizationKind::PartyOrganization as i32,
            parent_id: ic.id.clone(),
            formation_mode: FormationMode::OnlineBranch as i32,
            ..Default::default()
        }),
        request_id: String::new(),
        expected_version: version,
        update_mask: None,
    };
    let stale = party
        .upsert_organization(with_bearer(renamed(po.version + 5), &admin))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let po2 = party
        .upsert_organization(with_bearer(renamed(po.version), &admin))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(po2.version, po.version + 1);

    // The committee keeps its children: no delete; the branch goes softly and leaves the lists.
    let busy = party
        .delete_organization(with_bearer(
            pb::DeleteOrganizationRequest {
                id: ic.id.clone(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition);
    let gone = party
        .delete_organization(with_bearer(
            pb::DeleteOrganizationRequest {
                id: po.id.clone(),
                expected_version: po2.version,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert!(gone.deleted_at.is_some());
    let listed = party
        .list_organizations(with_bearer(
            pb::ListOrganizationsRequest {
                parent_id: ic.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert!(listed.is_empty(), "a deleted branch is not listed");

    // Every change went out as an event carrying the version it produced.
    let versions = eventually("the branch's events to be published", || async {
        let events: Vec<ev::OrganizationChanged> = app
            .published(
                "organization",
                "redsupply.organization.organization.changed",
            )
            .await;
        let mine: Vec<(i64, bool)> = events
            .iter()
            .filter(|e| e.organization_id == po.id)
            .map(|e| (e.version, e.deleted))
            .collect();
        (mine.len() == 3).then_some(mine)
    })
    .await;
    assert_eq!(versions, vec![(1, false), (2, false), (3, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_member_asks_to_join_and_the_organization_decides() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (_, _, branch) = app.organization_tree().await;
    let (member, member_token) = app.register_party_worker("Zhang Qiang", true).await;
    let (other, other_token) = app.register_party_worker("Wang Fang", false).await;
    let mut party = app.party().await;
    let ask = |worker: Uuid| pb::RequestToJoinRequest {
        request_id: rid(),
        worker_id: worker.to_string(),
        organization_id: branch.id.clone(),
        note: String::new(),
    };

    let not_member = party
        .request_to_join(with_bearer(ask(other), &other_token))
        .await
        .unwrap_err();
    assert_eq!(not_member.code(), Code::FailedPrecondition);
    let for_someone_else = party
        .request_to_join(with_bearer(ask(member), &other_token))
        .await
        .unwrap_err();
    assert_eq!(for_someone_else.code(), Code::PermissionDenied);

    let request = party
        .request_to_join(with_bearer(ask(member), &member_token))
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    assert_eq!(request.status(), pb::JoinRequestStatus::Pending);
    let twice = party
        .request_to_join(with_bearer(ask(member), &member_token))
        .await
        .unwrap_err();
    assert_eq!(
        twice.code(),
        Code::FailedPrecondition,
        "one pending request"
    );

    let decide = |approve: bool, reason: &str| pb::DecideJoinRequestRequest {
        id: request.id.clone(),
        approve,
        reason: reason.into(),
    };
    let by_worker = party
        .decide_join_request(with_bearer(decide(true, ""), &member_token))
        .await
        .unwrap_err();
    assert_eq!(by_worker.code(), Code::PermissionDenied);
    assert_invalid(
        party
            .decide_join_request(with_bearer(decide(false, ""), &admin))
            .await
            .unwrap_err(),
        "reason",
    );
    let approved = party
        .decide_join_request(with_bearer(decide(true, ""), &admin))
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    assert_eq!(approved.status(), pb::JoinRequestStatus::Approved);
    assert_eq!(
        party
            .decide_join_request(with_bearer(decide(false, "late"), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    let worker = app.worker_as(member, &member_token).await;
    assert_eq!(worker.organization_id, branch.id);
    let branch_now = party
        .get_organization(with_bearer(
            pb::GetOrganizationRequest {
                id: branch.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(branch_now.member_count, 1);
    // "Organization finds member": staff search by organization.
    let found = app
        .search_workers(
            pb::SearchWorkersRequest {
                organization_id: branch.id.clone(),
                ..Default::default()
            },
            &admin,
        )
        .await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, member.to_string());
    assert_eq!(
        party
            .request_to_join(with_bearer(ask(member), &member_token))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "already a member"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_keep_in_touch_and_coverage_counts_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (member, member_token) = app.register_party_worker("Zhang Qiang", true).await;
    let (not_member, _) = app.register_party_worker("Chen Jie", false).await;
    let mut workers = Vec::new();
    for i in 0..3 {
        workers.push(
            app.register_party_worker(&format!("Rider {i}"), false)
                .await
                .0,
        );
    }
    let mut party = app.party().await;
    let link = |m: Uuid, ws: &[Uuid]| pb::LinkContactsRequest {
        member_id: m.to_string(),
        worker_ids: ws.iter().map(|w| w.to_string()).collect(),
    };
    let linked = party
        .link_contacts(with_bearer(link(member, &workers), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((linked.contact_count, linked.version), (3, 1));
    let again = party
        .link_contacts(with_bearer(link(member, &workers[..1]), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (again.contact_count, again.version),
        (3, 1),
        "no change, no new version"
    );
    assert_eq!(
        party
            .link_contacts(with_bearer(link(not_member, &workers), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert_invalid(
        party
            .link_contacts(with_bearer(link(member, &[member]), &admin))
            .await
            .unwrap_err(),
        "worker_ids",
    );
    assert_invalid(
        party
            .link_contacts(with_bearer(link(member, &[Uuid::now_v7()]), &admin))
            .await
            .unwrap_err(),
        "worker_ids",
    );

    let coverage = |limit: i32| pb::GetContactCoverageRequest {
        community_id: String::new(),
        load_limit: limit,
    };
    let c = party
        .get_contact_coverage(with_bearer(coverage(0), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (c.workers, c.workers_with_contact, c.members_in_touch),
        (5, 3, 1)
    );
    assert!(c.members_over_load.is_empty());
    let tight = party
        .get_contact_coverage(with_bearer(coverage(2), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tight.members_over_load.len(), 1);
    assert_eq!(tight.members_over_load[0].member_id, member.to_string());
    assert_eq!(tight.members_over_load[0].workers, 3);
    assert_eq!(tight.members_over_load_total, 1);
    assert_eq!(
        tight.members_over_load[0].member_name, "Zhang Qiang",
        "a name beside the id"
    );

    let after = party
        .unlink_contact(with_bearer(
            pb::UnlinkContactRequest {
                member_id: member.to_string(),
                worker_id: workers[0].to_string(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((after.contact_count, after.version), (2, 2));
    // A member sees their own links; another worker's are not theirs to see.
    let mine = party
        .list_contacts(with_bearer(
            pb::ListContactsRequest {
                member_id: member.to_string(),
                ..Default::default()
            },
            &member_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(mine.len(), 2);
    let rider_token = app.token(WORKER, &workers[1].to_string());
    assert_eq!(
        party
            .list_contacts(with_bearer(
                pb::ListContactsRequest {
                    member_id: member.to_string(),
                    ..Default::default()
                },
                &rider_token,
            ))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let sets = eventually("the contact sets to be published", || async {
        let events: Vec<ev::ContactsChanged> = app
            .published("organization", "redsupply.organization.contacts.changed")
            .await;
        (events.len() == 2).then_some(events)
    })
    .await;
    assert_eq!(
        sets.iter()
            .map(|e| (e.version, e.worker_ids.len()))
            .collect::<Vec<_>>(),
        vec![(1, 3), (2, 2)]
    );
}
