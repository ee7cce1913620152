//! JSON logs, one object per line, for CloudWatch Logs Insights.
//!
//! What is logged is chosen field by field by each front door's one line (the webhook's,
//! a backend route's, a scheduled run's): event id, type, integration id, outcome,
//! status, latency. Bodies, `creator_email` and the secret
//! are never logged ([`crate::event::Sensitive`] and [`crate::signature::Secrets`]
//! print `[redacted]` even through `Debug`).

use std::io::Write;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The level when `RUST_LOG` is not set: `info`, the SDK's own chatter at `warn`.
pub const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn";

/// The subscriber the functions use, writing to `writer`, at the level `RUST_LOG` sets
/// (default [`DEFAULT_FILTER`]).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    subscriber_at(writer, &filter)
}

/// The same subscriber at the level `directives` sets (`level` or `target=level`, comma
/// separated; tests pin it).
pub fn subscriber_at<W>(
    writer: W,
    directives: &str,
) -> impl tracing::Subscriber + Send + Sync + use<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // `Targets` (target=level directives, as RUST_LOG is used here) rather than EnvFilter:
    // the same syntax for that, without the regex engine EnvFilter links in (smaller zips).
    let filter: Targets = directives
        .parse()
        .unwrap_or_else(|_| DEFAULT_FILTER.parse().expect("the default filter parses"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(Emf(writer))
        .finish()
        .with(filter)
}

/// CloudWatch Embedded Metric Format in the request's own log line: a line whose `_aws`
/// field is a JSON document given as a string (all a tracing field can hold) is written
/// with that document as an object, which CloudWatch turns into metrics without an API
/// call. Every other line passes unchanged.
struct Emf<W>(W);

impl<'w, W: MakeWriter<'w>> MakeWriter<'w> for Emf<W> {
    type Writer = EmfLine<W::Writer>;

    fn make_writer(&'w self) -> Self::Writer {
        EmfLine {
            inner: self.0.make_writer(),
            line: Vec::new(),
        }
    }
}

/// One event's output, held until the event is written whole (the formatter makes one
/// writer per event).
pub struct EmfLine<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Write for EmfLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for EmfLine<W> {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.line);
        let out = match emf_inline(&line) {
            Some(rewritten) => rewritten,
            None => line,
        };
        let _ = self.inner.write_all(&out);
        let _ = self.inner.flush();
    }
}

/// The line with its `_aws` string replaced by the object it holds, if it has one. Only
/// that string is decoded and the object spliced in where it stood: the request's hot path
/// does not parse and write its whole line again, and the fields keep their order.
fn emf_inline(line: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"\"_aws\":";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let mut value = serde_json::Deserializer::from_slice(&line[at..]).into_iter::<String>();
    let object = value.next()?.ok()?;
    let end = at + value.byte_offset();
    // Spliced only if it is a JSON object: the line stays valid JSON whatever the field held.
    if !object.starts_with('{') || serde_json::from_str::<serde::de::IgnoredAny>(&object).is_err() {
        return None;
    }
    let mut out = Vec::with_capacity(line.len());
    out.extend_from_slice(&line[..at]);
    out.extend_from_slice(object.as_bytes());
    out.extend_from_slice(&line[end..]);
    Some(out)
}

/// Installs the JSON subscriber on stdout (Lambda sends stdout to CloudWatch Logs).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The one log line of a scheduled run (the reconcile run, the failure sweep): `fields`,
/// then its figures both as fields and, in CloudWatch's Embedded Metric Format, as metrics
/// (namespace `KomboWebhooks`, dimension `Function`), with no call to CloudWatch.
pub fn run_line(
    function: &str,
    message: &str,
    warn: bool,
    at: time::OffsetDateTime,
    metrics: &[(&str, u32)],
    fields: serde_json::Value,
) -> serde_json::Value {
    let mut line = serde_json::json!({
        "timestamp": crate::clock::rfc3339(at),
        "level": if warn { "WARN" } else { "INFO" },
        "message": message,
        "Function": function,
        "_aws": {
            "Timestamp": crate::clock::epoch_ms(at),
            "CloudWatchMetrics": [{
                "Namespace": "KomboWebhooks",
                "Dimensions": [["Function"]],
                "Metrics": metrics.iter().map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
    });
    if let serde_json::Value::Object(extra) = fields {
        for (k, v) in extra {
            line[k] = v;
        }
    }
    for (name, value) in metrics {
        line[*name] = (*value).into();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::emf_inline;

    #[test]
    fn the_emf_string_becomes_an_object_in_place_and_other_lines_pass() {
        let line =
            br#"{"timestamp":"t","_aws":"{\"Timestamp\":1,\"CloudWatchMetrics\":[]}","webhooks":1}
"#;
        let out = String::from_utf8(emf_inline(line).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"timestamp\":\"t\",\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[]},\"webhooks\":1}\n"
        );
        assert!(emf_inline(br#"{"message":"no metrics"}"#).is_none());
        assert!(emf_inline(br#"{"_aws":"not an object"}"#).is_none());
        assert!(emf_inline(br#"{"_aws":"{broken"}"#).is_none());
    }
}
