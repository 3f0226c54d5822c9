//! One policy per RPC, in one table per service, enforced in front of every handler. A [`Rule`]
//! names the roles an RPC admits and how far it reaches ([`Reach`]); the [`PolicyLayer`] verifies
//! the bearer token, refuses a call that no rule admits (a new RPC without a rule is refused, not
//! open), and hands the handler a [`Caller`] narrowed to the admitted roles. The handler then
//! checks the target against the caller's scope with the `Caller::ensure_*` methods that the rule's
//! reach names. [`audit`] compares a table with the services' descriptors, so a test fails when an
//! RPC has no rule.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use prost::Message;
use tonic::Status;
use tower::{Layer, Service};

use super::{Authenticator, Caller};

/// How far an RPC reaches, given the roles that admitted the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Reference data every admitted caller may read (courses, stations, rewards, townships).
    Open,
    /// The worker it concerns: the worker themself, or staff of the worker's community.
    Worker,
    /// The community of the record it reads or changes; lists and figures cover the caller's
    /// communities.
    Community,
    /// The grid of the case it reads or changes (or that grid's community).
    Grid,
    /// The whole county: county admins only.
    County,
    /// The record's assignee (the expert a question is routed to), or county staff.
    Assigned,
}

impl Reach {
    pub fn describe(self) -> &'static str {
        match self {
            Reach::Open => "open (reference data)",
            Reach::Worker => "self, or the worker's community",
            Reach::Community => "community of the target",
            Reach::Grid => "grid of the target",
            Reach::County => "county",
            Reach::Assigned => "its assignee, or county staff",
        }
    }
}

/// Who may call one RPC, and over what scope.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub method: &'static str,
    pub roles: &'static [&'static str],
    pub reach: Reach,
}

pub const fn rule(method: &'static str, roles: &'static [&'static str], reach: Reach) -> Rule {
    Rule {
        method,
        roles,
        reach,
    }
}

/// The rules of one gRPC service (full name, as `SERVICE_NAME` of its generated server).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub service: &'static str,
    pub rules: &'static [Rule],
}

impl Policy {
    pub fn rule(&self, method: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.method == method)
    }
}

/// Calls any client may make without a token: health checks and server reflection.
fn is_unauthenticated(service: &str) -> bool {
    service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection.")
}

/// Admits `caller` through `rule`: PERMISSION_DENIED unless the token holds one of its roles; the
/// caller keeps only those roles.
pub fn admit(caller: Caller, path: &str, rule: Option<&Rule>) -> Result<Caller, Status> {
    let Some(rule) = rule else {
        return Err(Status::permission_denied(format!(
            "no policy admits {path} on this server"
        )));
    };
    let roles: Vec<String> = caller
        .roles
        .into_iter()
        .filter(|r| rule.roles.contains(&r.as_str()))
        .collect();
    if roles.is_empty() {
        return Err(Status::permission_denied(format!(
            "this call needs one of the roles {:?}",
            rule.roles
        )));
    }
    Ok(Caller { roles, ..caller })
}

/// What is wrong with `policies` against the services they describe in `descriptor_set` (an
/// encoded `FileDescriptorSet`): RPCs without a rule, rules for RPCs that do not exist, county
/// reach admitting anyone but county admins, roles nobody defined.
pub fn audit(policies: &[Policy], descriptor_set: &[u8], known_roles: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let set = match prost_types::FileDescriptorSet::decode(descriptor_set) {
        Ok(s) => s,
        Err(e) => return vec![format!("descriptor set does not decode: {e}")],
    };
    for policy in policies {
        let Some(service) = set.file.iter().find_map(|f| {
            f.service
                .iter()
                .find(|s| format!("{}.{}", f.package(), s.name()) == policy.service)
        }) else {
            problems.push(format!("{}: no such service", policy.service));
            continue;
        };
        for m in &service.method {
            let n = policy.rules.iter().filter(|r| r.method == m.name()).count();
            if n != 1 {
                problems.push(format!("{}/{}: {n} rules", policy.service, m.name()));
            }
        }
        for r in policy.rules {
            if !service.method.iter().any(|m| m.name() == r.method) {
                problems.push(format!("{}/{}: no such RPC", policy.service, r.method));
            }
            if r.roles.is_empty() {
                problems.push(format!("{}/{}: admits no role", policy.service, r.method));
            }
            if let Some(role) = r.roles.iter().find(|x| !known_roles.contains(x)) {
                problems.push(format!(
                    "{}/{}: unknown role {role}",
                    policy.service, r.method
                ));
            }
            if r.reach == Reach::County && r.roles != [redsupply_proto::roles::COUNTY_ADMIN] {
                problems.push(format!(
                    "{}/{}: county reach admits {:?}",
                    policy.service, r.method, r.roles
                ));
            }
        }
    }
    problems
}

/// How a grid platform's token is bound to its client certificate.
#[derive(Clone, Copy, Debug, Default)]
pub struct CertificateBinding {
    /// Client certificates are verified (a client CA is configured).
    pub enabled: bool,
    /// A `grid_system` token without a client certificate is refused.
    pub required: bool,
}

impl CertificateBinding {
    /// UNAUTHENTICATED / PERMISSION_DENIED unless a `grid_system` caller's certificate (its
    /// subject CN) names the platform its token claims. Other roles are not affected.
    pub fn check(&self, caller: &Caller, certificate: Option<Option<&str>>) -> Result<(), Status> {
        if !self.enabled || !caller.has_role(redsupply_proto::roles::GRID_SYSTEM) {
            return Ok(());
        }
        match certificate {
            Some(Some(cn)) if cn == caller.platform() => Ok(()),
            Some(Some(cn)) => Err(Status::permission_denied(format!(
                "the client certificate is {cn:?}'s, the token {:?}'s",
                caller.platform()
            ))),
            Some(None) => Err(Status::permission_denied(
                "the client certificate names no platform (subject CN)",
            )),
            None if self.required => Err(Status::unauthenticated(
                "a grid platform must connect with its client certificate",
            )),
            None => Ok(()),
        }
    }
}

/// Authenticates every call and applies the policy table before the handler runs.
#[derive(Clone)]
pub struct PolicyLayer {
    auth: Arc<Authenticator>,
    policies: &'static [Policy],
    binding: CertificateBinding,
}

impl PolicyLayer {
    pub fn new(
        auth: Arc<Authenticator>,
        policies: &'static [Policy],
        binding: CertificateBinding,
    ) -> Self {
        Self {
            auth,
            policies,
            binding,
        }
    }

    async fn check(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        certificate: Option<Option<&str>>,
    ) -> Result<Option<Caller>, Status> {
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((path, ""));
        if is_unauthenticated(service) {
            return Ok(None);
        }
        let caller = self
            .auth
            .authenticate_header(headers.get("authorization"))
            .await?;
        let rule = self
            .policies
            .iter()
            .find(|p| p.service == service)
            .and_then(|p| p.rule(method));
        let caller = admit(caller, path, rule)?;
        self.binding.check(&caller, certificate)?;
        Ok(Some(caller))
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = Enforce<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Enforce {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Enforce<S> {
    inner: S,
    layer: PolicyLayer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for Enforce<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone-and-swap keeps the service that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        // The client certificate's subject CN: None without a certificate, Some(None) when it
        // names none.
        let certificate: Option<Option<String>> = req
            .extensions()
            .get::<tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>>()
            .and_then(|i| i.peer_certs())
            .and_then(|certs| {
                certs
                    .first()
                    .map(|c| super::certificate::subject_common_name(c))
            });
        Box::pin(async move {
            match layer
                .check(
                    req.uri().path(),
                    req.headers(),
                    certificate.as_ref().map(|c| c.as_deref()),
                )
                .await
            {
                Ok(caller) => {
                    if let Some(caller) = caller {
                        req.extensions_mut().insert(caller);
                    }
                    inner.call(req).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use redsupply_proto::roles::{ALL, COUNTY_ADMIN, GRID_SYSTEM, WORKER};

    use super::*;
    use crate::auth::Scope;

    fn caller(roles: &[&str]) -> Caller {
        Caller {
            subject: "s".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scope: Scope::default(),
            expires_at: 0,
        }
    }

    const RULE: Rule = rule("GetThing", &[WORKER, COUNTY_ADMIN], Reach::Worker);

    #[test]
    fn a_call_without_a_rule_is_refused() {
        let err = admit(caller(&[COUNTY_ADMIN]), "/x.Y/Z", None).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("/x.Y/Z"));
    }

    #[test]
    fn the_caller_keeps_only_the_roles_the_rule_admits() {
        let c = admit(caller(&[WORKER, "offline_access"]), "/p", Some(&RULE)).unwrap();
        assert_eq!(c.roles, [WORKER]);
        assert!(c.is_only(WORKER));
        assert!(c.ensure_for_worker("other", None).is_err());
        let err = admit(caller(&[GRID_SYSTEM]), "/p", Some(&RULE)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn the_audit_finds_rpcs_without_rules_and_rules_without_rpcs() {
        const RULES: &[Rule] = &[
            rule("GetBalance", &[WORKER], Reach::Worker),
            rule("NoSuchCall", &[WORKER], Reach::Open),
            rule("Redeem", &[WORKER], Reach::County),
        ];
        const POLICY: &[Policy] = &[Policy {
            service: "redsupply.stations.v1.PointsService",
            rules: RULES,
        }];
        let problems = audit(POLICY, redsupply_proto::FILE_DESCRIPTOR_SET, ALL);
        let has = |s: &str| problems.iter().any(|p| p.contains(s));
        assert!(has("PointsService/NoSuchCall: no such RPC"), "{problems:?}");
        assert!(
            has("PointsService/ListLedgerEntries: 0 rules"),
            "{problems:?}"
        );
        assert!(has("PointsService/Redeem: county reach"), "{problems:?}");
        assert!(!has("GetBalance"), "{problems:?}");
    }
}
