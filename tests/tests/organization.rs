//! The registry beyond workers and grids, against the real stack: the organization tree and its
//! refusals, enterprises with their five-clears ledger, joining an organization, workers editing
//! their own record and reporting in (and stations following), contact links and coverage, guides,
//! forums and enterprise issues, and care that only staff may see.

use kit::auth::with_bearer;
use redsupply_proto::{
    events::v1 as ev,
    organization::v1::{self as pb, FormationMode, OrganizationKind},
    roles::{COMMUNITY_ADMIN, GRID_OFFICER, WORKER},
};
use redsupply_tests::{TestApp, eventually};
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
        .unwrap_or_default()
}

fn rid() -> String {
    Uuid::now_v7().to_string()
}

/// Asserts an INVALID_ARGUMENT naming `field`.
fn assert_invalid(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        fields(&status).iter().any(|f| f == field),
        "expected a violation on {field}, got {:?}",
        fields(&status)
    );
}

async fn organization(
    app: &TestApp,
    name: &str,
    kind: OrganizationKind,
    parent: &str,
    mode: FormationMode,
) -> Result<pb::Organization, tonic::Status> {
    app.party()
        .await
        .upsert_organization(with_bearer(
            pb::UpsertOrganizationRequest {
                organization: Some(pb::Organization {
                    name: name.into(),
                    kind: kind as i32,
                    parent_id: parent.into(),
                    formation_mode: mode as i32,
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
            },
            &app.admin_token(),
        ))
        .await
        .map(|r| r.into_inner().organization.unwrap())
}

/// The working committee, one industry committee and one party organization under it.
async fn tree(app: &TestApp) -> (pb::Organization, pb::Organization, pb::Organization) {
    let wc = organization(
        app,
        "Working Committee",
        OrganizationKind::WorkingCommittee,
        "",
        FormationMode::Unspecified,
    )
    .await
    .unwrap();
    let ic = organization(
        app,
        "Express Industry Committee",
        OrganizationKind::IndustryCommittee,
        &wc.id,
        FormationMode::Unspecified,
    )
    .await
    .unwrap();
    let po = organization(
        app,
        "Riders' Online Branch",
        OrganizationKind::PartyOrganization,
        &ic.id,
        FormationMode::OnlineBranch,
    )
    .await
    .unwrap();
    (wc, ic, po)
}

async fn register(app: &TestApp, name: &str, party_member: bool) -> (Uuid, String) {
    let w = app
        .organization()
        .await
        .register_worker(with_bearer(
            pb::RegisterWorkerRequest {
                request_id: rid(),
                name: name.into(),
                phone: "13912345678".into(),
                platform: "Meituan".into(),
                party_member,
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    let token = app.token(WORKER, &w.id);
    (Uuid::parse_str(&w.id).unwrap(), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_tree_has_three_levels_and_refuses_what_does_not_fit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (wc, ic, po) = tree(&app).await;
    assert_eq!(po.parent_id, ic.id);
    assert_eq!(po.formation_mode(), FormationMode::OnlineBranch);

    let second = organization(
        &app,
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
    let no_mode = organization(
        &app,
        "No mode",
        OrganizationKind::PartyOrganization,
        &ic.id,
        FormationMode::Unspecified,
    )
    .await
    .unwrap_err();
    assert_invalid(no_mode, "organization.formation_mode");
    let misplaced = organization(
        &app,
        "Misplaced",
        OrganizationKind::PartyOrganization,
        &wc.id,
        FormationMode::Standalone,
    )
    .await
    .unwrap_err();
    assert_invalid(misplaced, "organization.parent_id");
    let unknown_parent = organization(
        &app,
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
async fn census_visits_keep_the_five_clears_ledger_current() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let community = app.create_community("Yingchun").await;
    let mut ent = app.enterprises().await;
    let outlet = ent
        .upsert_enterprise(with_bearer(
            pb::UpsertEnterpriseRequest {
                enterprise: Some(pb::Enterprise {
                    name: "SF Express Jiajiang Outlet".into(),
                    kind: pb::EnterpriseKind::ExpressOutlet as i32,
                    brand: "SF Express".into(),
                    community_id: community.to_string(),
                    ..Default::default()
                }),
                request_id: rid(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    let officer = app.scoped_token(GRID_OFFICER, "officer-1", &[community], &[]);
    let visit =
        |on: &str, headcount: Option<i32>, needs: Option<&str>| pb::RecordCensusVisitRequest {
            request_id: rid(),
            visit: Some(pb::CensusVisit {
                enterprise_id: outlet.id.clone(),
                visited_on: on.into(),
                visitor: "census team".into(),
                headcount,
                party_members: Some(2),
                needs: needs.map(Into::into),
                ..Default::default()
            }),
        };
    ent.record_census_visit(with_bearer(visit("2026-04-01", Some(50), None), &officer))
        .await
        .unwrap();
    // A paper form from an earlier visit arrives late: its headcount is older than the ledger's.
    let late = ent
        .record_census_visit(with_bearer(
            visit("2026-03-01", Some(40), Some("a rest corner")),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    let ledger = late.ledger.unwrap();
    let headcount = ledger.headcount.unwrap();
    assert_eq!(
        (headcount.value, headcount.confirmed_on.as_str()),
        (50, "2026-04-01")
    );
    let needs = ledger.needs.unwrap();
    assert_eq!(
        (needs.value.as_str(), needs.confirmed_on.as_str()),
        ("a rest corner", "2026-03-01")
    );
    assert_eq!(
        ledger.situation.unwrap().confirmed_on,
        "",
        "never confirmed"
    );
    assert_eq!(
        (ledger.visits, ledger.last_visited_on.as_str()),
        (2, "2026-04-01")
    );
    assert_eq!(late.version, 3);

    // Refusals: more party members than people, a future date, a worker recording.
    let mut bad = visit("2026-04-02", Some(1), None);
    bad.visit.as_mut().unwrap().party_members = Some(3);
    assert_invalid(
        ent.record_census_visit(with_bearer(bad, &officer))
            .await
            .unwrap_err(),
        "visit.party_members",
    );
    assert_invalid(
        ent.record_census_visit(with_bearer(visit("2099-01-01", Some(1), None), &officer))
            .await
            .unwrap_err(),
        "visit.visited_on",
    );
    let (_, worker) = register(&app, "Li Wei", false).await;
    let denied = ent
        .record_census_visit(with_bearer(visit("2026-04-03", Some(1), None), &worker))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let visits = ent
        .list_census_visits(with_bearer(
            pb::ListCensusVisitsRequest {
                enterprise_id: outlet.id.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .visits;
    assert_eq!(visits.len(), 2);
    let surveyed = ent
        .list_enterprises(with_bearer(
            pb::ListEnterprisesRequest {
                surveyed_only: true,
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprises;
    assert_eq!(surveyed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_member_asks_to_join_and_the_organization_decides() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (_, _, branch) = tree(&app).await;
    let (member, member_token) = register(&app, "Zhang Qiang", true).await;
    let (other, other_token) = register(&app, "Wang Fang", false).await;
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

    let worker = app
        .organization()
        .await
        .get_worker(with_bearer(
            pb::GetWorkerRequest {
                id: member.to_string(),
            },
            &member_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
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
        .organization()
        .await
        .search_workers(with_bearer(
            pb::SearchWorkersRequest {
                organization_id: branch.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .workers;
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
async fn a_worker_edits_only_their_own_record_reports_in_and_stations_follows() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (me, my_token) = register(&app, "Li Wei", false).await;
    let (other, _) = register(&app, "Wang Fang", false).await;
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
    let found = org
        .search_workers(with_bearer(by_phone("13700001111"), &admin))
        .await
        .unwrap()
        .into_inner()
        .workers;
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
    let everyone = org
        .search_workers(with_bearer(pb::SearchWorkersRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .workers;
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
async fn members_keep_in_touch_and_coverage_counts_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (member, member_token) = register(&app, "Zhang Qiang", true).await;
    let (not_member, _) = register(&app, "Chen Jie", false).await;
    let mut workers = Vec::new();
    for i in 0..3 {
        workers.push(register(&app, &format!("Rider {i}"), false).await.0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guides_are_assigned_and_forum_issues_are_tracked_to_resolution() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (_, _, branch) = tree(&app).await;
    let mut ent = app.enterprises().await;
    let mut outlets = Vec::new();
    for name in ["ZTO Yancheng", "Meituan Dongfeng"] {
        outlets.push(
            ent.upsert_enterprise(with_bearer(
                pb::UpsertEnterpriseRequest {
                    enterprise: Some(pb::Enterprise {
                        name: name.into(),
                        kind: pb::EnterpriseKind::DeliveryStation as i32,
                        ..Default::default()
                    }),
                    request_id: rid(),
                    expected_version: 0,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .enterprise
            .unwrap()
            .id,
        );
    }
    let mut party = app.party().await;
    let guide =
        |kind: pb::GuideKind, enterprises: &[String], orgs: &[String]| pb::UpsertGuideRequest {
            guide: Some(pb::Guide {
                name: "Guide".into(),
                kind: kind as i32,
                department: "Market Supervision Bureau".into(),
                enterprise_ids: enterprises.to_vec(),
                organization_ids: orgs.to_vec(),
                ..Default::default()
            }),
            request_id: rid(),
            expected_version: 0,
        };
    party
        .upsert_guide(with_bearer(
            guide(
                pb::GuideKind::Instructor,
                &outlets[..1],
                std::slice::from_ref(&branch.id),
            ),
            &admin,
        ))
        .await
        .unwrap();
    // One commissioner, several enterprises (一人多企).
    party
        .upsert_guide(with_bearer(
            guide(pb::GuideKind::RedCommissioner, &outlets, &[]),
            &admin,
        ))
        .await
        .unwrap();
    assert_invalid(
        party
            .upsert_guide(with_bearer(
                guide(
                    pb::GuideKind::RedCommissioner,
                    &outlets,
                    std::slice::from_ref(&branch.id),
                ),
                &admin,
            ))
            .await
            .unwrap_err(),
        "guide.organization_ids",
    );
    assert_invalid(
        party
            .upsert_guide(with_bearer(
                guide(pb::GuideKind::Instructor, &["nope".into()], &[]),
                &admin,
            ))
            .await
            .unwrap_err(),
        "guide.enterprise_ids[0]",
    );
    let at_second = party
        .list_guides(with_bearer(
            pb::ListGuidesRequest {
                enterprise_id: outlets[1].clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .guides;
    assert_eq!(at_second.len(), 1);
    assert_eq!(at_second[0].kind(), pb::GuideKind::RedCommissioner);

    let forum = ent
        .record_forum(with_bearer(
            pb::RecordForumRequest {
                request_id: rid(),
                forum: Some(pb::Forum {
                    title: "Q3 joint meeting".into(),
                    held_on: "2026-09-15".into(),
                    enterprise_ids: outlets.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forum
        .unwrap();
    assert_eq!(forum.quarter, "2026-Q3");
    let issue = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                enterprise_id: outlets[0].clone(),
                title: "Loan extension".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(issue.raised_on, "2026-09-15", "raised at the forum");
    let resolve = |on: &str| pb::ResolveEnterpriseIssueRequest {
        id: issue.id.clone(),
        resolution: "Bank extended the loan by a year".into(),
        resolved_on: on.into(),
        expected_version: 0,
    };
    assert_invalid(
        ent.resolve_enterprise_issue(with_bearer(resolve("2026-09-01"), &admin))
            .await
            .unwrap_err(),
        "resolved_on",
    );
    let done = ent
        .resolve_enterprise_issue(with_bearer(resolve("2026-10-08"), &admin))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(
        (done.status(), done.resolved_on.as_str()),
        (pb::EnterpriseIssueStatus::Resolved, "2026-10-08")
    );
    assert_eq!(
        ent.resolve_enterprise_issue(with_bearer(resolve("2026-10-09"), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let q3 = ent
        .list_forums(with_bearer(
            pb::ListForumsRequest {
                quarter: "2026-Q3".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forums;
    assert_eq!(q3.len(), 1);
    assert_eq!((q3[0].issues_raised, q3[0].issues_resolved), (1, 1));
    let q4 = ent
        .list_forums(with_bearer(
            pb::ListForumsRequest {
                quarter: "2026-Q4".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forums;
    assert!(q4.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_is_for_staff_only_and_its_texts_are_sealed_at_rest() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let staff = app.scoped_token(COMMUNITY_ADMIN, "community-staff", &[community], &[]);
    let (worker, worker_token) = app.register_worker_in(Some(community), "Liu Yang").await;
    let mut care = app.care().await;
    const DIFFICULTY: &str = "Broke a leg in a crash; rent two months behind";
    let open = |token: &str| {
        with_bearer(
            pb::OpenHardshipFileRequest {
                request_id: rid(),
                worker_id: worker.to_string(),
                difficulty: DIFFICULTY.into(),
            },
            token,
        )
    };
    for token in [&worker_token, &app.token(GRID_OFFICER, "officer")] {
        assert_eq!(
            care.open_hardship_file(open(token))
                .await
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
    }
    let file = care
        .open_hardship_file(open(&staff))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    let helped = care
        .record_help(with_bearer(
            pb::RecordHelpRequest {
                file_id: file.id.clone(),
                help: Some(pb::Help {
                    given_on: "2026-07-01".into(),
                    kind: "hardship grant".into(),
                    description: "Trade union grant".into(),
                    amount_yuan: 2_000,
                }),
                expected_version: file.version,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    assert_eq!(helped.help.len(), 1);
    assert_eq!(helped.help[0].amount_yuan, 2_000);
    let closed = care
        .close_hardship_file(with_bearer(
            pb::CloseHardshipFileRequest {
                file_id: file.id.clone(),
                outcome: "Back at work".into(),
                expected_version: helped.version,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    assert_eq!(closed.status(), pb::HardshipFileStatus::Closed);
    assert_eq!(
        care.record_help(with_bearer(
            pb::RecordHelpRequest {
                file_id: file.id.clone(),
                help: Some(pb::Help {
                    given_on: "2026-08-01".into(),
                    kind: "grant".into(),
                    ..Default::default()
                }),
                expected_version: 0,
            },
            &staff,
        ))
        .await
        .unwrap_err()
        .code(),
        Code::FailedPrecondition
    );
    let read = care
        .get_hardship_file(with_bearer(
            pb::GetHardshipFileRequest {
                id: file.id.clone(),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    assert_eq!(read.difficulty, DIFFICULTY);
    assert_eq!(
        care.get_hardship_file(with_bearer(
            pb::GetHardshipFileRequest { id: file.id },
            &worker_token,
        ))
        .await
        .unwrap_err()
        .code(),
        Code::PermissionDenied
    );

    // What a dump of the table shows: no text in clear.
    let pool = app.db.pool().await;
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT row_to_json(h)::text FROM organization.hardship_files h")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(dump.len(), 1);
    assert!(!dump[0].contains("Broke a leg"), "{}", dump[0]);
    assert!(!dump[0].contains("Back at work"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_roles_appointed_in_governance_show_on_the_worker() {
    use redsupply_proto::governance::v1::{
        AppointVolunteerRoleRequest, JoinVolunteerTeamRequest, VolunteerRole,
        volunteer_service_client::VolunteerServiceClient,
    };
    let app = TestApp::spawn().await;
    let (worker, token) = register(&app, "Zhao Min", true).await;
    let mut volunteers = VolunteerServiceClient::new(
        redsupply_tests::connect(app.addr(redsupply::ServiceName::Governance)).await,
    );
    volunteers
        .join_volunteer_team(with_bearer(
            JoinVolunteerTeamRequest {
                worker_id: worker.to_string(),
            },
            &token,
        ))
        .await
        .unwrap();
    volunteers
        .appoint_volunteer_role(with_bearer(
            AppointVolunteerRoleRequest {
                worker_id: worker.to_string(),
                role: VolunteerRole::FoodSafetyMonitor as i32,
            },
            &app.admin_token(),
        ))
        .await
        .unwrap();
    let org = app.organization().await;
    eventually("organization to show the role", || {
        let mut org = org.clone();
        let token = token.clone();
        async move {
            let w = org
                .get_worker(with_bearer(
                    pb::GetWorkerRequest {
                        id: worker.to_string(),
                    },
                    &token,
                ))
                .await
                .ok()?
                .into_inner()
                .worker?;
            (w.volunteer_roles == ["VOLUNTEER_ROLE_FOOD_SAFETY_MONITOR"]).then_some(())
        }
    })
    .await;
}
