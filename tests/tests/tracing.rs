//! One trace from intake to award: the SubmitTip span, the dispatch span and the award span share a
//! trace id, carried through the outbox row, the NATS headers and the consumers.

use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use redsupply_proto::governance::v1::TipCategory;
use redsupply_tests::{TestApp, eventually, tip_in_grid};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_dispatch_and_award_share_one_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test");
    kit::telemetry::install_propagator();

    let app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Zhao Min").await;
    let tip = app
        .submit_tip(
            tip_in_grid(
                worker,
                "traced",
                TipCategory::Environment,
                "Rubbish dumped by the river",
            ),
            &token,
        )
        .await;

    let traces = eventually("the SubmitTip, dispatch and award spans", || {
        let exporter = exporter.clone();
        let tip_id = tip.id.clone();
        async move {
            let spans = exporter.get_finished_spans().ok()?;
            let mut found = HashMap::new();
            for s in &spans {
                let mentions_tip = s
                    .attributes
                    .iter()
                    .any(|kv| kv.value.as_str() == tip_id.as_str());
                if ["SubmitTip", "dispatch", "award"].contains(&s.name.as_ref())
                    && (s.name == "SubmitTip" || mentions_tip)
                {
                    found.insert(s.name.to_string(), s.span_context.trace_id());
                }
            }
            (found.len() == 3).then_some(found)
        }
    })
    .await;
    let submit = traces["SubmitTip"];
    assert_ne!(submit, opentelemetry::trace::TraceId::INVALID);
    assert_eq!(
        traces["dispatch"], submit,
        "dispatch continues the intake trace"
    );
    assert_eq!(traces["award"], submit, "award continues the intake trace");
}
