//! Scoped roles against the running stack: a grid officer and a grid platform reach the cases of
//! their grids, community staff the cases in their communities' grids, the county everything, and
//! each refusal is PERMISSION_DENIED naming what lay outside the token's scope.

use futures::StreamExt;
use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        CaseStatus, GetCaseRequest, GetGovernanceStatsRequest, GetTipRequest, ListCasesRequest,
        ListTipsRequest, RejectTipRequest, SubmitTipRequest, TipCategory, UpdateCaseRequest,
        WatchCasesRequest,
    },
    roles,
};
use redsupply_tests::TestApp;
use tonic::Code;
use uuid::Uuid;

/// Two communities; community 1 has grids A1 and A2, community 2 has grid B.
struct County {
    app: TestApp,
    c1: Uuid,
    a1: Uuid,
    a2: Uuid,
    b: Uuid,
    worker: (Uuid, String),
}

async fn county() -> County {
    let app = TestApp::spawn().await;
    let c1 = app.create_community("Yingchun").await;
    let c2 = app.create_community("Qingyi").await;
    let a1 = app
        .create_grid_in(Some(c1), "A1", 29.70, 103.50, 0.01)
        .await;
    let a2 = app
        .create_grid_in(Some(c1), "A2", 29.70, 103.52, 0.01)
        .await;
    let b = app.create_grid_in(Some(c2), "B", 29.80, 103.50, 0.01).await;
    let worker = app.register_worker("Li Wei").await;
    County {
        app,
        c1,
        a1,
        a2,
        b,
        worker,
    }
}

const IN_A1: (f64, f64) = (29.705, 103.505);
const IN_A2: (f64, f64) = (29.705, 103.525);
const IN_B: (f64, f64) = (29.805, 103.505);

impl County {
    async fn case_at(&self, at: (f64, f64)) -> (String, String) {
        let (w, token) = &self.worker;
        let tip = self
            .app
            .submit_tip_at(*w, token, TipCategory::Traffic, at)
            .await;
        let case = self.app.dispatched_tip(&tip.id).await.case_id;
        (tip.id, case)
    }

    async fn get_case(&self, id: &str, token: &str) -> Result<(), tonic::Status> {
        self.app
            .governance()
            .await
            .get_case(with_bearer(GetCaseRequest { id: id.into() }, token))
            .await
            .map(|_| ())
    }

    async fn list(&self, req: ListCasesRequest, token: &str) -> Result<Vec<String>, tonic::Status> {
        let mut ids: Vec<String> = self
            .app
            .governance()
            .await
            .list_cases(with_bearer(req, token))
            .await?
            .into_inner()
            .cases
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn denied(r: Result<impl std::fmt::Debug, tonic::Status>, what: &str) {
    let s = r.expect_err(what);
    assert_eq!(s.code(), Code::PermissionDenied, "{what}: {s:?}");
    assert!(s.message().contains("scope"), "{what}: {s:?}");
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_platforms_reach_the_cases_of_their_grids_and_communities_only() {
    let c = county().await;
    let app = &c.app;
    let (tip_a1, case_a1) = c.case_at(IN_A1).await;
    let (_, case_a2) = c.case_at(IN_A2).await;
    let (tip_b, case_b) = c.case_at(IN_B).await;

    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-a1", &[], &[c.a1]);
    let community = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-1", &[c.c1], &[]);
    let platform = app.scoped_token(roles::GRID_SYSTEM, "city", &[], &[c.a2, c.b]);
    let nobody = app.token(roles::GRID_OFFICER, "officer-without-grids");
    let admin = app.admin_token();

    // Single cases.
    c.get_case(&case_a1, &officer).await.unwrap();
    denied(c.get_case(&case_b, &officer).await, "officer reads B");
    c.get_case(&case_a2, &community).await.unwrap();
    denied(c.get_case(&case_b, &community).await, "community 1 reads B");
    c.get_case(&case_b, &platform).await.unwrap();
    denied(c.get_case(&case_a1, &platform).await, "platform reads A1");
    denied(c.get_case(&case_a1, &nobody).await, "unscoped officer");
    c.get_case(&case_b, &admin).await.unwrap();

    // Lists cover the scope; asking for a grid outside it is refused, not emptied.
    let all = ListCasesRequest::default();
    assert_eq!(
        c.list(all.clone(), &officer).await.unwrap(),
        vec![case_a1.clone()]
    );
    assert_eq!(
        c.list(all.clone(), &community).await.unwrap(),
        sorted(vec![case_a1.clone(), case_a2.clone()])
    );
    assert_eq!(
        c.list(all.clone(), &platform).await.unwrap(),
        sorted(vec![case_a2.clone(), case_b.clone()])
    );
    assert!(c.list(all.clone(), &nobody).await.unwrap().is_empty());
    assert_eq!(c.list(all.clone(), &admin).await.unwrap().len(), 3);
    denied(
        c.list(
            ListCasesRequest {
                grid_id: c.b.to_string(),
                ..Default::default()
            },
            &officer,
        )
        .await,
        "officer lists B",
    );

    // Tips: the reporter's words stay with the grid that handles them.
    let gov = app.governance().await;
    gov.clone()
        .get_tip(with_bearer(GetTipRequest { id: tip_a1.clone() }, &officer))
        .await
        .unwrap();
    denied(
        gov.clone()
            .get_tip(with_bearer(GetTipRequest { id: tip_b.clone() }, &officer))
            .await,
        "officer reads tip in B",
    );
    let listed = gov
        .clone()
        .list_tips(with_bearer(
            ListTipsRequest {
                reporter_id: c.worker.0.to_string(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .tips;
    assert_eq!(
        listed.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![tip_a1.clone()],
        "the officer sees this reporter's tips in A1 only"
    );
    denied(
        gov.clone()
            .reject_tip(with_bearer(
                RejectTipRequest {
                    tip_id: tip_b.clone(),
                    reason: "not ours".into(),
                },
                &officer,
            ))
            .await,
        "officer rejects a tip in B",
    );

    // Changes from the platform: only its grids.
    let gateway = app.gateway().await;
    let update = |case: &str| UpdateCaseRequest {
        case_id: case.into(),
        status: CaseStatus::Accepted as i32,
        ..Default::default()
    };
    gateway
        .clone()
        .update_case(with_bearer(update(&case_b), &platform))
        .await
        .unwrap();
    denied(
        gateway
            .clone()
            .update_case(with_bearer(update(&case_a1), &platform))
            .await,
        "platform updates A1",
    );

    // Figures over the scope.
    let stats = gov
        .clone()
        .get_governance_stats(with_bearer(
            GetGovernanceStatsRequest::default(),
            &community,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.tips_reported, 2, "{stats:?}");
    let mut grids: Vec<String> = stats.by_grid.iter().map(|g| g.grid_id.clone()).collect();
    grids.sort();
    assert_eq!(grids, sorted(vec![c.a1.to_string(), c.a2.to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_watches_its_own_grids_and_no_other() {
    let c = county().await;
    let app = &c.app;
    let platform = app.scoped_token(roles::GRID_SYSTEM, "city", &[], &[c.b]);
    let watch = |grids: Vec<Uuid>, token: String| async move {
        app.gateway()
            .await
            .watch_cases(with_bearer(
                WatchCasesRequest {
                    cursor: String::new(),
                    grid_ids: grids.iter().map(Uuid::to_string).collect(),
                    statuses: vec![],
                },
                &token,
            ))
            .await
    };
    denied(
        watch(vec![c.a1], platform.clone()).await,
        "platform watches A1",
    );
    denied(
        watch(vec![], app.token(roles::GRID_SYSTEM, "no-grids")).await,
        "platform without grids",
    );
    // A stream ends with its token: the platform is told to come back with a fresh one.
    let brief = {
        let scope = kit::auth::Scope {
            communities: vec![],
            grids: vec![c.b],
            platform: Some("city".into()),
        };
        app.auth
            .issue_scoped("city", &[roles::GRID_SYSTEM], &scope, Some(2))
            .unwrap()
    };
    let mut ending = watch(vec![], brief).await.unwrap().into_inner();
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let ended = loop {
        match tokio::time::timeout_at(until, ending.next())
            .await
            .expect("the stream ends within the deadline")
        {
            Some(Ok(_)) => continue,
            Some(Err(s)) => break s,
            None => panic!("the stream closed without saying why"),
        }
    };
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");

    // Asking for nothing follows every grid of the scope: B's case arrives, A1's never does.
    let mut stream = watch(vec![], platform).await.unwrap().into_inner();
    let (_, in_a1) = c.case_at(IN_A1).await;
    let (_, in_b) = c.case_at(IN_B).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("B's case within the deadline")
            .expect("stream open")
            .expect("a message");
        let Some(case) = m.case else { continue };
        assert_ne!(case.id, in_a1, "A1's case reached B's platform");
        if case.id == in_b {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_file_tips_only_where_they_serve_and_a_second_role_grants_nothing() {
    let c = county().await;
    let app = &c.app;
    let (worker, _) = c.worker.clone();
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-a1", &[], &[c.a1]);
    let file = |at: (f64, f64), token: String, id: &'static str| async move {
        app.governance()
            .await
            .submit_tip(with_bearer(
                SubmitTipRequest {
                    request_id: id.into(),
                    reporter_id: worker.to_string(),
                    category: TipCategory::Traffic as i32,
                    description: "Broken light, reported at the desk".into(),
                    location: Some(LatLng {
                        latitude: at.0,
                        longitude: at.1,
                    }),
                    ..Default::default()
                },
                &token,
            ))
            .await
    };
    let filed = file(IN_A1, officer.clone(), "desk-1")
        .await
        .unwrap()
        .into_inner()
        .tip
        .unwrap();
    assert_eq!(filed.reporter_id, worker.to_string());
    denied(
        file(IN_B, officer.clone(), "desk-2").await,
        "officer files in B",
    );

    // A worker token with a staff role the call does not admit is still only a worker.
    let two_roles = {
        let scope = kit::auth::Scope {
            communities: vec![c.c1],
            grids: vec![c.a1],
            platform: None,
        };
        app.auth
            .issue_scoped(
                &Uuid::now_v7().to_string(),
                &[roles::WORKER, roles::GRID_SYSTEM],
                &scope,
                None,
            )
            .unwrap()
    };
    let s = file(IN_A1, two_roles, "desk-3").await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");

    // The staff-filed tip earns its reporter nothing; the reporter's own tip does.
    let case = app.dispatched_tip(&filed.id).await.case_id;
    assert!(!case.is_empty());
    let (w, token) = &c.worker;
    app.submit_tip_at(*w, token, TipCategory::Traffic, IN_A2)
        .await;
    app.await_standing(*w, 5).await;
    // The staff-filed tip's case is resolved and the worker confirms the fix: still nothing.
    let gateway = app.gateway().await;
    for status in [CaseStatus::Accepted, CaseStatus::Resolved] {
        gateway
            .clone()
            .update_case(with_bearer(
                UpdateCaseRequest {
                    case_id: case.clone(),
                    status: status as i32,
                    ..Default::default()
                },
                &app.admin_token(),
            ))
            .await
            .unwrap();
    }
    app.governance()
        .await
        .confirm_resolution(with_bearer(
            redsupply_proto::governance::v1::ConfirmResolutionRequest {
                tip_id: filed.id.clone(),
                fixed: true,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap();
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(app.standing(*w).await, 5, "only the worker's own tip pays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_staff_see_their_communities_workers_and_every_unmasking_is_logged() {
    use redsupply_proto::organization::v1::{
        GetWorkerRequest, ListPersonalDataAccessRequest, SearchWorkersRequest, UpdateWorkerRequest,
    };
    let app = TestApp::spawn().await;
    let c1 = app.create_community("Yingchun").await;
    let c2 = app.create_community("Qingyi").await;
    let (w1, w1_token) = app.register_worker_in(Some(c1), "Li Wei").await;
    let (w2, _) = app.register_worker_in(Some(c2), "Wang Fang").await;
    let clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-1", &[c1], &[]);
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-1", &[c1], &[]);
    let org = app.organization().await;
    let get = |id: Uuid, token: String| {
        let org = org.clone();
        async move {
            org.clone()
                .get_worker(with_bearer(GetWorkerRequest { id: id.to_string() }, &token))
                .await
                .map(|r| r.into_inner().worker.unwrap())
        }
    };

    let phone = get(w1, clerk.clone()).await.unwrap().phone;
    assert!(phone.len() == 11 && !phone.contains('*'), "{phone}");
    denied(
        get(w2, clerk.clone()).await,
        "clerk of c1 reads a worker of c2",
    );
    assert_eq!(
        get(w1, officer.clone()).await.unwrap().phone,
        format!("139****{}", &phone[7..]),
        "grid officers see numbers masked"
    );
    denied(get(w2, officer.clone()).await, "officer of c1 reads c2");
    assert_eq!(get(w1, w1_token.clone()).await.unwrap().phone, phone);

    let found = org
        .clone()
        .search_workers(with_bearer(SearchWorkersRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner()
        .workers;
    assert_eq!(
        found.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        vec![w1.to_string()],
        "a search covers the clerk's community only"
    );
    denied(
        org.clone()
            .search_workers(with_bearer(
                SearchWorkersRequest {
                    community_id: c2.to_string(),
                    ..Default::default()
                },
                &clerk,
            ))
            .await,
        "clerk searches c2",
    );

    // Ownership does not depend on how many roles a token holds.
    let extra = app
        .auth
        .issue(&w1.to_string(), &[roles::WORKER, "offline_access"], None)
        .unwrap();
    let s = org
        .clone()
        .update_worker(with_bearer(
            UpdateWorkerRequest {
                worker_id: w2.to_string(),
                phone: Some("13100000000".into()),
                ..Default::default()
            },
            &extra,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    denied(
        org.clone()
            .update_worker(with_bearer(
                UpdateWorkerRequest {
                    worker_id: w2.to_string(),
                    name: Some("Renamed".into()),
                    ..Default::default()
                },
                &clerk,
            ))
            .await,
        "clerk of c1 edits c2",
    );

    // The access log: the clerk's two unmaskings of Li Wei after the county registered them,
    // nothing for the masked officer or for Li Wei reading their own record; only county admins
    // read it.
    let log = org
        .clone()
        .list_personal_data_access(with_bearer(
            ListPersonalDataAccessRequest {
                worker_id: w1.to_string(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .accesses;
    let seen: Vec<(String, String)> = log
        .iter()
        .map(|a| (a.accessor.clone(), a.call.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("clerk-1".to_owned(), "SearchWorkers".to_owned()),
            ("clerk-1".to_owned(), "GetWorker".to_owned()),
            ("test-admin".to_owned(), "RegisterWorker".to_owned()),
        ],
        "newest first"
    );
    assert_eq!(
        log[0].accessor_roles,
        vec![roles::COMMUNITY_ADMIN.to_owned()]
    );
    let s = org
        .clone()
        .list_personal_data_access(with_bearer(
            ListPersonalDataAccessRequest::default(),
            &clerk,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_files_enterprises_and_figures_stay_within_the_clerks_communities() {
    use redsupply_proto::organization::v1::{
        Enterprise, EnterpriseKind, GetEnterpriseRequest, GetOrganizationStatsRequest,
        ListEnterprisesRequest, ListHardshipFilesRequest, OpenHardshipFileRequest,
        UpsertEnterpriseRequest,
    };
    let app = TestApp::spawn().await;
    let c1 = app.create_community("Yingchun").await;
    let c2 = app.create_community("Qingyi").await;
    let (w1, _) = app.register_worker_in(Some(c1), "Li Wei").await;
    let (w2, _) = app.register_worker_in(Some(c2), "Wang Fang").await;
    let clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-1", &[c1], &[]);
    let admin = app.admin_token();

    let mut care = app.care().await;
    let open = |worker: Uuid, token: &str| {
        with_bearer(
            OpenHardshipFileRequest {
                request_id: Uuid::now_v7().to_string(),
                worker_id: worker.to_string(),
                difficulty: "Rent two months behind".into(),
            },
            token,
        )
    };
    care.open_hardship_file(open(w1, &clerk)).await.unwrap();
    care.open_hardship_file(open(w2, &admin)).await.unwrap();
    denied(
        care.open_hardship_file(open(w2, &clerk)).await,
        "clerk opens a file for c2",
    );
    let files = care
        .list_hardship_files(with_bearer(ListHardshipFilesRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner()
        .files;
    assert_eq!(
        files
            .iter()
            .map(|f| f.worker_id.clone())
            .collect::<Vec<_>>(),
        vec![w1.to_string()]
    );

    let mut ent = app.enterprises().await;
    let outlet = |community: Uuid, token: &str| {
        with_bearer(
            UpsertEnterpriseRequest {
                enterprise: Some(Enterprise {
                    name: format!("Outlet of {community}"),
                    kind: EnterpriseKind::ExpressOutlet as i32,
                    brand: "SF Express".into(),
                    community_id: community.to_string(),
                    ..Default::default()
                }),
                request_id: Uuid::now_v7().to_string(),
                expected_version: 0,
                update_mask: None,
            },
            token,
        )
    };
    let mine = ent.upsert_enterprise(outlet(c1, &clerk)).await.unwrap();
    denied(
        ent.upsert_enterprise(outlet(c2, &clerk)).await,
        "clerk adds to c2",
    );
    let theirs = ent
        .upsert_enterprise(outlet(c2, &admin))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    denied(
        ent.get_enterprise(with_bearer(
            GetEnterpriseRequest {
                id: theirs.id.clone(),
            },
            &clerk,
        ))
        .await,
        "clerk reads c2's enterprise",
    );
    let listed = ent
        .list_enterprises(with_bearer(ListEnterprisesRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner()
        .enterprises;
    let mine = mine.into_inner().enterprise.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![mine.id.clone()]
    );

    // Issues raised at the county's forum: the clerk sees their community's enterprise's only.
    use redsupply_proto::organization::v1::{
        Forum, ListEnterpriseIssuesRequest, RaiseEnterpriseIssueRequest, RecordForumRequest,
    };
    let forum = ent
        .record_forum(with_bearer(
            RecordForumRequest {
                request_id: Uuid::now_v7().to_string(),
                forum: Some(Forum {
                    title: "Q3 forum".into(),
                    held_on: "2026-09-15".into(),
                    enterprise_ids: vec![mine.id.clone(), theirs.id.clone()],
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
    for enterprise in [&mine.id, &theirs.id] {
        ent.raise_enterprise_issue(with_bearer(
            RaiseEnterpriseIssueRequest {
                request_id: Uuid::now_v7().to_string(),
                forum_id: forum.id.clone(),
                enterprise_id: enterprise.clone(),
                title: "No rest area for riders".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap();
    }
    let issues = ent
        .list_enterprise_issues(with_bearer(ListEnterpriseIssuesRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert_eq!(
        issues
            .iter()
            .map(|i| i.enterprise_id.clone())
            .collect::<Vec<_>>(),
        vec![mine.id.clone()]
    );

    let figures = |token: String| {
        let app = &app;
        async move {
            app.organization()
                .await
                .get_organization_stats(with_bearer(GetOrganizationStatsRequest::default(), &token))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let county = figures(admin.clone()).await;
    let community = figures(clerk.clone()).await;
    assert_eq!((county.workers, community.workers), (2, 1));
    assert_eq!((county.hardship_files, community.hardship_files), (2, 1));
    assert_eq!((county.communities, community.communities), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_supermarkets_and_learning_sites_belong_to_their_community() {
    use redsupply_proto::{
        education::v1::{CreateLearningSiteRequest, GetEducationStatsRequest},
        stations::v1::{GetBalanceRequest, RedeemRequest},
    };
    let app = TestApp::spawn().await;
    let c1 = app.create_community("Yingchun").await;
    let c2 = app.create_community("Qingyi").await;
    let (w1, _) = app.register_worker_in(Some(c1), "Li Wei").await;
    let (w2, _) = app.register_worker_in(Some(c2), "Wang Fang").await;
    let clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk-1", &[c1], &[]);
    let pool = app.db.pool().await;
    redsupply_tests::eventually("stations to learn both workers' communities", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM stations.workers WHERE community_id IS NOT NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (n == 2).then_some(())
        }
    })
    .await;

    let points = app.points().await;
    let balance = |w: Uuid| {
        let mut points = points.clone();
        let clerk = clerk.clone();
        async move {
            points
                .get_balance(with_bearer(
                    GetBalanceRequest {
                        worker_id: w.to_string(),
                    },
                    &clerk,
                ))
                .await
        }
    };
    balance(w1).await.unwrap();
    denied(balance(w2).await, "clerk reads a c2 ledger");
    let redeem = |w: Uuid, community: Uuid| RedeemRequest {
        request_id: Uuid::now_v7().to_string(),
        worker_id: w.to_string(),
        community_id: community.to_string(),
        reward_id: Uuid::now_v7().to_string(),
        quantity: 1,
    };
    denied(
        points
            .clone()
            .redeem(with_bearer(redeem(w2, c1), &clerk))
            .await,
        "clerk spends a c2 worker's points",
    );
    denied(
        points
            .clone()
            .redeem(with_bearer(redeem(w1, c2), &clerk))
            .await,
        "clerk hands goods over in c2's supermarket",
    );
    // In scope, the call reaches the supermarket (which knows no such reward).
    let s = points
        .clone()
        .redeem(with_bearer(redeem(w1, c1), &clerk))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound, "{s:?}");

    let mut education = app.education().await;
    let site = |community: Uuid| CreateLearningSiteRequest {
        request_id: Uuid::now_v7().to_string(),
        name: "Xiao Ge Xue Ba".into(),
        community_id: community.to_string(),
        address: "Community centre".into(),
        capacity: 30,
    };
    education
        .create_learning_site(with_bearer(site(c1), &clerk))
        .await
        .unwrap();
    denied(
        education
            .create_learning_site(with_bearer(site(c2), &clerk))
            .await,
        "clerk opens a site in c2",
    );
    education
        .create_learning_site(with_bearer(site(c2), &app.admin_token()))
        .await
        .unwrap();
    let stats = education
        .get_education_stats(with_bearer(GetEducationStatsRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.learning_sites, 1, "{stats:?}");
}
