//! One policy per RPC: every RPC of every service has exactly one rule, and against the running
//! stack each role the rule does not admit is refused before the handler, whatever else its token
//! holds, while each role it admits gets past the policy (to the handler's own checks).

use std::str::FromStr;

use kit::auth::{policy::audit, with_bearer};
use prost::Message;
use redsupply::ServiceName;
use redsupply_proto::roles;
use redsupply_tests::TestApp;
use tonic::{Code, Status, transport::Channel};

fn policies() -> Vec<(ServiceName, kit::auth::policy::Policy)> {
    let of = |name: ServiceName, list: &[kit::auth::policy::Policy]| {
        list.iter().map(move |p| (name, *p)).collect::<Vec<_>>()
    };
    [
        of(ServiceName::Organization, organization::api::POLICIES),
        of(ServiceName::Education, education::policy::POLICIES),
        of(ServiceName::Stations, stations::policy::POLICIES),
        of(ServiceName::Governance, governance::api::POLICIES),
    ]
    .concat()
}

#[test]
fn every_rpc_of_every_service_has_exactly_one_rule() {
    let all: Vec<_> = policies().into_iter().map(|(_, p)| p).collect();
    let problems = audit(&all, redsupply_proto::FILE_DESCRIPTOR_SET, roles::ALL);
    assert!(problems.is_empty(), "{problems:#?}");
    // And no service of the contract is left without a table.
    let set = prost_types::FileDescriptorSet::decode(redsupply_proto::FILE_DESCRIPTOR_SET).unwrap();
    for f in &set.file {
        for s in &f.service {
            let name = format!("{}.{}", f.package(), s.name());
            assert!(
                all.iter().any(|p| p.service == name),
                "{name} has no policy table"
            );
        }
    }
}

/// Calls `path` with an empty message (a real client of any request type would send the same
/// bytes) and returns the status, or OK.
async fn call(channel: Channel, path: &str, token: &str, streaming: bool) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = http::uri::PathAndQuery::from_str(path).unwrap();
    let req = with_bearer((), token);
    let res = if streaming {
        grpc.server_streaming(req, path, codec).await.map(|_| ())
    } else {
        grpc.unary(req, path, codec).await.map(|_| ())
    };
    res.err().unwrap_or_else(|| Status::ok(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_reaches_exactly_the_rpcs_its_policy_admits() {
    let app = TestApp::spawn().await;
    let set = prost_types::FileDescriptorSet::decode(redsupply_proto::FILE_DESCRIPTOR_SET).unwrap();
    let streaming = |service: &str, method: &str| {
        set.file.iter().any(|f| {
            f.service.iter().any(|s| {
                format!("{}.{}", f.package(), s.name()) == service
                    && s.method
                        .iter()
                        .any(|m| m.name() == method && m.server_streaming())
            })
        })
    };
    let mut checked = 0;
    for (name, policy) in policies() {
        let channel = app.channel(name).await;
        for rule in policy.rules {
            let path = format!("/{}/{}", policy.service, rule.method);
            let streams = streaming(policy.service, rule.method);
            for role in roles::ALL {
                // An identity provider's extra role rides along and must change nothing.
                let token = app
                    .auth
                    .issue("s-1", &[role, "offline_access"], None)
                    .unwrap();
                let status = call(channel.clone(), &path, &token, streams).await;
                let refused_by_policy = status.code() == Code::PermissionDenied
                    && status.message().contains("needs one of the roles");
                assert_eq!(
                    refused_by_policy,
                    !rule.roles.contains(role),
                    "{path} as {role}: {status:?}"
                );
                assert_ne!(
                    status.code(),
                    Code::Internal,
                    "{path} as {role}: {status:?}"
                );
                checked += 1;
            }
            let status = call(channel.clone(), &path, "not-a-token", streams).await;
            assert_eq!(status.code(), Code::Unauthenticated, "{path}");
        }
        // A method the table does not name is refused, not served.
        let status = call(
            channel.clone(),
            &format!("/{}/NoSuchCall", policy.service),
            &app.admin_token(),
            false,
        )
        .await;
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let rpcs: usize = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .map(|s| s.method.len())
        .sum();
    assert_eq!(checked, rpcs * roles::ALL.len());
}
