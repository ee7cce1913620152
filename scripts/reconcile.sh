#!/bin/sh
# The reconcile run by hand (see docs/reliability.md): asks Kombo about every integration
# in the mappings table and repairs what no webhook told; --dry-run only prints what it
# would change. Builds and runs the reconcile-table binary (shared/src/bin/reconcile_table.rs)
# with the standard AWS configuration (AWS_PROFILE, AWS_REGION) and the function's
# variables: TABLE_NAME, IDEMPOTENCY_TABLE_NAME, ALERT_TOPIC_ARN, KOMBO_API_KEY.
#   scripts/reconcile.sh [--dry-run]
set -eu
exec cargo run --quiet --manifest-path "$(dirname "$0")/../Cargo.toml" -p shared \
  --bin reconcile-table -- "$@"
