//! Rotating `organization.personal_data_key`: with the new key current and the old one listed as
//! previous, everything sealed before still reads and duplicates are still found; `redsupply
//! personal-data reseal` moves every value and lookup hash to the new key (in batches, and a second
//! run finds nothing to do); after that the old key can go.

use kit::auth::with_bearer;
use organization::domain::personal::Vault;
use redsupply::ServiceName;
use redsupply_proto::organization::v1::{
    self as pb, GetWorkerRequest, RegisterWorkerRequest, SearchWorkersRequest,
};
use redsupply_tests::{TestApp, rid};
use tonic::Code;

const PHONE: &str = "13812345678";
const ID_NUMBER: &str = "51018119900101123X";
const DIFFICULTY: &str = "Lost the scooter to a theft; rent behind";
const NEW_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn registration(request_id: &str) -> RegisterWorkerRequest {
    RegisterWorkerRequest {
        request_id: request_id.into(),
        name: "Li Wei".into(),
        phone: PHONE.into(),
        platform: "Meituan".into(),
        id_number: ID_NUMBER.into(),
        ..Default::default()
    }
}

/// What a worker read shows, a second registration of the same person, and a search by phone.
async fn reads_and_lookups_work(app: &TestApp, worker: &str, file: &str) {
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let read = org
        .get_worker(with_bearer(GetWorkerRequest { id: worker.into() }, &admin))
        .await
        .expect("the worker reads")
        .into_inner()
        .worker
        .unwrap();
    assert_eq!(
        (read.phone.as_str(), read.id_number.as_str()),
        (PHONE, ID_NUMBER)
    );
    let again = org
        .register_worker(with_bearer(registration(&rid()), &admin))
        .await
        .expect_err("the same person twice");
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    let found = org
        .search_workers(with_bearer(
            SearchWorkersRequest {
                phone: PHONE.into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .workers;
    assert_eq!(found.len(), 1, "found by phone");
    let file = app
        .care()
        .await
        .get_hardship_file(with_bearer(
            pb::GetHardshipFileRequest { id: file.into() },
            &admin,
        ))
        .await
        .expect("the hardship file reads")
        .into_inner()
        .file
        .unwrap();
    assert_eq!(file.difficulty, DIFFICULTY);
}

async fn restart_organization_with(app: &mut TestApp, current: &str, previous: &[&str]) {
    app.settings.organization.personal_data_key = kit::settings::Secret::new(current);
    app.settings.organization.previous_personal_data_keys = previous
        .iter()
        .map(|k| kit::settings::Secret::new(*k))
        .collect();
    app.stop_service(ServiceName::Organization).await;
    app.start_service(ServiceName::Organization).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_reads_what_the_old_one_sealed_until_reseal_moves_it_all() {
    let mut app = TestApp::spawn().await;
    let old_key = app
        .settings
        .organization
        .personal_data_key
        .expose()
        .to_owned();
    let admin = app.admin_token();
    let worker = app
        .organization()
        .await
        .register_worker(with_bearer(registration("first"), &admin))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap()
        .id;
    // Three more workers, so that a re-seal in batches of two crosses batches.
    for i in 0..3 {
        app.organization()
            .await
            .register_worker(with_bearer(
                RegisterWorkerRequest {
                    request_id: rid(),
                    name: format!("Worker {i}"),
                    phone: format!("1390000000{i}"),
                    platform: "Eleme".into(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let file = app
        .care()
        .await
        .open_hardship_file(with_bearer(
            pb::OpenHardshipFileRequest {
                request_id: rid(),
                worker_id: worker.clone(),
                difficulty: DIFFICULTY.into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap()
        .id;

    restart_organization_with(&mut app, NEW_KEY, &[&old_key]).await;
    reads_and_lookups_work(&app, &worker, &file).await;

    let vault = app.settings.organization.vault().unwrap();
    let pool = app.db.pool().await;
    // What `redsupply personal-data reseal` runs, on the organization's own pool.
    let organization = organization::pool(&app.settings.common).unwrap();
    let report = organization::app::reseal::reseal(&organization, &vault, 2)
        .await
        .expect("the re-seal runs");
    let count = |column: &str| {
        report
            .iter()
            .find(|r| r.column == column)
            .unwrap_or_else(|| panic!("{column} in the report"))
            .clone()
    };
    assert_eq!(count("workers.phone_sealed").resealed, 4);
    assert_eq!(count("workers.id_number_sealed").resealed, 1);
    assert_eq!(count("hardship_files.difficulty_sealed").resealed, 1);
    let again = organization::app::reseal::reseal(&organization, &vault, 2)
        .await
        .unwrap();
    assert!(
        again.iter().all(|r| r.resealed == 0),
        "a second run finds everything current: {again:?}"
    );

    // At rest, every value carries the new key's id.
    let new_only = Vault::from_hex(NEW_KEY).unwrap();
    let stored: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT phone_sealed, id_number_sealed FROM organization.workers")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 4);
    for (phone, id_number) in &stored {
        assert!(new_only.is_current(phone));
        assert!(id_number.as_ref().is_none_or(|n| new_only.is_current(n)));
    }

    // The old key can go (an empty entry, as a Secret left empty outside a rotation, is no key):
    // everything still reads and matches.
    restart_organization_with(&mut app, NEW_KEY, &[""]).await;
    reads_and_lookups_work(&app, &worker, &file).await;
}
