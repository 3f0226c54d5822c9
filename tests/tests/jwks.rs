//! RS256 tokens verified with keys from the identity provider's JWKS endpoint (a local HTTP server
//! here): fetched once and cached, refreshed when the provider rotates to a new key id, not
//! refetched for every unknown key id a client makes up, and kept while the endpoint is down.

use std::{
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64::Engine;
use kit::{auth::Authenticator, settings::AuthSettings};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tonic::Code;

/// An RSA key pair made with `openssl`: the private PEM and the public key as a JWK.
fn rsa_key(dir: &std::path::Path, kid: &str) -> (Vec<u8>, serde_json::Value) {
    let path = dir.join(format!("{kid}.pem"));
    let made = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&path)
        .arg("2048")
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(made.status.success(), "{made:?}");
    let modulus = Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let hex = String::from_utf8(modulus.stdout).unwrap();
    let hex = hex.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": b64.encode(bytes), "e": "AQAB",
    });
    (std::fs::read(&path).unwrap(), jwk)
}

fn token(pem: &[u8], kid: &str) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    let claims = serde_json::json!({
        "sub": "clerk-1", "roles": ["community_admin"], "iss": "https://idp.example.test/",
        "iat": now, "exp": now + 600,
        "communities": ["0193a8b0-0000-7000-8000-000000000001"],
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap(),
    )
    .unwrap()
}

/// A one-route HTTP server answering every GET with the current document; counts requests.
async fn jwks_server(
    doc: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (doc, hits) = (doc.clone(), hits.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let body = doc.lock().unwrap().clone();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_the_jwks_are_cached_and_follow_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (pem1, jwk1) = rsa_key(dir.path(), "k1");
    let (pem2, jwk2) = rsa_key(dir.path(), "k2");
    let doc = Arc::new(Mutex::new(
        serde_json::json!({ "keys": [jwk1] }).to_string(),
    ));
    let hits = Arc::new(AtomicUsize::new(0));
    let (addr, server) = jwks_server(doc.clone(), hits.clone()).await;

    let mut settings = redsupply::AppSettings::load(None).unwrap().common.auth;
    settings = AuthSettings {
        algorithm: "RS256".into(),
        issuer: "https://idp.example.test/".into(),
        jwks_url: Some(format!(
            "http://{addr}/realms/county/protocol/openid-connect/certs"
        )),
        ..settings
    };
    let auth = Authenticator::from_settings(&settings).unwrap();

    // First use fetches; the next token is verified from the cache.
    let caller = auth.authenticate(&token(&pem1, "k1")).await.unwrap();
    assert_eq!(caller.subject, "clerk-1");
    assert_eq!(caller.scope.communities.len(), 1);
    auth.authenticate(&token(&pem1, "k1")).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1, "cached");

    // A key signed by one key but claiming another's id is refused.
    let forged = auth.authenticate(&token(&pem2, "k1")).await.unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);

    // The provider rotates: a token with the new key id refreshes the set once.
    *doc.lock().unwrap() = serde_json::json!({ "keys": [jwk1.clone(), jwk2] }).to_string();
    auth.authenticate(&token(&pem2, "k2")).await.unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one refresh for the new key id"
    );

    // Made-up key ids right after do not refetch (no flood through the provider).
    for kid in ["k3", "k4", "k5"] {
        let s = auth.authenticate(&token(&pem2, kid)).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // The endpoint goes away: the keys already known keep working.
    server.abort();
    auth.authenticate(&token(&pem1, "k1")).await.unwrap();
    auth.authenticate(&token(&pem2, "k2")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_was_ever_fetched_answers_unavailable_not_a_verdict() {
    let mut settings = redsupply::AppSettings::load(None).unwrap().common.auth;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    settings.algorithm = "RS256".into();
    settings.jwks_url = Some(format!("http://{addr}/certs"));
    let auth = Authenticator::from_settings(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (pem, _) = rsa_key(dir.path(), "k1");
    let s = auth.authenticate(&token(&pem, "k1")).await.unwrap_err();
    assert_eq!(s.code(), Code::Unavailable, "{s:?}");
    assert!(
        Authenticator::from_settings(&AuthSettings {
            jwks_url: Some("ftp://idp/certs".into()),
            ..settings
        })
        .is_err(),
        "a JWKS URL that is not http(s) is refused at start"
    );
}
