#!/usr/bin/env bash
# `make dev`: every function running locally against a local DynamoDB/SNS server.
#  1. starts moto on 127.0.0.1:$LOCAL_AWS_PORT (default 4566);
#  2. creates the resources template.yaml declares (scripts/local_aws.py), plus a queue
#     subscribed to the alert topic so alerts can be seen;
#  3. starts a fake Kombo API (scripts/fake_kombo.py) on 127.0.0.1:$LOCAL_KOMBO_PORT
#     (default 4567) for the backend routes;
#  4. serves every function with `cargo lambda watch` on 127.0.0.1:$LOCAL_FN_PORT (default
#     9000) with the template's environment and the fake local secret.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

AWS_PORT=${LOCAL_AWS_PORT:-4566}
FN_PORT=${LOCAL_FN_PORT:-9000}
KOMBO_PORT=${LOCAL_KOMBO_PORT:-4567}
ENDPOINT="http://127.0.0.1:${AWS_PORT}"
mkdir -p .local
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo; echo "stopping local stack"
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$AWS_PORT" "$FN_PORT" "$KOMBO_PORT"; do
  if port_busy "$p"; then echo "port $p is in use (another make dev?); set LOCAL_AWS_PORT / LOCAL_FN_PORT / LOCAL_KOMBO_PORT" >&2; exit 1; fi
done

# Each child in its own process group, so stopping it stops what it started.
setsid moto_server -H 127.0.0.1 -p "$AWS_PORT" >.local/moto.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do port_busy "$AWS_PORT" && break; sleep 0.1; done
port_busy "$AWS_PORT" || { echo "moto did not start; see .local/moto.log" >&2; exit 1; }

setsid python3 scripts/fake_kombo.py --port "$KOMBO_PORT" >.local/fake_kombo.log 2>&1 &
pids+=($!)

python3 scripts/local_aws.py create --endpoint "$ENDPOINT" --prefix local \
  --kombo-url "http://127.0.0.1:${KOMBO_PORT}/v1" >.local/state.json
# The union of the functions' template environments (each reads only what it needs).
python3 - "$ENDPOINT" >.local/functions.env <<'PY'
import json, sys
state = json.load(open(".local/state.json"))
env = {}
for fn in state["functions"].values():
    env.update({k: v for k, v in fn.items() if not k.startswith("_")})
env.update({"AWS_ENDPOINT_URL": sys.argv[1], "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
print("\n".join(f"{k}={v}" for k, v in sorted(env.items())))
PY

setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$FN_PORT" --env-file .local/functions.env &
pids+=($!)

cat <<MSG

Local stack is up (resources from template.yaml on ${ENDPOINT}).
Function URLs (the first request to each compiles it; give it a moment):
$(python3 -c "import json; s=json.load(open('.local/state.json')); [print(f'  http://127.0.0.1:${FN_PORT}/lambda-url/{fn}/   deployed as {v[\"_route\"]}') for fn, v in s['functions'].items()]")
A fake Kombo API answers the backend functions on http://127.0.0.1:${KOMBO_PORT}/v1.

Send a signed sample (in another terminal), then see the rows and alerts it produced:
  make send EVENT=events/integration-created.json
  make send EVENT=events/connection-flow-failed.json
  make send EVENT=events/connection-flow-failed-forged.json     # answered 401
  make send EVENT=events/customer-integrations.json              # backend API: the customer's rows
  scripts/send.py my-body.json                                   # any JSON body, signed with the local secret
Ctrl-C stops everything.

MSG
wait
