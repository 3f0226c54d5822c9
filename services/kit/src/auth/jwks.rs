//! RS256 keys from an identity provider's JWKS endpoint, cached. The set is fetched on first use
//! and again once it is older than the refresh interval; a token naming a key id the cache does
//! not hold triggers an immediate refresh (at most one per [`MIN_FORCED_REFRESH`], so random key
//! ids cannot turn into a flood of fetches). A failed fetch keeps the keys already known.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::{net::TcpStream, sync::Mutex};

/// The shortest time between two refreshes forced by unknown key ids.
pub const MIN_FORCED_REFRESH: Duration = Duration::from_secs(10);
/// A JWKS document larger than this is refused.
const MAX_BODY: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("auth.jwks_url {0:?} is not an http(s) URL")]
    Url(String),
    #[error("fetching the JWKS: {0}")]
    Fetch(String),
    #[error("the JWKS does not parse: {0}")]
    Parse(String),
}

struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched: Option<Instant>,
    forced: Option<Instant>,
    /// The last failed fetch: while no key is known, calls fail fast until MIN_FORCED_REFRESH
    /// has passed instead of each waiting for the endpoint.
    failed: Option<Instant>,
}

pub struct Jwks {
    url: http::Uri,
    refresh: Duration,
    cache: Mutex<Cached>,
}

impl Jwks {
    pub fn new(url: &str, refresh: Duration) -> Result<Self, JwksError> {
        let uri: http::Uri = url.parse().map_err(|_| JwksError::Url(url.to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(JwksError::Url(url.to_owned()));
        }
        Ok(Self {
            url: uri,
            refresh,
            cache: Mutex::new(Cached {
                keys: HashMap::new(),
                fetched: None,
                forced: None,
                failed: None,
            }),
        })
    }

    /// The key with id `kid` (any key the set holds when the token names none), refreshing the
    /// set when it is stale or does not know the id.
    pub async fn key(&self, kid: Option<&str>) -> Result<Vec<Arc<DecodingKey>>, JwksError> {
        let mut cache = self.cache.lock().await;
        if cache.keys.is_empty()
            && cache
                .failed
                .is_some_and(|t| t.elapsed() < MIN_FORCED_REFRESH)
        {
            return Err(JwksError::Fetch(
                "the last fetch failed; retrying shortly".into(),
            ));
        }
        let stale = cache.fetched.is_none_or(|t| t.elapsed() >= self.refresh);
        let unknown = kid.is_some_and(|k| !cache.keys.contains_key(k));
        let may_force = cache
            .forced
            .is_none_or(|t| t.elapsed() >= MIN_FORCED_REFRESH);
        if stale || (unknown && may_force) {
            if unknown && !stale {
                cache.forced = Some(Instant::now());
            }
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), url = %self.url, "JWKS refreshed");
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) if !cache.keys.is_empty() => {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys known");
                    // Try again after a forced-refresh pause, not on every call.
                    cache.fetched = Some(Instant::now() - self.refresh + MIN_FORCED_REFRESH);
                }
                Err(e) => {
                    cache.failed = Some(Instant::now());
                    return Err(e);
                }
            }
        }
        Ok(match kid {
            Some(k) => cache.keys.get(k).cloned().into_iter().collect(),
            None => cache.keys.values().cloned().collect(),
        })
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
        let body = tokio::time::timeout(FETCH_TIMEOUT, get(&self.url))
            .await
            .map_err(|_| JwksError::Fetch(format!("no answer within {FETCH_TIMEOUT:?}")))??;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| JwksError::Parse(e.to_string()))?;
        let mut keys = HashMap::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            let kid = jwk.common.key_id.clone().unwrap_or_else(|| format!("#{i}"));
            match DecodingKey::from_jwk(jwk) {
                Ok(k) => {
                    keys.insert(kid, Arc::new(k));
                }
                Err(e) => tracing::warn!(%kid, error = %e, "JWKS key skipped"),
            }
        }
        Ok(keys)
    }
}

/// GET `url` over HTTP/1.1, with TLS (web PKI roots) for `https`.
async fn get(url: &http::Uri) -> Result<bytes::Bytes, JwksError> {
    let fail = |e: &dyn std::fmt::Display| JwksError::Fetch(e.to_string());
    let host = url.host().unwrap_or_default().to_owned();
    let https = url.scheme_str() == Some("https");
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(&e))?;
    let path = url
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    let request = http::Request::get(path)
        .header(http::header::HOST, host.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| fail(&e))?;
    let response = if https {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| fail(&e))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| fail(&e))?;
        send(TokioIo::new(tls), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    if !response.status().is_success() {
        return Err(JwksError::Fetch(format!("HTTP {}", response.status())));
    }
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| fail(&e))?;
    Ok(body.to_bytes())
}

async fn send<T>(
    io: T,
    request: http::Request<Empty<bytes::Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, JwksError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let fail = |e: &dyn std::fmt::Display| JwksError::Fetch(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| fail(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "JWKS connection closed");
        }
    });
    sender.send_request(request).await.map_err(|e| fail(&e))
}
