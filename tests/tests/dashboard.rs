//! The Grafana dashboard (`deploy/grafana/redsupply.json`) shows only what the services export:
//! every metric its queries name appears on the test stack's `/metrics` once a tip has gone from
//! intake to its case and its award and a grid system watches the feed.

use std::{collections::BTreeSet, net::SocketAddr, time::Duration};

use redsupply_proto::governance::v1::{TipCategory, WatchCasesRequest};
use redsupply_tests::{TestApp, tip_in_grid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DASHBOARD: &str = include_str!("../../deploy/grafana/redsupply.json");

/// Every PromQL expression of the dashboard's panels (rows hold none of their own here).
fn expressions(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(expr.to_owned());
            }
        }
    }
    out
}

/// The metric names a PromQL expression selects: identifiers that are not functions, keywords,
/// label names (inside `{}` or a `by (...)` list) or range durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Keywords followed by a list of label names.
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        // Aggregations, which may take `by (...)` before their parenthesis.
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    // Drop what holds label names, values and durations.
    let mut plain = String::with_capacity(expr.len());
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' if depth_brace == 0 => in_string = !in_string,
            _ if in_string => {}
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            _ => plain.push(c),
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut after_grouping = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if GROUPING.contains(&word.as_str()) {
                after_grouping = true;
                continue;
            }
            if KEYWORDS.contains(&word.as_str()) {
                continue;
            }
            if next != Some(&'(') {
                names.insert(word);
            }
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            // A number (0.99); its digits are not a name.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' && after_grouping {
            // `by (method, le)`: label names up to the closing parenthesis.
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
        }
        after_grouping = false;
        i += 1;
    }
    names
}

/// The label names a PromQL expression filters on (`{name="…"}`) or groups by (`by (name)`).
fn label_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let word = |t: &str| {
        let t = t.trim();
        (!t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| t.to_owned())
    };
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        for matcher in rest[open + 1..close].split(',') {
            if let Some(name) = matcher.split(['=', '!']).next().and_then(word) {
                names.insert(name);
            }
        }
        rest = &rest[close..];
    }
    for keyword in ["by", "without"] {
        let mut rest = expr;
        while let Some(at) = rest.find(&format!("{keyword} (")) {
            let list = &rest[at + keyword.len() + 2..];
            let end = list.find(')').unwrap_or(list.len());
            names.extend(list[..end].split(',').filter_map(word));
            rest = &list[end..];
        }
    }
    names
}

#[test]
fn names_are_read_from_promql_without_labels_functions_or_numbers() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (method, le) (rate(grpc_server_handling_seconds_bucket{namespace=~"$ns",code="0"}[$__rate_interval]))) / on (pod) build_info"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["build_info", "grpc_server_handling_seconds_bucket"]
    );
}

#[test]
fn label_names_are_read_from_matchers_and_groupings() {
    let labels = label_names(
        r#"sum by (service, le) (rate(x_bucket{namespace=~"$ns",consumer!="a"}[5m])) / on (pod) y"#,
    );
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        ["consumer", "le", "namespace", "service"]
    );
}

/// The label names of a Prometheus text scrape, and those Prometheus adds to every target.
fn scraped_labels(scrape: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = ["namespace", "pod", "instance", "job"]
        .map(String::from)
        .into();
    for line in scrape.lines().filter(|l| !l.starts_with('#')) {
        if let Some((_, labels)) = line.split_once('{') {
            for pair in labels.split("\",") {
                if let Some((name, _)) = pair.split_once("=\"") {
                    names.insert(name.trim_start_matches(',').to_owned());
                }
            }
        }
    }
    names
}

/// The series names of a Prometheus text scrape.
fn scraped_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

async fn scrape(addr: SocketAddr) -> String {
    let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if conn.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut body = String::new();
    let _ = conn.read_to_string(&mut body).await;
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_is_in_a_scrape_of_the_stack() {
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let wanted: BTreeSet<String> = expressions(&dashboard)
        .iter()
        .flat_map(|e| metric_names(e))
        .collect();
    assert!(wanted.len() >= 15, "the dashboard's metrics: {wanted:?}");
    let wanted_labels: BTreeSet<String> = expressions(&dashboard)
        .iter()
        .flat_map(|e| label_names(e))
        .collect();

    // The exporter the services run with, on a port of its own, before the services register
    // their series.
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    // As `redsupply serve all` does: one process, every service.
    kit::telemetry::install_metrics(
        &kit::settings::AdminSettings { listen: Some(addr) },
        "organization+education+stations+governance",
    )
    .expect("the metrics listener starts");
    let app = TestApp::spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.01).await;
    let (worker, token) = app.register_worker("Zhao Lei").await;
    let mut feed = app
        .watch_cases(WatchCasesRequest::default(), &app.admin_token())
        .await;
    let tip = app
        .submit_tip(
            tip_in_grid(
                worker,
                "dashboard",
                TipCategory::Traffic,
                "Signal out at the crossing",
            ),
            &token,
        )
        .await;
    app.dispatched_tip(&tip.id).await;
    app.await_balance_where(worker, "the tip's award", |b| b.pending > 0)
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut feed)).await;

    // Some series come with the next round of a periodic task (consumer lag every 5 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(addr).await;
        let (have, labels) = (scraped_names(&text), scraped_labels(&text));
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|n| !have.contains(*n))
            .chain(wanted_labels.iter().filter(|l| !labels.contains(*l)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dashboard queries metrics or labels the stack does not export: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
