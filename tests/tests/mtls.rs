//! gRPC over TLS with client certificates for grid platforms: a platform connects with the
//! certificate the county's CA issued it, and its token must name the same platform as the
//! certificate's subject; without a certificate its token is refused (when the setting requires
//! one); people's tokens need none. Certificates are made here with `openssl`.

use std::{path::Path, process::Command};

use kit::auth::with_bearer;
use redsupply::ServiceName;
use redsupply_proto::{
    governance::v1::{ListCasesRequest, governance_service_client::GovernanceServiceClient},
    roles,
};
use redsupply_tests::TestApp;
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA (`<ca>.pem`, `<ca>.key`).
fn ca(dir: &Path, ca: &str) {
    let (pem, key, subj) = (
        format!("{ca}.pem"),
        format!("{ca}.key"),
        format!("/CN={ca}"),
    );
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &pem,
            "-days", "2", "-subj", &subj,
        ],
    );
}

/// A certificate `<name>.pem` / `<name>.key` with subject CN `cn`, signed by `ca`.
fn issue(dir: &Path, ca: &str, name: &str, cn: &str, extensions: &str) {
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), extensions).unwrap();
    let (csr, key, pem, subj) = (
        format!("{name}.csr"),
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={cn}"),
    );
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

async fn channel(app: &TestApp, dir: &Path, client: Option<&str>) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(dir, "county-ca.pem")))
        .domain_name("localhost");
    if let Some(c) = client {
        tls = tls.identity(Identity::from_pem(
            read(dir, &format!("{c}.pem")),
            read(dir, &format!("{c}.key")),
        ));
    }
    Endpoint::from_shared(format!("https://{}", app.addr(ServiceName::Governance)))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| e.to_string())
}

async fn list_cases(channel: Channel, token: &str) -> Result<(), tonic::Status> {
    GovernanceServiceClient::new(channel)
        .list_cases(with_bearer(ListCasesRequest::default(), token))
        .await
        .map(|_| ())
}

fn platform_token(app: &TestApp, platform: &str) -> String {
    let scope = kit::auth::Scope {
        communities: vec![],
        grids: vec![uuid::Uuid::now_v7()],
        platform: Some(platform.into()),
    };
    app.auth
        .issue_scoped(platform, &[roles::GRID_SYSTEM], &scope, None)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_platform_is_bound_to_the_certificate_its_token_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "county-ca");
    ca(d, "rogue-ca");
    issue(
        d,
        "county-ca",
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    let client_ext = "extendedKeyUsage=clientAuth\n";
    issue(d, "county-ca", "leshan", "leshan-grid", client_ext);
    issue(d, "rogue-ca", "impostor", "leshan-grid", client_ext);
    let path = |f: &str| d.join(f).to_string_lossy().into_owned();
    let app = TestApp::spawn_with(|s| {
        s.common.tls = kit::settings::TlsSettings {
            cert_path: path("server.pem"),
            key_path: path("server.key"),
            client_ca_path: path("county-ca.pem"),
            require_grid_system_certificate: true,
        };
    })
    .await;

    // People need no certificate.
    let plain = channel(&app, d, None).await.unwrap();
    list_cases(plain.clone(), &app.admin_token()).await.unwrap();

    // The platform with its certificate and a token naming it: in.
    let leshan = channel(&app, d, Some("leshan")).await.unwrap();
    list_cases(leshan.clone(), &platform_token(&app, "leshan-grid"))
        .await
        .unwrap();
    // The same certificate with another platform's token: refused.
    let s = list_cases(leshan, &platform_token(&app, "emei-grid"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    assert!(s.message().contains("leshan-grid"), "{s:?}");
    // A platform token without a certificate: refused.
    let s = list_cases(plain, &platform_token(&app, "leshan-grid"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    // A certificate the county's CA did not issue does not even get a connection.
    let impostor = match channel(&app, d, Some("impostor")).await {
        Err(_) => true,
        Ok(c) => list_cases(c, &platform_token(&app, "leshan-grid"))
            .await
            .is_err(),
    };
    assert!(impostor, "a certificate of another CA was accepted");
}
