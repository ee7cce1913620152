//! JSON logs, one object per line, for CloudWatch Logs Insights.
//!
//! What is logged is chosen field by field in [`crate::webhook`]: event id, type,
//! integration id, outcome, status, latency. Bodies, `creator_email` and the secret
//! are never logged ([`crate::event::Sensitive`] and [`crate::signature::Secrets`]
//! print `[redacted]` even through `Debug`).

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
        .with_writer(writer)
        .finish()
        .with(filter)
}

/// Installs the JSON subscriber on stdout (Lambda sends stdout to CloudWatch Logs).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}
