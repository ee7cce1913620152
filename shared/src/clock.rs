//! Time as the product reads and writes it: the clock every front door and run reads (a
//! plain function, so a test can move time), and the two ways a moment is stored (RFC 3339
//! text on rows and in alerts, epoch milliseconds in conditions and metrics).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The clock: the system's in production; a test may hand in another.
pub type Clock = fn() -> OffsetDateTime;

/// The system clock.
pub fn system() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("any OffsetDateTime formats as RFC 3339")
}

/// Epoch milliseconds: how the tables and the metrics store a moment.
pub fn epoch_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_moment_as_text_and_as_milliseconds() {
        let t = datetime!(2026-11-25 12:00:00.250 UTC);
        assert_eq!(rfc3339(t), "2026-11-25T12:00:00.25Z");
        assert_eq!(epoch_ms(t), 1_795_608_000_250);
    }
}
