//! Personal data: a database dump shows no phone or ID number in clear, logs never show them,
//! exact lookup still works through keyed hashes, and responses mask them for roles that need not
//! see them.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use kit::auth::with_bearer;
use redsupply_proto::{
    organization::v1::{GetWorkerRequest, RegisterWorkerRequest, SearchWorkersRequest},
    roles,
};
use redsupply_tests::TestApp;
use tracing_subscriber::fmt::MakeWriter;

const PHONE: &str = "13812345678";
const ID_NUMBER: &str = "51018119900101123X";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_and_id_numbers_never_show_in_clear_outside_the_api() {
    let logs = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish(),
    )
    .expect("the only subscriber of this test");

    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let community = app.create_community("Yingchun").await;
    let mut org = app.organization().await;
    let worker = org
        .register_worker(with_bearer(
            RegisterWorkerRequest {
                request_id: "r1".into(),
                name: "Li Wei".into(),
                phone: PHONE.into(),
                platform: "Meituan".into(),
                id_number: ID_NUMBER.into(),
                community_id: Some(community.to_string()),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .worker
        .unwrap();
    assert_eq!(
        (worker.phone.as_str(), worker.id_number.as_str()),
        (PHONE, ID_NUMBER)
    );

    // The dump: every column of every row of the schema, outbox included.
    let pool = app.db.pool().await;
    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT to_jsonb(w)::text FROM organization.workers w
         UNION ALL SELECT encode(payload, 'escape') FROM organization.outbox",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!dump.is_empty());
    for row in &dump {
        assert!(
            !row.contains(PHONE) && !row.contains(ID_NUMBER),
            "in clear: {row}"
        );
    }

    // Exact lookup by phone is for staff who may see numbers: a grid officer, who sees them
    // masked, could otherwise try the hidden digits until one matches.
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer", &[community], &[]);
    let clerk = app.scoped_token(roles::COMMUNITY_ADMIN, "clerk", &[community], &[]);
    let by_phone = |phone: &str, token: &str| {
        let mut org = org.clone();
        let req = with_bearer(
            SearchWorkersRequest {
                phone: phone.into(),
                ..Default::default()
            },
            token,
        );
        async move {
            org.search_workers(req)
                .await
                .map(|r| r.into_inner().workers)
        }
    };
    let refused = by_phone(PHONE, &officer).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let found = by_phone(PHONE, &clerk).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].phone.as_str(), found[0].id_number.as_str()),
        (PHONE, ID_NUMBER)
    );
    assert!(by_phone("13812345679", &clerk).await.unwrap().is_empty());
    // By name, a grid officer sees the record masked.
    let masked = app
        .search_workers(
            SearchWorkersRequest {
                name: "li w".into(),
                ..Default::default()
            },
            &officer,
        )
        .await;
    assert_eq!(
        (masked[0].phone.as_str(), masked[0].id_number.as_str()),
        ("138****5678", "5101**********123X")
    );
    let by_name = app
        .search_workers(
            SearchWorkersRequest {
                name: "li w".into(),
                ..Default::default()
            },
            &admin,
        )
        .await;
    assert_eq!(by_name[0].phone, PHONE);
    org.get_worker(with_bearer(
        GetWorkerRequest {
            id: worker.id.clone(),
        },
        &admin,
    ))
    .await
    .unwrap();
    let err = org
        .search_workers(with_bearer(
            SearchWorkersRequest::default(),
            &app.token(roles::WORKER, &worker.id),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // The logs, at TRACE, of all of the above.
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(text.contains("RegisterWorker"), "logs were captured");
    assert!(
        !text.contains(PHONE) && !text.contains(ID_NUMBER),
        "a personal number reached the logs"
    );
}
