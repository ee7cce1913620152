#!/bin/sh
# Links existing Kombo integrations to customers in bulk, from a CSV of
# origin_id,integration_id[,tool,category] (see docs/operations.md):
#   scripts/import-mappings.sh --table TABLE [--force] FILE.csv
# Builds and runs the import-mappings binary (shared/src/bin/import_mappings.rs), which
# writes through the same conditional store code as PUT /integrations/{id}/customer, with
# the standard AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for local runs).
set -eu
exec cargo run --quiet --manifest-path "$(dirname "$0")/../Cargo.toml" -p shared \
  --bin import-mappings -- "$@"
