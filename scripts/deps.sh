#!/usr/bin/env bash
# Installs, only where missing, what the local run and the tests need. Idempotent, no
# prompts: PyPI packages go through the current Python's pip.
#   scripts/deps.sh test   moto server (DynamoDB/SNS/SQS on loopback), cfn-lint
#   scripts/deps.sh dev    the same, plus cargo-lambda (serves the functions locally)
#   scripts/deps.sh build  cargo-lambda, zig and the arm64 target (cross builds for Lambda)
set -euo pipefail

want=()
have_py() { python3 -c "import $1" >/dev/null 2>&1; }
need_moto() { command -v moto_server >/dev/null 2>&1 && have_py flask && have_py flask_cors || want+=("moto[server]"); }
need_lint() { command -v cfn-lint >/dev/null 2>&1 || want+=("cfn-lint"); have_py yaml || want+=("pyyaml"); have_py boto3 || want+=("boto3"); }
need_lambda() { command -v cargo-lambda >/dev/null 2>&1 || want+=("cargo-lambda"); }
need_zig() { have_py ziglang || want+=("ziglang"); }

case "${1:-test}" in
  test) need_moto; need_lint ;;
  dev) need_moto; need_lint; need_lambda ;;
  build) need_lambda; need_zig
    rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu ;;
  *) echo "usage: $0 test|dev|build" >&2; exit 2 ;;
esac

if [ ${#want[@]} -gt 0 ]; then
  echo "installing from PyPI: ${want[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${want[@]}"
  hash -r
  # pyenv installs console scripts behind shims that need a rehash.
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
