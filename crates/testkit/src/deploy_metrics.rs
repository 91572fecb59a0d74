//! The metric names that the shipped Grafana dashboard and Prometheus alert rules
//! (`deploy/observability/`) query, so a test can scrape a running `api` or `worker` and check
//! that each of them is really exported — a renamed metric must break CI, not a dashboard.
//!
//! Every selector in those files names its scrape job (`job="keel-api"`, `job="keel-worker"`, or
//! `job=~"keel-api|keel-worker"` for both), which tells the test which process must export it.
//! Series that Prometheus makes itself (`up`, `scrape_*`, `ALERTS`) are not asked of the targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The scrape job of the `api` pods (set by the scrape configuration in `deploy/observability`).
pub const API_JOB: &str = "keel-api";
/// The scrape job of the `worker` pods.
pub const WORKER_JOB: &str = "keel-worker";

/// `deploy/observability` of this workspace.
#[must_use]
pub fn observability_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/observability")
}

/// Every PromQL expression of the dashboards (`*.json`: each `expr` member) and of the rule
/// files (`*rules*.yml`: each `expr:`), with the file it came from.
///
/// # Panics
/// When the directory or a file cannot be read, or a dashboard is not JSON.
#[must_use]
pub fn deployed_expressions() -> Vec<(String, String)> {
    let dir = observability_dir();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    let mut expressions = Vec::new();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = || {
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        };
        if name.ends_with(".json") {
            let document: serde_json::Value =
                serde_json::from_str(&text()).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            let mut found = Vec::new();
            collect_json_exprs(&document, &mut found);
            expressions.extend(found.into_iter().map(|e| (name.clone(), e)));
        } else if name.contains("rules") && (name.ends_with(".yml") || name.ends_with(".yaml")) {
            expressions.extend(yaml_exprs(&text()).into_iter().map(|e| (name.clone(), e)));
        }
    }
    expressions
}

fn collect_json_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, member) in map {
                match (key.as_str(), member) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_json_exprs(member, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_json_exprs(v, out)),
        _ => {}
    }
}

/// The `expr:` values of a Prometheus rule file: plain or quoted scalars on the line, or a
/// `|` / `>` block of the lines indented deeper than the key.
#[must_use]
pub fn yaml_exprs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let key_indent = line.len() - trimmed.len();
        let rest = trimmed
            .strip_prefix("- expr:")
            .or_else(|| trimmed.strip_prefix("expr:"));
        i += 1;
        let Some(rest) = rest else { continue };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let mut block = Vec::new();
            while i < lines.len() {
                let next = lines[i];
                let indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && indent <= key_indent {
                    break;
                }
                block.push(next.trim());
                i += 1;
            }
            out.push(block.join(" ").trim().to_owned());
        } else {
            let unquoted = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
                .unwrap_or(rest);
            out.push(unquoted.to_owned());
        }
    }
    out
}

/// PromQL words that are not metric names.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// Series Prometheus itself produces: never asked of a target.
fn synthetic(metric: &str) -> bool {
    metric == "up" || metric.starts_with("scrape_") || metric.starts_with("ALERTS")
}

/// The metric names of one PromQL expression, each with the jobs its selector names
/// (empty when the selector has no `job` matcher).
///
/// # Panics
/// On an unterminated string, brace or bracket.
#[must_use]
pub fn promql_selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = end_of_string(&chars, i);
        } else if c == '[' {
            let close = chars[i..]
                .iter()
                .position(|&c| c == ']')
                .unwrap_or_else(|| panic!("unterminated [ in {expr}"));
            i += close + 1;
        } else if c.is_ascii_digit() || c == '.' {
            // a number or a duration (`5m`, `1e3`, `0.99`)
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            // a Grafana variable
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_ws(i);
            let opens = |ch: char| next < chars.len() && chars[next] == ch;
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) && opens('(')
            {
                // a label list
                let close = chars[next..]
                    .iter()
                    .position(|&c| c == ')')
                    .unwrap_or_else(|| panic!("unterminated ( in {expr}"));
                i = next + close + 1;
            } else if opens('(') || KEYWORDS.contains(&word.as_str()) {
                // a function or an operator
            } else {
                let mut jobs = BTreeSet::new();
                if opens('{') {
                    let (matchers, end) = matchers(&chars, next, expr);
                    i = end;
                    for (label, op, value) in matchers {
                        if label == "job" {
                            match op.as_str() {
                                "=" => {
                                    jobs.insert(value);
                                }
                                "=~" => jobs.extend(value.split('|').map(str::to_owned)),
                                _ => panic!("use job= or job=~ in {expr}"),
                            }
                        }
                    }
                }
                out.push((word, jobs));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn end_of_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    panic!(
        "unterminated string in {}",
        chars.iter().collect::<String>()
    )
}

/// The `label op "value"` matchers of the `{…}` at `open`, and the index after the `}`.
fn matchers(chars: &[char], open: usize, expr: &str) -> (Vec<(String, String, String)>, usize) {
    let mut out = Vec::new();
    let mut i = open + 1;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        assert!(i < chars.len(), "unterminated {{ in {expr}");
        if chars[i] == '}' {
            return (out, i + 1);
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let label: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && "=!~".contains(chars[i]) {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        assert!(
            i < chars.len() && "\"'`".contains(chars[i]),
            "bad matcher in {expr}"
        );
        let end = end_of_string(chars, i);
        let value: String = chars[i + 1..end - 1].iter().collect();
        out.push((label, op, value));
        i = end;
    }
}

/// Every metric the dashboards and alert rules query, with the jobs that must export it.
///
/// # Panics
/// When a selector names no job (the files must say which process exports each metric).
#[must_use]
pub fn deployed_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, expr) in deployed_expressions() {
        for (metric, jobs) in promql_selectors(&expr) {
            if synthetic(&metric) {
                continue;
            }
            assert!(
                !jobs.is_empty(),
                "{file}: the selector of {metric} names no job in: {expr}"
            );
            metrics.entry(metric).or_default().extend(jobs);
        }
    }
    metrics
}

/// The metrics the dashboards and alert rules expect from `job`.
#[must_use]
pub fn deployed_metrics_of(job: &str) -> BTreeSet<String> {
    deployed_metrics()
        .into_iter()
        .filter(|(_, jobs)| jobs.contains(job))
        .map(|(metric, _)| metric)
        .collect()
}

/// The sample names of a Prometheus text exposition (`x_bucket`, `x_sum`, `x_count` for a
/// histogram), with the families of its `# TYPE` lines.
#[must_use]
pub fn exposed_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(family) = rest.split_whitespace().next() {
                names.insert(family.to_owned());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// The metrics expected from `job` that `exposition` lacks.
#[must_use]
pub fn missing_from(job: &str, exposition: &str) -> Vec<String> {
    let exposed = exposed_names(exposition);
    deployed_metrics_of(job)
        .into_iter()
        .filter(|metric| !exposed.contains(metric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<(String, Vec<String>)> {
        promql_selectors(expr)
            .into_iter()
            .map(|(m, jobs)| (m, jobs.into_iter().collect()))
            .collect()
    }

    #[test]
    fn selectors_are_found_past_functions_aggregations_and_label_lists() {
        let expr = r#"histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="keel-api", route!~"/health|/ready"}[5m]))) > 0.5
            and on (route) sum without (instance) (increase(http_requests_total{job="keel-api",status="5xx"}[$__rate_interval] offset 5m)) > 1e3"#;
        assert_eq!(
            names(expr),
            vec![
                (
                    "http_request_duration_seconds_bucket".to_owned(),
                    vec!["keel-api".to_owned()]
                ),
                (
                    "http_requests_total".to_owned(),
                    vec!["keel-api".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn a_regex_job_matcher_names_every_job_and_a_bare_name_none() {
        assert_eq!(
            names(
                r#"max(process_resident_memory_bytes{job=~"keel-api|keel-worker"}) / outbox_failed_events"#
            ),
            vec![
                (
                    "process_resident_memory_bytes".to_owned(),
                    vec!["keel-api".to_owned(), "keel-worker".to_owned()]
                ),
                ("outbox_failed_events".to_owned(), vec![]),
            ]
        );
    }

    #[test]
    fn rule_exprs_are_read_from_plain_quoted_and_block_scalars() {
        let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up{job=\"keel-api\"} == 0\n        for: 1m\n      - alert: B\n        expr: |\n          sum(rate(x_total{job=\"keel-api\"}[5m]))\n            > 1\n        labels:\n          severity: page\n      - expr: 'y{job=\"keel-worker\"}'\n        record: z\n";
        assert_eq!(
            yaml_exprs(yaml),
            vec![
                "up{job=\"keel-api\"} == 0".to_owned(),
                "sum(rate(x_total{job=\"keel-api\"}[5m])) > 1".to_owned(),
                "y{job=\"keel-worker\"}".to_owned(),
            ]
        );
    }

    #[test]
    fn exposed_names_are_sample_and_family_names() {
        let text = "# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 0\na_seconds_sum 0\na_seconds_count 0\nb_total{x=\"y\"} 1\n";
        let names = exposed_names(text);
        for name in [
            "a_seconds",
            "a_seconds_bucket",
            "a_seconds_sum",
            "a_seconds_count",
            "b_total",
        ] {
            assert!(names.contains(name), "{name}");
        }
    }

    #[test]
    fn the_shipped_files_name_a_job_for_every_metric() {
        let metrics = deployed_metrics();
        assert!(metrics.contains_key("http_requests_total"), "{metrics:?}");
        assert!(metrics.contains_key("outbox_failed_events"), "{metrics:?}");
    }
}
