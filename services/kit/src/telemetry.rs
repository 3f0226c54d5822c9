//! Logs, traces and metrics. `tracing` carries all three ways: a formatted log (text or JSON), an
//! OpenTelemetry layer exporting over OTLP when an endpoint is set, and W3C trace context carried in
//! gRPC metadata and NATS headers so that one trace spans intake, dispatch and award. Metrics are
//! served for Prometheus on the admin port.

use std::collections::HashMap;

use opentelemetry::{
    global,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
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
    #[error("telemetry.otlp_ca_file {0}: {1}")]
    CaFile(String, std::io::Error),
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
        // The fields of every span the line is in ride on it (`spans`): the call's or the event's
        // trace_id and span_id among them, whatever spans handlers open inside.
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .boxed()
    } else {
        // Colour only for a person at a terminal: log files and collectors get plain text.
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed()
    };
    // Trace context starts at every call whether or not spans are exported: each event carries
    // a traceparent, and each log line in a call or an event's span its trace id.
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service_name.to_owned())
            .build(),
    );
    if !settings.otlp_endpoint.is_empty() {
        let exporter = span_exporter(settings)?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("redsupply"));
    global::set_tracer_provider(provider.clone());
    let provider = Some(provider);
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// The OTLP/gRPC exporter to `settings.otlp_endpoint`: TLS for `https://`, trusting the Mozilla
/// roots and the CA of `otlp_ca_file`.
fn span_exporter(
    settings: &TelemetrySettings,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&settings.otlp_endpoint);
    if settings.otlp_endpoint.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if !settings.otlp_ca_file.is_empty() {
            let pem = std::fs::read(&settings.otlp_ca_file)
                .map_err(|e| TelemetryError::CaFile(settings.otlp_ca_file.clone(), e))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        exporter = exporter.with_tls_config(tls);
    }
    Ok(exporter.build()?)
}

/// W3C `traceparent`/`tracestate` for every inject and extract below.
pub fn install_propagator() {
    global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Serves `/metrics` for Prometheus on `admin.listen`, when set, every metric of the catalogue
/// described, `build_info` naming `services` (`governance`, or `organization+education+…` when
/// one process serves several) and the process's own figures sampled. Needs a Tokio runtime.
pub fn install_metrics(admin: &AdminSettings, services: &str) -> Result<(), TelemetryError> {
    if let Some(addr) = admin.listen {
        crate::metric_catalogue::exporter()
            .with_http_listener(addr)
            .install()?;
        crate::metric_catalogue::describe();
        crate::metric_catalogue::record_build_info(services);
        crate::metric_catalogue::spawn_process_sampler();
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

/// Records `span`'s trace and span ids in its `trace_id` and `span_id` fields (declared
/// `Empty` by the span), so that the log lines written inside it carry them. Call it once the
/// span's parent is set.
pub fn record_ids(span: &tracing::Span) {
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    if sc.is_valid() {
        span.record("trace_id", tracing::field::display(sc.trace_id()));
        span.record("span_id", tracing::field::display(sc.span_id()));
    }
}

/// Links `span` to the trace of each of `sources` (a batch span to the events it applied).
pub fn link_to<'a>(span: &tracing::Span, sources: impl IntoIterator<Item = &'a tracing::Span>) {
    for source in sources {
        let cx = source.context();
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            span.add_link(sc);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// With no OTLP endpoint, a call still starts a trace: its events carry a `traceparent` and
    /// its log lines a trace id.
    #[test]
    fn trace_context_starts_at_every_call_without_an_exporter() {
        let _guard = init(&TelemetrySettings::default(), "redsupply-test").unwrap();
        let span = tracing::info_span!(
            "grpc",
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty
        );
        record_ids(&span);
        let _entered = span.enter();
        let headers = current_context_headers();
        let traceparent = headers.get("traceparent").expect("a traceparent");
        let trace_id = current_trace_id();
        assert_ne!(trace_id, "-");
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent}"
        );
        // A child of a caller's trace keeps the caller's trace id.
        let child = tracing::info_span!("consume");
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        set_parent_from(
            &child,
            &HashMap::from([("traceparent".to_owned(), caller.to_owned())]),
        );
        let _child = child.enter();
        assert_eq!(current_trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    /// An https collector gets a TLS exporter (it used to stop the start); a CA file that is not
    /// there is named.
    #[tokio::test]
    async fn an_https_collector_is_exported_to_over_tls() {
        let https = TelemetrySettings {
            otlp_endpoint: "https://otel-collector.observability:4317".into(),
            ..TelemetrySettings::default()
        };
        span_exporter(&https).expect("a TLS exporter");
        let missing = TelemetrySettings {
            otlp_ca_file: "/nonexistent/ca.pem".into(),
            ..https
        };
        let e = span_exporter(&missing).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
