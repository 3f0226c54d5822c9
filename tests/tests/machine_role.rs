//! The machine role `grid_system` (a municipal grid platform) reaches the grid gateway and reads of
//! cases, and nothing else: not the tips behind them (reporters' words and whereabouts), not
//! reroutes or statistics, not the registry, education or stations. Staff keep every one of them.

use kit::auth::with_bearer;
use redsupply_proto::{
    education::v1::ListCoursesRequest,
    governance::v1::{
        GetCaseRequest, GetGovernanceStatsRequest, GetTipRequest, ListCasesRequest,
        RerouteCaseRequest, TipCategory,
    },
    organization::v1::ListGridsRequest,
    stations::v1::ListStationsRequest,
};
use redsupply_tests::TestApp;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_platform_reaches_the_gateway_and_case_reads_only() {
    let app = TestApp::spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let tip = app
        .submit_tip_at(w, &token, TipCategory::Traffic, (29.74, 103.57))
        .await;
    let admin = app.admin_token();
    let case_id = app.dispatched_tip(&tip.id).await.case_id;
    let platform = app.platform_token("municipal-platform").await;

    // Case reads: allowed.
    let gov = app.governance().await;
    assert!(
        gov.clone()
            .get_case(with_bearer(
                GetCaseRequest {
                    id: case_id.clone()
                },
                &platform
            ))
            .await
            .is_ok()
    );
    assert!(
        gov.clone()
            .list_cases(with_bearer(
                ListCasesRequest {
                    grid_id: grid.to_string(),
                    ..Default::default()
                },
                &platform
            ))
            .await
            .is_ok()
    );

    // Everything else: PERMISSION_DENIED for the platform, allowed for county staff.
    let denied = |r: Result<(), tonic::Status>| r.map_err(|s| s.code());
    let calls = |who: String| {
        let app = &app;
        let (case_id, tip_id) = (case_id.clone(), tip.id.clone());
        async move {
            let gov = app.governance().await;
            vec![
                (
                    "GetTip",
                    denied(
                        gov.clone()
                            .get_tip(with_bearer(GetTipRequest { id: tip_id }, &who))
                            .await
                            .map(|_| ()),
                    ),
                ),
                (
                    "RerouteCase",
                    denied(
                        gov.clone()
                            .reroute_case(with_bearer(
                                RerouteCaseRequest {
                                    case_id,
                                    department: "emergency_management".into(),
                                    reason: "wrong department".into(),
                                    ..Default::default()
                                },
                                &who,
                            ))
                            .await
                            .map(|_| ()),
                    ),
                ),
                (
                    "GetGovernanceStats",
                    denied(
                        gov.clone()
                            .get_governance_stats(with_bearer(
                                GetGovernanceStatsRequest::default(),
                                &who,
                            ))
                            .await
                            .map(|_| ()),
                    ),
                ),
                (
                    "ListGrids",
                    denied(
                        app.organization()
                            .await
                            .list_grids(with_bearer(ListGridsRequest::default(), &who))
                            .await
                            .map(|_| ()),
                    ),
                ),
                (
                    "ListCourses",
                    denied(
                        app.education()
                            .await
                            .list_courses(with_bearer(ListCoursesRequest::default(), &who))
                            .await
                            .map(|_| ()),
                    ),
                ),
                (
                    "ListStations",
                    denied(
                        app.stations()
                            .await
                            .list_stations(with_bearer(ListStationsRequest::default(), &who))
                            .await
                            .map(|_| ()),
                    ),
                ),
            ]
        }
    };
    for (rpc, outcome) in calls(platform.clone()).await {
        assert_eq!(outcome, Err(Code::PermissionDenied), "grid_system on {rpc}");
    }
    for (rpc, outcome) in calls(admin.clone()).await {
        assert_eq!(outcome, Ok(()), "county_admin on {rpc}");
    }
}
