//! The hostile-input suite: every RPC of the contract, driven by the descriptor set (so RPCs added
//! later are covered without a line here), gets the inputs a buggy or hostile client sends — bytes
//! that are not protobuf, NUL and control characters and over-long values in each string field, too
//! many elements in each repeated field, nil, malformed and unknown ids — on top of a plausible
//! request. Whatever the answer, it is never INTERNAL or UNKNOWN, a refusal's trailer stays small
//! enough for a default client to read, and every service still answers SERVING afterwards.
//!
//! The figures (inputs, refused naming the field, other refusals, accepted) are printed; `cargo
//! nextest run --test hostile --no-capture` shows them.

use std::{collections::BTreeMap, str::FromStr, time::Duration};

use bytes::{Buf, BufMut};
use kit::auth::with_bearer;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use redsupply::ServiceName;
use redsupply_proto::roles;
use redsupply_tests::TestApp;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tonic_types::StatusExt;
use uuid::Uuid;

/// Sends and receives bytes as they are, so the suite can send what no generated client would.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// What one probe did to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Attack {
    Garbage,
    Nul,
    Control,
    OverLong,
    TooMany,
    NilId,
    MalformedId,
    UnknownId,
}

impl Attack {
    /// Whether the refusal must be INVALID_ARGUMENT naming the spoiled field: everything but an
    /// id that is well-formed and unknown (NOT_FOUND, or FAILED_PRECONDITION for a reference, are
    /// as right) and bytes that are no message at all.
    fn names_the_field(self) -> bool {
        !matches!(self, Attack::UnknownId | Attack::NilId | Attack::Garbage)
    }
}

struct Probe {
    attack: Attack,
    /// The field path the probe changed ("" for garbage bytes).
    field: String,
    bytes: Vec<u8>,
}

/// A request a client might plausibly send: ids are UUIDs, enums their first value, locations in
/// the county, text short. Each probe spoils one field of it.
fn plausible(desc: &MessageDescriptor, depth: usize, n: &mut u64) -> DynamicMessage {
    let mut m = DynamicMessage::new(desc.clone());
    for f in desc.fields() {
        if f.is_list() || f.is_map() || f.containing_oneof().is_some() {
            continue;
        }
        let value = match f.kind() {
            Kind::String => Value::String(plausible_text(&f, n)),
            Kind::Enum(e) => Value::EnumNumber(
                e.values()
                    .map(|v| v.number())
                    .find(|&v| v != 0)
                    .unwrap_or(0),
            ),
            Kind::Double | Kind::Float if f.name() == "latitude" => Value::F64(29.7405),
            Kind::Double | Kind::Float if f.name() == "longitude" => Value::F64(103.5712),
            Kind::Double => Value::F64(1.0),
            Kind::Float => Value::F32(1.0),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(1),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
            Kind::Bool => Value::Bool(false),
            Kind::Message(inner) if inner.full_name() == "google.protobuf.Timestamp" => continue,
            Kind::Message(inner) if depth < 3 => Value::Message(plausible(&inner, depth + 1, n)),
            _ => continue,
        };
        m.set_field(&f, value);
    }
    m
}

/// An id field (a UUID); `request_id` is the client's own text.
fn is_id(f: &FieldDescriptor) -> bool {
    f.name() == "id" || (f.name().ends_with("_id") && f.name() != "request_id")
}

fn plausible_text(f: &FieldDescriptor, n: &mut u64) -> String {
    *n += 1;
    match f.name() {
        "request_id" => format!("hostile-{n}"),
        "page_token" | "cursor" => String::new(),
        "month" => "2026-11".to_owned(),
        "quarter" => "2026-Q3".to_owned(),
        name if name.contains("phone") => "13800000000".to_owned(),
        _ if is_id(f) => Uuid::now_v7().to_string(),
        _ => "probe".to_owned(),
    }
}

/// Every probe of one request type: garbage, then each string and repeated field spoiled in turn
/// (top level and one level down).
fn probes(desc: &MessageDescriptor) -> Vec<Probe> {
    let mut n = 0;
    let base = plausible(desc, 0, &mut n);
    let mut out = vec![Probe {
        attack: Attack::Garbage,
        field: String::new(),
        // Field 1, length-delimited, claiming far more bytes than follow.
        bytes: vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01],
    }];
    let mut spoil = |attack: Attack, field: String, set: &dyn Fn(&mut DynamicMessage)| {
        let mut m = base.clone();
        set(&mut m);
        out.push(Probe {
            attack,
            field,
            bytes: m.encode_to_vec(),
        });
    };
    for f in desc.fields() {
        attacks_on(&f, &mut |attack, value| {
            let f = f.clone();
            spoil(attack, f.name().to_owned(), &move |m| {
                m.set_field(&f, value.clone())
            });
        });
        // One level down: the fields of a nested message (a location, a station's hours).
        if let (Kind::Message(inner), false) = (f.kind(), f.is_list()) {
            if inner.full_name().starts_with("google.") {
                continue;
            }
            for g in inner.fields() {
                attacks_on(&g, &mut |attack, value| {
                    let (f, g, inner) = (f.clone(), g.clone(), inner.clone());
                    spoil(attack, format!("{}.{}", f.name(), g.name()), &move |m| {
                        let mut nested = match m.get_field(&f).as_message() {
                            Some(existing) => existing.clone(),
                            None => DynamicMessage::new(inner.clone()),
                        };
                        nested.set_field(&g, value.clone());
                        m.set_field(&f, Value::Message(nested));
                    });
                });
            }
        }
    }
    out
}

/// The spoiled values for one field.
fn attacks_on(f: &FieldDescriptor, emit: &mut dyn FnMut(Attack, Value)) {
    if f.is_map() {
        return;
    }
    if f.is_list() {
        let element = match f.kind() {
            Kind::String if is_id(f) || f.name().ends_with("_ids") => {
                Value::String(Uuid::now_v7().to_string())
            }
            Kind::String => Value::String("x".to_owned()),
            Kind::Enum(e) => Value::EnumNumber(
                e.values()
                    .map(|v| v.number())
                    .find(|&v| v != 0)
                    .unwrap_or(0),
            ),
            Kind::Int32 => Value::I32(1),
            Kind::Int64 => Value::I64(1),
            Kind::Message(inner) => {
                let mut n = 0;
                Value::Message(plausible(&inner, 2, &mut n))
            }
            _ => return,
        };
        emit(Attack::TooMany, Value::List(vec![element; 10_001]));
        return;
    }
    if f.kind() != Kind::String {
        return;
    }
    emit(Attack::Nul, Value::String("pro\0be".to_owned()));
    emit(Attack::Control, Value::String("pro\u{1b}[31mbe".to_owned()));
    emit(Attack::OverLong, Value::String("x".repeat(100_000)));
    if is_id(f) {
        emit(Attack::NilId, Value::String(Uuid::nil().to_string()));
        emit(
            Attack::MalformedId,
            Value::String("1' OR '1'='1".to_owned()),
        );
        emit(Attack::UnknownId, Value::String(Uuid::now_v7().to_string()));
    }
}

/// The answer to one probe: OK, or the refusal.
async fn send(channel: Channel, method: &MethodDescriptor, token: &str, bytes: Vec<u8>) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::from_str(&format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .unwrap();
    let req = with_bearer(bytes, token);
    let res = if method.is_server_streaming() {
        // The stream is dropped at once: its slot must come back for the next probe.
        grpc.server_streaming(req, path, Raw).await.map(drop)
    } else {
        grpc.unary(req, path, Raw).await.map(drop)
    };
    res.err().unwrap_or_else(|| Status::ok(""))
}

fn service_of(full_name: &str) -> ServiceName {
    match full_name.split('.').nth(1) {
        Some("organization") => ServiceName::Organization,
        Some("education") => ServiceName::Education,
        Some("stations") => ServiceName::Stations,
        Some("governance") => ServiceName::Governance,
        other => panic!("no service for {other:?}"),
    }
}

/// Rows anywhere in the services' schemas that hold a spoiled value: the control-character
/// probe's text, an over-long text, or an array of the too-many probe's size.
async fn spoiled_rows(app: &TestApp) -> Vec<String> {
    let pool = app.db.pool().await;
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
         WHERE table_schema IN ('organization', 'education', 'stations', 'governance')
           AND (data_type IN ('text', 'character varying', 'ARRAY', 'jsonb'))
           AND table_name IN (SELECT table_name FROM information_schema.tables
                              WHERE table_type = 'BASE TABLE' AND table_schema = columns.table_schema)",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    let mut found = Vec::new();
    for (schema, table, column, kind) in columns {
        let test = match kind.as_str() {
            "ARRAY" => format!("cardinality(\"{column}\") > 10000"),
            "jsonb" => format!(
                "CASE WHEN jsonb_typeof(\"{column}\") = 'array' \
                 THEN jsonb_array_length(\"{column}\") > 10000 ELSE false END"
            ),
            _ => format!("strpos(\"{column}\", chr(27)) > 0 OR length(\"{column}\") > 50000"),
        };
        let sql = format!("SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE {test}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .expect("count");
        if n > 0 {
            found.push(format!(
                "{schema}.{table}.{column}: {n} rows hold a spoiled value"
            ));
        }
    }
    found
}

#[derive(Default, Debug)]
struct Figures {
    inputs: usize,
    refused_naming_field: usize,
    refused_not_protobuf: usize,
    refused_other: BTreeMap<String, usize>,
    accepted: BTreeMap<String, usize>,
    internal: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_hostile_input_without_internal_errors() {
    let app = TestApp::spawn().await;
    let (worker, _) = app.register_worker("Hostile Rider").await;
    // Every role at once (the policy narrows it to the roles each RPC admits), county-wide, as the
    // registered worker: the handlers' own checks are what the suite reaches.
    let token = app
        .auth
        .issue(&worker.to_string(), roles::ALL, None)
        .expect("token");
    let pool = DescriptorPool::decode(redsupply_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut figures = Figures::default();
    let mut failures = Vec::new();
    for service in pool.services() {
        let channel = app.channel(service_of(service.full_name())).await;
        for method in service.methods() {
            for probe in probes(&method.input()) {
                figures.inputs += 1;
                let status = send(channel.clone(), &method, &token, probe.bytes).await;
                let what = format!(
                    "{}/{} {:?} {}",
                    service.name(),
                    method.name(),
                    probe.attack,
                    probe.field
                );
                if probe.attack == Attack::Garbage && status.code() != Code::InvalidArgument {
                    failures.push(format!("{what}: bytes that are not protobuf: {status:?}"));
                }
                match status.code() {
                    Code::Internal | Code::Unknown | Code::DataLoss => {
                        figures.internal += 1;
                        failures.push(format!("{what}: {:?} {}", status.code(), status.message()));
                    }
                    Code::Ok => {
                        // Nothing spoiled is accepted; an unknown id is NOT_FOUND (the contract).
                        *figures
                            .accepted
                            .entry(format!("{:?}", probe.attack))
                            .or_default() += 1;
                        failures.push(format!("{what}: accepted"));
                    }
                    Code::InvalidArgument => {
                        if status.details().len() > 8 * 1024 {
                            failures.push(format!(
                                "{what}: a {} byte trailer no default client reads",
                                status.details().len()
                            ));
                        }
                        let named = status.get_details_bad_request().is_some_and(|b| {
                            b.field_violations.iter().any(|v| {
                                !probe.field.is_empty()
                                    && (v.field == probe.field
                                        || v.field.starts_with(&format!("{}[", probe.field))
                                        || v.field.starts_with(&format!("{}.", probe.field)))
                            })
                        });
                        if named {
                            figures.refused_naming_field += 1;
                        } else if probe.attack == Attack::Garbage {
                            figures.refused_not_protobuf += 1;
                        } else {
                            if probe.attack.names_the_field() {
                                // The spoiled field was the only thing wrong with it.
                                failures.push(format!(
                                    "{what}: refused without naming the field: {}",
                                    status.message()
                                ));
                            }
                            *figures
                                .refused_other
                                .entry("INVALID_ARGUMENT, other field".into())
                                .or_default() += 1;
                        }
                    }
                    other => {
                        *figures
                            .refused_other
                            .entry(format!("{other:?}"))
                            .or_default() += 1;
                        if probe.attack.names_the_field() {
                            // A bad field is the caller's mistake, named as such, whatever else
                            // the call would have met.
                            failures.push(format!(
                                "{what}: {other:?} before the field was checked: {}",
                                status.message()
                            ));
                        }
                    }
                }
            }
        }
    }
    println!("hostile input figures: {figures:#?}");
    failures.extend(spoiled_rows(&app).await);
    for name in [
        ServiceName::Organization,
        ServiceName::Education,
        ServiceName::Stations,
        ServiceName::Governance,
    ] {
        let mut health = app.health(name).await;
        let serving = tokio::time::timeout(
            Duration::from_secs(10),
            health.check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await
        .expect("health answers")
        .expect("health check")
        .into_inner()
        .status;
        assert_eq!(
            serving,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{name:?} after the suite"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile inputs were mishandled:\n{}",
        failures.len(),
        figures.inputs,
        failures.join("\n")
    );
}
