//! Bearer-token authentication. Tokens are JWTs: HS256 with a key from settings (development,
//! tests, `redsupply token`; previous keys stay valid during a rotation) or RS256 with the identity
//! provider's public key. Missing and bad tokens answer UNAUTHENTICATED. Who may call what is the
//! [`policy`] table's business; how far a caller reaches is its [`Scope`] ([`caller`]).

mod caller;
pub mod certificate;
pub mod jwks;
pub mod policy;

use std::time::{SystemTime, UNIX_EPOCH};

pub use caller::{Caller, Scope, Visible, caller};
pub use policy::{PolicyLayer, Reach, Rule, rule};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

use crate::settings::AuthSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<String>,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
    /// Not valid before (optional, as identity providers issue it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Communities the holder serves (UUIDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// Grids the holder serves, or a grid platform mirrors (UUIDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grids: Vec<String>,
    /// For a `grid_system`: the platform it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

impl Claims {
    fn scope(&self) -> Result<Scope, Status> {
        let ids = |name: &str, list: &[String]| {
            list.iter()
                .map(|s| {
                    uuid::Uuid::parse_str(s).map_err(|_| {
                        Status::unauthenticated(format!(
                            "token claim {name} holds {s:?}, not a UUID"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Scope {
            communities: ids("communities", &self.communities)?,
            grids: ids("grids", &self.grids)?,
            platform: self.platform.clone(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown algorithm {0:?} (HS256 or RS256)")]
    Algorithm(String),
    #[error("auth.hs256_key is empty")]
    MissingKey,
    #[error("auth.rs256_public_key_pem is missing")]
    MissingPublicKey,
    #[error("no signing key: tokens are minted only with HS256")]
    CannotSign,
    #[error("bad key: {0}")]
    Key(#[source] jsonwebtoken::errors::Error),
    #[error("signing failed: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("{0}")]
    Jwks(#[from] jwks::JwksError),
}

/// Where the keys that verify tokens come from.
enum Keys {
    /// HS256 keys or one RS256 PEM, from settings.
    Fixed(Vec<DecodingKey>),
    /// The identity provider's JWKS endpoint.
    Jwks(Box<jwks::Jwks>),
}

pub struct Authenticator {
    keys: Keys,
    validation: Validation,
    signing: Option<EncodingKey>,
    algorithm: Algorithm,
    issuer: String,
    ttl_secs: u64,
    max_lifetime_secs: u64,
}

impl Authenticator {
    pub fn from_settings(s: &AuthSettings) -> Result<Self, AuthError> {
        let (algorithm, keys, signing) = match s.algorithm.to_ascii_uppercase().as_str() {
            "HS256" => {
                if s.hs256_key.is_empty() {
                    return Err(AuthError::MissingKey);
                }
                let keys = std::iter::once(&s.hs256_key)
                    .chain(s.hs256_previous_keys.iter())
                    .filter(|k| !k.is_empty())
                    .map(|k| DecodingKey::from_secret(k.expose().as_bytes()))
                    .collect();
                let signing = EncodingKey::from_secret(s.hs256_key.expose().as_bytes());
                (Algorithm::HS256, Keys::Fixed(keys), Some(signing))
            }
            "RS256" => match s.jwks_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => {
                    let refresh = std::time::Duration::from_secs(s.jwks_refresh_secs.max(10));
                    (
                        Algorithm::RS256,
                        Keys::Jwks(Box::new(jwks::Jwks::new(url, refresh)?)),
                        None,
                    )
                }
                None => {
                    let pem = s
                        .rs256_public_key_pem
                        .as_deref()
                        .ok_or(AuthError::MissingPublicKey)?;
                    let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(AuthError::Key)?;
                    (Algorithm::RS256, Keys::Fixed(vec![key]), None)
                }
            },
            other => return Err(AuthError::Algorithm(other.to_owned())),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&s.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            keys,
            validation,
            signing,
            algorithm,
            issuer: s.issuer.clone(),
            ttl_secs: s.token_ttl_secs,
            max_lifetime_secs: s.max_token_lifetime_secs,
        })
    }

    /// Verifies a compact JWT against the keys from settings (HS256, or one RS256 PEM). With a
    /// JWKS endpoint use [`authenticate`](Self::authenticate).
    pub fn verify(&self, token: &str) -> Result<Caller, Status> {
        match &self.keys {
            Keys::Fixed(keys) => self.check(keys.iter(), token),
            Keys::Jwks(_) => Err(Status::internal(
                "tokens are verified with the JWKS: call authenticate",
            )),
        }
    }

    /// Verifies a compact JWT, fetching the identity provider's keys when they come from a JWKS
    /// endpoint (UNAVAILABLE while no key could ever be fetched).
    pub async fn authenticate(&self, token: &str) -> Result<Caller, Status> {
        match &self.keys {
            Keys::Fixed(keys) => self.check(keys.iter(), token),
            Keys::Jwks(set) => {
                let kid = jsonwebtoken::decode_header(token)
                    .map_err(|_| Status::unauthenticated("token is malformed or not accepted"))?
                    .kid;
                let keys = set.key(kid.as_deref()).await.map_err(|e| {
                    tracing::warn!(error = %e, "no JWKS keys to verify a token with");
                    Status::unavailable(format!(
                        "the identity provider's keys are unavailable: {e}"
                    ))
                })?;
                if keys.is_empty() {
                    return Err(Status::unauthenticated(
                        "token is signed with a key the identity provider does not publish",
                    ));
                }
                self.check(keys.iter().map(|k| &**k), token)
            }
        }
    }

    fn check<'k>(
        &self,
        keys: impl Iterator<Item = &'k DecodingKey>,
        token: &str,
    ) -> Result<Caller, Status> {
        let mut last = None;
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    let c = data.claims;
                    if c.iat > now_secs() + LEEWAY_SECS {
                        return Err(Status::unauthenticated("token is issued in the future"));
                    }
                    if c.exp.saturating_sub(c.iat) > self.max_lifetime_secs {
                        return Err(Status::unauthenticated(format!(
                            "token lives longer than the {} s this service accepts",
                            self.max_lifetime_secs
                        )));
                    }
                    let scope = c.scope()?;
                    return Ok(Caller {
                        subject: c.sub,
                        roles: c.roles,
                        scope,
                        expires_at: c.exp,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        let reason = match last.as_ref().map(|e| e.kind()) {
            Some(jsonwebtoken::errors::ErrorKind::ExpiredSignature) => "token expired",
            Some(jsonwebtoken::errors::ErrorKind::ImmatureSignature) => {
                "token is not valid yet (nbf)"
            }
            Some(jsonwebtoken::errors::ErrorKind::InvalidSignature) => "token signature is invalid",
            Some(jsonwebtoken::errors::ErrorKind::InvalidIssuer) => "token issuer is not accepted",
            _ => "token is malformed or not accepted",
        };
        Err(Status::unauthenticated(reason))
    }

    /// Mints a token (HS256 only) for `subject` with `roles` and no scope, valid for `ttl_secs` or
    /// the default.
    pub fn issue(
        &self,
        subject: &str,
        roles: &[&str],
        ttl_secs: Option<u64>,
    ) -> Result<String, AuthError> {
        self.issue_scoped(subject, roles, &Scope::default(), ttl_secs)
    }

    /// Mints a token for `subject` with `roles` over `scope`.
    pub fn issue_scoped(
        &self,
        subject: &str,
        roles: &[&str],
        scope: &Scope,
        ttl_secs: Option<u64>,
    ) -> Result<String, AuthError> {
        let key = self.signing.as_ref().ok_or(AuthError::CannotSign)?;
        let now = now_secs();
        let claims = Claims {
            sub: subject.to_owned(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + ttl_secs.unwrap_or(self.ttl_secs),
            nbf: None,
            communities: scope.communities.iter().map(|c| c.to_string()).collect(),
            grids: scope.grids.iter().map(|g| g.to_string()).collect(),
            platform: scope.platform.clone(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key).map_err(AuthError::Sign)
    }

    /// Like [`issue`](Self::issue) but already expired `ago_secs` seconds: for tests of refusal.
    pub fn issue_expired(
        &self,
        subject: &str,
        roles: &[&str],
        ago_secs: u64,
    ) -> Result<String, AuthError> {
        let key = self.signing.as_ref().ok_or(AuthError::CannotSign)?;
        let now = now_secs();
        let claims = Claims {
            sub: subject.to_owned(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            iss: self.issuer.clone(),
            iat: now - ago_secs - 60,
            exp: now - ago_secs,
            nbf: None,
            communities: Vec::new(),
            grids: Vec::new(),
            platform: None,
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key).map_err(AuthError::Sign)
    }

    /// Verifies an `authorization: Bearer …` header.
    pub async fn authenticate_header(
        &self,
        header: Option<&http::HeaderValue>,
    ) -> Result<Caller, Status> {
        let header = header
            .ok_or_else(|| Status::unauthenticated("authorization: Bearer <token> is required"))?
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization header is not text"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be a Bearer token"))?;
        self.authenticate(token.trim()).await
    }
}

/// Clock skew tolerated between the issuer and this service.
const LEEWAY_SECS: u64 = 30;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A request carrying `authorization: Bearer <token>` (clients, tests, load generators).
pub fn with_bearer<T>(message: T, token: &str) -> Request<T> {
    let mut req = Request::new(message);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    fn settings(key: &str) -> AuthSettings {
        AuthSettings {
            algorithm: "HS256".into(),
            hs256_key: Secret::new(key),
            hs256_previous_keys: vec![],
            rs256_public_key_pem: None,
            issuer: "redsupply".into(),
            token_ttl_secs: 60,
            max_token_lifetime_secs: 86_400,
            jwks_url: None,
            jwks_refresh_secs: 300,
        }
    }

    fn signed(key: &str, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    }

    fn claims(iat: u64, exp: u64, nbf: Option<u64>) -> Claims {
        Claims {
            sub: "w-1".into(),
            roles: vec!["worker".into()],
            iss: "redsupply".into(),
            iat,
            exp,
            nbf,
            communities: Vec::new(),
            grids: Vec::new(),
            platform: None,
        }
    }

    #[test]
    fn tokens_not_valid_yet_issued_ahead_or_living_too_long_are_refused() {
        let auth = Authenticator::from_settings(&settings("k1")).unwrap();
        let now = now_secs();
        let fine = signed("k1", &claims(now, now + 600, Some(now)));
        assert!(auth.verify(&fine).is_ok());
        let early = auth
            .verify(&signed("k1", &claims(now, now + 600, Some(now + 300))))
            .unwrap_err();
        assert!(early.message().contains("not valid yet"), "{early:?}");
        let ahead = auth
            .verify(&signed("k1", &claims(now + 600, now + 1_200, None)))
            .unwrap_err();
        assert!(ahead.message().contains("future"), "{ahead:?}");
        let forever = auth
            .verify(&signed("k1", &claims(now, now + 30 * 86_400, None)))
            .unwrap_err();
        assert_eq!(forever.code(), tonic::Code::Unauthenticated);
        assert!(forever.message().contains("longer"), "{forever:?}");
    }

    #[test]
    fn scope_claims_round_trip_and_bad_ones_are_refused() {
        let auth = Authenticator::from_settings(&settings("k1")).unwrap();
        let scope = Scope {
            communities: vec![uuid::Uuid::now_v7()],
            grids: vec![uuid::Uuid::now_v7(), uuid::Uuid::now_v7()],
            platform: Some("leshan-grid".into()),
        };
        let token = auth
            .issue_scoped("p-1", &["grid_system"], &scope, None)
            .unwrap();
        assert_eq!(auth.verify(&token).unwrap().scope, scope);
        let now = now_secs();
        let mut bad = claims(now, now + 60, None);
        bad.communities = vec!["everywhere".into()];
        let err = auth.verify(&signed("k1", &bad)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(err.message().contains("communities"), "{err:?}");
    }

    #[test]
    fn a_minted_token_verifies_with_its_roles() {
        let auth = Authenticator::from_settings(&settings("k1")).unwrap();
        let token = auth.issue("w-1", &["worker"], None).unwrap();
        let caller = auth.verify(&token).unwrap();
        assert_eq!(caller.subject, "w-1");
        assert_eq!(caller.roles, ["worker"]);
    }

    #[test]
    fn forged_and_expired_tokens_are_refused() {
        let auth = Authenticator::from_settings(&settings("k1")).unwrap();
        let forger = Authenticator::from_settings(&settings("other")).unwrap();
        let forged = forger.issue("w-1", &["county_admin"], None).unwrap();
        assert_eq!(
            auth.verify(&forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let expired = auth.issue_expired("w-1", &["worker"], 3600).unwrap();
        let err = auth.verify(&expired).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(err.message().contains("expired"), "{}", err.message());
    }

    #[test]
    fn previous_keys_stay_valid_during_rotation() {
        let old = Authenticator::from_settings(&settings("old")).unwrap();
        let token = old.issue("w-1", &["worker"], None).unwrap();
        let mut s = settings("new");
        s.hs256_previous_keys = vec![Secret::new("old")];
        let rotated = Authenticator::from_settings(&s).unwrap();
        assert!(rotated.verify(&token).is_ok());
    }
}
