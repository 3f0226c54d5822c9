//! Care in the organization service, against the real stack: hardship files and the help given
//! are for staff only, and their texts are sealed at rest.

use kit::auth::with_bearer;
use redsupply_proto::{
    organization::v1 as pb,
    roles::{COMMUNITY_ADMIN, GRID_OFFICER},
};
use redsupply_tests::{TestApp, rid};
use tonic::Code;

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
