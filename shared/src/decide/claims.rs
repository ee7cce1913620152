//! A claim record of the records table, as plain values: the pattern of AWS Powertools'
//! idempotency utility (a conditional put in progress, with an expiry → the effect → marked
//! completed; released on failure), and how a refused claim reads.

/// `status` of a claim that an invocation holds.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
/// `status` of a claim whose effect happened.
pub const COMPLETED: &str = "COMPLETED";

/// The state of a claim on an event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation holds the claim and must complete or release it.
    Acquired,
    /// The effect happened already (a duplicate delivery).
    Completed,
    /// Another invocation holds an unexpired claim.
    InProgress,
}

impl Claim {
    /// A refused claim, from the claim that stands (`status`, `token`): this invocation's
    /// own (`mine`: the SDK retried a put that DynamoDB had applied), one completed, or
    /// another's in progress.
    pub fn refused(status: Option<&str>, token: Option<&str>, mine: &str) -> Claim {
        match status {
            Some(IN_PROGRESS) if token == Some(mine) => Claim::Acquired,
            Some(COMPLETED) => Claim::Completed,
            _ => Claim::InProgress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_claim_is_ours_done_or_anothers() {
        assert_eq!(
            Claim::refused(Some(IN_PROGRESS), Some("t1"), "t1"),
            Claim::Acquired,
            "the SDK's retry of our own put"
        );
        assert_eq!(
            Claim::refused(Some(IN_PROGRESS), Some("t2"), "t1"),
            Claim::InProgress
        );
        assert_eq!(
            Claim::refused(Some(COMPLETED), Some("t1"), "t1"),
            Claim::Completed
        );
        assert_eq!(Claim::refused(None, None, "t1"), Claim::InProgress);
    }
}
