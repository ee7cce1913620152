//! JSON logs, one object per line, for CloudWatch Logs Insights.
//!
//! What is logged is chosen field by field in [`crate::webhook`]: event id, type,
//! integration id, outcome, status, latency. Bodies, `creator_email` and the secret
//! are never logged ([`crate::event::Sensitive`] and [`crate::signature::Secrets`]
//! print `[redacted]` even through `Debug`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Level from `RUST_LOG` (default `info`; the SDK's own chatter at `warn`).
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"))
}

/// The subscriber the functions use, writing to `writer`.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter())
        .with_writer(writer)
        .finish()
}

/// Installs the JSON subscriber on stdout (Lambda sends stdout to CloudWatch Logs).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}
