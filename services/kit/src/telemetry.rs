//! Logs, traces and metrics. `tracing` carries all three ways: a formatted log (text or JSON), an
//! OpenTelemetry layer exporting over OTLP when an endpoint is set, and W3C trace context carried in
//! gRPC metadata and NATS headers so that one trace spans intake, dispatch and award. Metrics are
//! served for Prometheus on the admin port.

use std::collections::HashMap;

use opentelemetry::{
    global,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::{AdminSettings, TelemetrySettings};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("a global subscriber is already set: {0}")]
    Init(#[from] tracing_subscriber::util::TryInitError),
    #[error("metrics exporter: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
}

/// Flushes spans still in the exporter's queue when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("flushing traces failed: {e}");
        }
    }
}

/// Installs the global subscriber and the W3C propagator. Call once, from the binary.
pub fn init(
    settings: &TelemetrySettings,
    service_name: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    install_propagator();
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v)?,
        _ => EnvFilter::try_new(&settings.log_filter)?,
    };
    let fmt = if settings.log_format.eq_ignore_ascii_case("json") {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .boxed()
    } else {
        // Colour only for a person at a terminal: log files and collectors get plain text.
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed()
    };
    let (otel, provider) = if settings.otlp_endpoint.is_empty() {
        (None, None)
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&settings.otlp_endpoint)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service_name.to_owned())
                    .build(),
            )
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("redsupply"));
        global::set_tracer_provider(provider.clone());
        (Some(layer), Some(provider))
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// W3C `traceparent`/`tracestate` for every inject and extract below.
pub fn install_propagator() {
    global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Serves `/metrics` for Prometheus on `admin.listen`, when set, every metric of the catalogue
/// described. Needs a Tokio runtime.
pub fn install_metrics(admin: &AdminSettings) -> Result<(), TelemetryError> {
    if let Some(addr) = admin.listen {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .set_buckets(crate::metric_catalogue::SECOND_BUCKETS)?
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("intake_batch_size".into()),
                crate::metric_catalogue::COUNT_BUCKETS,
            )?
            .install()?;
        crate::metric_catalogue::describe();
        crate::metric_catalogue::sample_process();
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
    }
    Ok(())
}

/// The trace context of the current span as headers (`traceparent`, maybe `tracestate`).
pub fn current_context_headers() -> HashMap<String, String> {
    let cx = tracing::Span::current().context();
    let mut out = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut out));
    out
}

/// Makes `span` a child of the trace context found in `headers`, if any.
pub fn set_parent_from(span: &tracing::Span, headers: &HashMap<String, String>) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = global::get_text_map_propagator(|p| p.extract(headers));
    let _ = span.set_parent(cx);
}

/// The current trace id in hex, or "-" outside a sampled trace.
pub fn current_trace_id() -> String {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        sc.trace_id().to_string()
    } else {
        "-".to_owned()
    }
}

/// Copies the current trace context into outgoing gRPC metadata (clients, load tests).
pub fn inject_grpc(metadata: &mut tonic::metadata::MetadataMap) {
    for (k, v) in current_context_headers() {
        if let (Ok(key), Ok(val)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
            v.parse(),
        ) {
            metadata.insert(key, val);
        }
    }
}
