//! One deadline per invocation, shared by every call it makes and every retry of them.
//!
//! Lambda tells each invocation when it will be stopped (`Lambda-Runtime-Deadline-Ms`,
//! [`lambda_http::lambda_runtime::Context::deadline`]). The request enters with that
//! deadline less [`ANSWER_MARGIN`] (time to answer and log); every AWS and Kombo call runs
//! under it, so a hang at *any* step ends in the documented 503 before Lambda's timeout,
//! never in a killed invocation that API Gateway turns into its own 500 (and that the
//! Errors alarm pages on).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::error::Error;

/// Kept free before Lambda's deadline: answering and writing the log line.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// Kept free before [`ANSWER_MARGIN`] by a step that must be able to undo itself after
/// a timeout (releasing an alert claim so the retry can publish).
pub const UNDO_RESERVE: Duration = Duration::from_millis(700);

/// Lambda's longest function timeout.
const MAX_LAMBDA_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The template's function timeout, for callers without a Lambda context (tests) or with
/// an emulator that sends no usable deadline.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The instant by which an invocation's work must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

/// What a call that ran out of time reports as its cause.
#[derive(Debug, thiserror::Error)]
#[error("no answer before the invocation's deadline ({0} ms left when the call started)")]
pub struct DeadlineExceeded(u128);

impl Deadline {
    /// From Lambda's deadline (epoch milliseconds), less [`ANSWER_MARGIN`]. Lambda never
    /// hands out an invocation whose deadline has passed, so a deadline that is missing,
    /// already past or beyond Lambda's 15-minute maximum comes from a local emulator that
    /// does not set it (some send 0, or the moment of the invocation): then the template's
    /// [`FUNCTION_TIMEOUT`] from now.
    pub fn from_epoch_ms(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        if left.is_zero() || left > MAX_LAMBDA_TIMEOUT {
            return Self::after(FUNCTION_TIMEOUT);
        }
        Deadline(Instant::now() + left.saturating_sub(ANSWER_MARGIN))
    }

    /// `timeout` from now, less [`ANSWER_MARGIN`] (as if Lambda had said so).
    pub fn after(timeout: Duration) -> Self {
        Deadline(Instant::now() + timeout.saturating_sub(ANSWER_MARGIN))
    }

    /// A deadline `by` earlier (for a step that must leave time to undo itself).
    pub fn earlier(self, by: Duration) -> Self {
        Deadline(self.0.checked_sub(by).unwrap_or(self.0))
    }

    /// This deadline, or `most` from now if that comes first (one step of a longer run).
    pub fn at_most(self, most: Duration) -> Self {
        Deadline(self.0.min(Instant::now() + most))
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Runs a call to `service` under this deadline: past it, the call is dropped and
    /// the answer is [`Error::Dependency`] for `service`.
    pub async fn run<T>(
        self,
        service: &'static str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let left = self.remaining().as_millis();
        // Boxed: an SDK call's future is large, and nesting several of them inline (claim,
        // write, publish inside one effect) would make the handler's future outgrow a
        // worker thread's stack in debug builds.
        match tokio::time::timeout_at(self.0, Box::pin(call)).await {
            Ok(result) => result,
            Err(_) => Err(Error::dependency(service, DeadlineExceeded(left))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_past_the_deadline_becomes_a_dependency_error_in_time() {
        let d = Deadline::after(ANSWER_MARGIN + Duration::from_millis(50));
        let started = std::time::Instant::now();
        let r: Result<(), Error> = d
            .run("SNS", async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        let took = started.elapsed();
        assert!(matches!(r, Err(Error::Dependency { service: "SNS", .. })));
        assert!(
            took >= Duration::from_millis(45) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[test]
    fn lambda_deadline_less_the_margin() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = Deadline::from_epoch_ms(now_ms + 3_000).remaining();
        assert!(
            left <= Duration::from_millis(2_500) && left > Duration::from_millis(2_300),
            "{left:?}"
        );
        // No usable deadline (an emulator's 0, one already past, one past Lambda's
        // 15-minute maximum): the function timeout.
        for odd in [0, now_ms - 1, now_ms + 3_600_000] {
            let left = Deadline::from_epoch_ms(odd).remaining();
            assert!(
                left > Duration::from_millis(9_000) && left <= Duration::from_millis(9_500),
                "{odd}: {left:?}"
            );
        }
    }
}
