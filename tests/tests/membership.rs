//! Party membership that follows the rules, against the real stack: a worker cannot declare
//! their own membership when they register; approving a join request checks again what held when
//! it was made (staff may have cleared the membership since); a member of one organization is not
//! moved silently into another by a second request; members leave, are transferred and removed,
//! each with a reason, and their history and the counts follow.

use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1::MembershipChanged,
    organization::v1::{self as pb, FormationMode, OrganizationKind},
    roles,
};
use redsupply_tests::{TestApp, rid, unique_phone};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_is_recorded_by_staff_and_checked_again_at_approval() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let mut party = app.party().await;

    // A worker registering themself may not say they are a party member.
    let me = Uuid::now_v7();
    let denied = org
        .register_worker(with_bearer(
            pb::RegisterWorkerRequest {
                request_id: rid(),
                name: "Zhou Qiang".into(),
                phone: unique_phone(),
                platform: "Meituan".into(),
                party_member: true,
                ..Default::default()
            },
            &app.token(roles::WORKER, &me.to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("party_member"), "{denied:?}");

    let (_, committee, branch) = app.organization_tree().await;
    let second = app
        .upsert_organization(
            "Couriers' Joint Branch",
            OrganizationKind::PartyOrganization,
            &committee.id,
            FormationMode::IndustryJoint,
        )
        .await
        .unwrap();
    let (member, token) = app.register_party_worker("Zhang Qiang", true).await;
    let ask = |organization: &str| pb::RequestToJoinRequest {
        request_id: rid(),
        worker_id: member.to_string(),
        organization_id: organization.into(),
        note: String::new(),
    };
    let decide = |id: &str| pb::DecideJoinRequestRequest {
        id: id.into(),
        approve: true,
        reason: String::new(),
    };
    let first = party
        .request_to_join(with_bearer(ask(&branch.id), &token))
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    // Staff clear the membership before the request is decided: approval is refused.
    org.update_worker(with_bearer(
        pb::UpdateWorkerRequest {
            worker_id: member.to_string(),
            party_member: Some(false),
            ..Default::default()
        },
        &admin,
    ))
    .await
    .unwrap();
    let refused = party
        .decide_join_request(with_bearer(decide(&first.id), &admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("no longer"), "{refused:?}");
    let pending = party
        .list_join_requests(with_bearer(
            pb::ListJoinRequestsRequest {
                worker_id: member.to_string(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .join_requests;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].status(),
        pb::JoinRequestStatus::Pending,
        "nothing decided"
    );

    // Recorded again, approved; a second organization's request does not move them silently.
    org.update_worker(with_bearer(
        pb::UpdateWorkerRequest {
            worker_id: member.to_string(),
            party_member: Some(true),
            ..Default::default()
        },
        &admin,
    ))
    .await
    .unwrap();
    party
        .decide_join_request(with_bearer(decide(&first.id), &admin))
        .await
        .unwrap();
    let other = party
        .request_to_join(with_bearer(ask(&second.id), &token))
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    let moved = party
        .decide_join_request(with_bearer(decide(&other.id), &admin))
        .await
        .unwrap_err();
    assert_eq!(moved.code(), Code::FailedPrecondition);
    assert!(moved.message().contains("transfer"), "{moved:?}");
    assert_eq!(
        app.worker_as(member, &token).await.organization_id,
        branch.id
    );
}

/// The member's spells, oldest first, as staff read them.
async fn history(app: &TestApp, worker: Uuid) -> Vec<pb::MembershipSpell> {
    app.party()
        .await
        .list_membership_history(with_bearer(
            pb::ListMembershipHistoryRequest {
                worker_id: worker.to_string(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .spells
}

/// Approves the member's request to join `organization`.
async fn join(app: &TestApp, member: Uuid, token: &str, organization: &str) {
    let mut party = app.party().await;
    let asked = party
        .request_to_join(with_bearer(
            pb::RequestToJoinRequest {
                request_id: rid(),
                worker_id: member.to_string(),
                organization_id: organization.into(),
                note: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    party
        .decide_join_request(with_bearer(
            pb::DecideJoinRequestRequest {
                id: asked.id,
                approve: true,
                reason: String::new(),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap();
}

async fn member_count(app: &TestApp, organization: &str) -> i32 {
    app.party()
        .await
        .get_organization(with_bearer(
            pb::GetOrganizationRequest {
                id: organization.into(),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .member_count
}

async fn members_in_touch(app: &TestApp) -> i32 {
    app.party()
        .await
        .get_contact_coverage(with_bearer(
            pb::GetContactCoverageRequest::default(),
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .members_in_touch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_leave_transfer_and_are_removed_with_a_reason_and_a_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut party = app.party().await;
    let (_, committee, branch) = app.organization_tree().await;
    let second = app
        .upsert_organization(
            "Couriers' Joint Branch",
            OrganizationKind::PartyOrganization,
            &committee.id,
            FormationMode::IndustryJoint,
        )
        .await
        .unwrap();
    let (member, token) = app.register_party_worker("Li Na", true).await;
    let (friend, _) = app.register_worker("Wang Wu").await;
    join(&app, member, &token, &branch.id).await;
    party
        .link_contacts(with_bearer(
            pb::LinkContactsRequest {
                member_id: member.to_string(),
                worker_ids: vec![friend.to_string()],
            },
            &admin,
        ))
        .await
        .unwrap();
    let in_touch = members_in_touch(&app).await;
    let spells = history(&app, member).await;
    assert_eq!(spells.len(), 1, "{spells:?}");
    assert_eq!(spells[0].start(), pb::MembershipStart::JoinRequest);
    assert_eq!(spells[0].organization_name, branch.name);
    assert!(spells[0].left_at.is_none());

    // A worker does not transfer themself; staff do, with a reason, in one step.
    let transfer = |reason: &str| pb::TransferMemberRequest {
        worker_id: member.to_string(),
        organization_id: second.id.clone(),
        reason: reason.into(),
        expected_version: 0,
    };
    let denied = party
        .transfer_member(with_bearer(transfer("moved"), &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // Nor removes themself, nor may another worker make them leave.
    let removal = party
        .remove_member(with_bearer(
            pb::RemoveMemberRequest {
                worker_id: member.to_string(),
                reason: "tired".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(removal.code(), Code::PermissionDenied, "{removal:?}");
    let meddling = party
        .leave_organization(with_bearer(
            pb::LeaveOrganizationRequest {
                worker_id: member.to_string(),
                reason: "a prank".into(),
                expected_version: 0,
            },
            &app.token(roles::WORKER, &friend.to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(meddling.code(), Code::PermissionDenied, "{meddling:?}");
    let no_reason = party
        .transfer_member(with_bearer(transfer(""), &admin))
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    assert!(no_reason.message().contains("reason"), "{no_reason:?}");
    let moved = party
        .transfer_member(with_bearer(
            transfer("works from the Couriers' hub now"),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        app.worker_as(member, &token).await.organization_id,
        second.id
    );
    assert_eq!(member_count(&app, &branch.id).await, 0);
    assert_eq!(member_count(&app, &second.id).await, 1);
    let previous = moved.previous.unwrap();
    assert_eq!(previous.end(), pb::MembershipEnd::Transferred);
    assert_eq!(previous.transferred_to, second.id);
    assert_eq!(previous.reason, "works from the Couriers' hub now");
    let again = party
        .transfer_member(with_bearer(transfer("twice"), &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // The member leaves on their own say: still a party member, of no organization; once only.
    let leave = pb::LeaveOrganizationRequest {
        worker_id: member.to_string(),
        reason: "moving to another county".into(),
        expected_version: moved.worker_version,
    };
    let left = party
        .leave_organization(with_bearer(leave.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.spell.unwrap().end(), pb::MembershipEnd::Left);
    let worker = app.worker_as(member, &token).await;
    assert_eq!(worker.organization_id, "");
    assert!(worker.party_member);
    assert_eq!(member_count(&app, &second.id).await, 0);
    let twice = party
        .leave_organization(with_bearer(
            pb::LeaveOrganizationRequest {
                expected_version: 0,
                ..leave
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");

    // Back in, then removed from the party: the contacts stop counting, and the branch that
    // had them can be deleted.
    join(&app, member, &token, &second.id).await;
    let removed = party
        .remove_member(with_bearer(
            pb::RemoveMemberRequest {
                worker_id: member.to_string(),
                reason: "membership lapsed".into(),
                expected_version: 0,
                party_membership_ended: true,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.spell.unwrap().end(), pb::MembershipEnd::Removed);
    assert!(!app.worker_as(member, &token).await.party_member);
    assert_eq!(members_in_touch(&app).await, in_touch - 1);
    party
        .delete_organization(with_bearer(
            pb::DeleteOrganizationRequest {
                id: second.id.clone(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();

    // The whole history, oldest first; and what other services heard, one event per spell
    // change, each with the worker's version.
    let spells = history(&app, member).await;
    let ends: Vec<_> = spells.iter().map(|s| s.end()).collect();
    assert_eq!(
        ends,
        [
            pb::MembershipEnd::Transferred,
            pb::MembershipEnd::Left,
            pb::MembershipEnd::Removed
        ],
        "{spells:?}"
    );
    let heard = redsupply_tests::eventually("the membership events", || async {
        let mine: Vec<MembershipChanged> = app
            .published::<MembershipChanged>(
                "organization",
                "redsupply.organization.membership.changed",
            )
            .await
            .into_iter()
            .filter(|e| e.worker_id == member.to_string())
            .collect();
        (mine.len() >= 6).then_some(mine)
    })
    .await;
    assert_eq!(heard.len(), 6, "{heard:?}");
    assert!(
        heard
            .windows(2)
            .all(|w| w[0].worker_version <= w[1].worker_version)
    );
    assert_eq!(heard.last().unwrap().worker_version, removed.worker_version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_party_membership_ends_the_spell() {
    let app = TestApp::spawn().await;
    let (_, _, branch) = app.organization_tree().await;
    let (member, token) = app.register_party_worker("Sun Li", true).await;
    join(&app, member, &token, &branch.id).await;
    app.organization()
        .await
        .update_worker(with_bearer(
            pb::UpdateWorkerRequest {
                worker_id: member.to_string(),
                party_member: Some(false),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap();
    assert_eq!(app.worker_as(member, &token).await.organization_id, "");
    assert_eq!(member_count(&app, &branch.id).await, 0);
    let spells = history(&app, member).await;
    assert_eq!(spells.len(), 1);
    assert_eq!(spells[0].end(), pb::MembershipEnd::PartyMembershipCleared);
    assert_eq!(spells[0].ended_by, "test-admin");
    // The member reads their own history; not someone else's, and a worker names themself.
    let mut party = app.party().await;
    let own = party
        .list_membership_history(with_bearer(
            pb::ListMembershipHistoryRequest {
                worker_id: member.to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.spells.len(), 1);
    let unnamed = party
        .list_membership_history(with_bearer(
            pb::ListMembershipHistoryRequest {
                organization_id: branch.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unnamed.code(), Code::InvalidArgument, "{unnamed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memberships_recorded_before_history_become_spells_in_the_order_they_began() {
    // A registry written at the schema before membership history: a member approved in 2024, and
    // a worker whose party membership staff cleared while they stayed in their organization.
    let db = redsupply_tests::TestDb::create().await;
    let mut settings = redsupply::AppSettings::load(None).unwrap();
    settings.common.database.url = kit::settings::Secret::new(db.url.clone());
    let pool = organization::pool(&settings.common).unwrap();
    let old = sqlx::migrate::Migrator::with_migrations(
        organization::MIGRATOR
            .iter()
            .filter(|m| m.version <= 104)
            .cloned()
            .collect(),
    );
    kit::db::migrate(&pool, organization::SCHEMA, &old)
        .await
        .unwrap();
    let (committee, industry, branch) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (id, name, kind, parent) in [
        (committee, "Working Committee", 1i16, None),
        (industry, "Delivery Industry Committee", 2, Some(committee)),
        (branch, "Riders' Branch", 3, Some(industry)),
    ] {
        sqlx::query(
            "INSERT INTO organizations (id, name, kind, parent_id, formation_mode)
             VALUES ($1, $2, $3, $4, CASE WHEN $3 = 3 THEN 1 ELSE 0 END)",
        )
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(parent)
        .execute(&pool)
        .await
        .unwrap();
    }
    let (member, lapsed) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, name, party_member) in [(member, "Gao Lin", true), (lapsed, "Ma Jun", false)] {
        sqlx::query(
            "INSERT INTO workers (id, name, platform, party_member, registered_by, request_id,
                 organization_id, registered_at)
             VALUES ($1, $2, 'Meituan', $3, 'seed', $1::text, $4, '2023-03-01T08:00:00Z')",
        )
        .bind(id)
        .bind(name)
        .bind(party_member)
        .bind(branch)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO join_requests (id, worker_id, organization_id, status, decided_by, decided_at)
         VALUES ($1, $2, $3, 2, 'county-staff', '2024-06-01T09:00:00Z')",
    )
    .bind(Uuid::now_v7())
    .bind(member)
    .bind(branch)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let app = TestApp::spawn_on(db, |_| {}).await;
    let admin = app.admin_token();
    let spells = history(&app, member).await;
    assert_eq!(spells.len(), 1, "{spells:?}");
    assert_eq!(spells[0].start(), pb::MembershipStart::JoinRequest);
    assert_eq!(spells[0].started_by, "county-staff");
    assert_eq!(spells[0].joined_at.as_ref().unwrap().seconds, 1_717_232_400);
    let cleared = history(&app, lapsed).await;
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert_eq!(cleared[0].start(), pb::MembershipStart::Recorded);
    assert_eq!(cleared[0].end(), pb::MembershipEnd::PartyMembershipCleared);
    assert_eq!(member_count(&app, &branch.to_string()).await, 1);

    // Transferred today: the spell recorded from before comes first, then the new one.
    let second = app
        .upsert_organization(
            "Couriers' Joint Branch",
            OrganizationKind::PartyOrganization,
            &industry.to_string(),
            FormationMode::IndustryJoint,
        )
        .await
        .unwrap();
    app.party()
        .await
        .transfer_member(with_bearer(
            pb::TransferMemberRequest {
                worker_id: member.to_string(),
                organization_id: second.id.clone(),
                reason: "moved depots".into(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap();
    let names: Vec<String> = history(&app, member)
        .await
        .into_iter()
        .map(|s| s.organization_name)
        .collect();
    assert_eq!(names, ["Riders' Branch", "Couriers' Joint Branch"]);
}
