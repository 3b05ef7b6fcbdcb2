//! One span per request, named after the route template (not the URL, so job ids do not make
//! every span unique), with the OpenTelemetry HTTP fields. The span continues the caller's
//! trace when the request carries a `traceparent`, so one trace runs from a client through
//! the ingress and every worker to the email.

use std::time::Duration;

use axum::{
    extract::{MatchedPath, Request},
    http::Response,
};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::TraceLayer,
};
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

type MakeSpan = fn(&Request) -> Span;
type OnResponse = fn(&Response<axum::body::Body>, Duration, &Span);

/// The request trace layer.
pub(crate) fn layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeSpan, (), OnResponse> {
    TraceLayer::new_for_http()
        .make_span_with(make_span as MakeSpan)
        .on_request(())
        .on_response(on_response as OnResponse)
}

fn make_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "http.request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
    );
    let mut carrier = async_nats::HeaderMap::new();
    for name in [
        pdfmill_schemas::headers::TRACEPARENT,
        pdfmill_schemas::headers::TRACESTATE,
    ] {
        if let Some(value) = request.headers().get(name).and_then(|v| v.to_str().ok()) {
            carrier.insert(name, value);
        }
    }
    let parent = pdfmill_core::extract_trace_context(Some(&carrier));
    let _ = span.set_parent(parent);
    span
}

fn on_response(response: &Response<axum::body::Body>, latency: Duration, span: &Span) {
    span.record("http.response.status_code", response.status().as_u16());
    tracing::debug!(parent: span, status = response.status().as_u16(), ?latency, "answered");
}

/// Counts every request by method, route template and status, and times it
/// (`pdfmill_http_requests_total`, `pdfmill_http_request_duration_seconds`).
pub(crate) async fn record_metrics(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(pdfmill_core::instruments::HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(pdfmill_core::instruments::HTTP_REQUEST_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the process's Prometheus metrics (404 when metrics are not installed).
pub(crate) async fn metrics_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    match pdfmill_core::instruments::handle() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "metrics are not enabled in this process\n",
        )
            .into_response(),
    }
}
