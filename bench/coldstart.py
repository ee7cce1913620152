#!/usr/bin/env python3
"""Cold start, side by side, in one run: release Rust binaries (one or several builds, e.g.
before and after a change) and the Python peer (bench/python-peer, boto3 + awslambdaric)
under the same Lambda Runtime API server (scripts/runtime_api.py) against the same moto.

Two function kinds:
- webhook: `integration-created` handling a fresh signed event (a new row: the "stored"
  path, one conditional write); the Python peer does the same work;
- backend: `customer-integrations` answering GET /customers/{id}/integrations (one Query).

Per binary: RUNS cold starts measuring exec -> ready (first /next) and exec -> first answer
(wall time), CPU time to the first answer (all threads, from /proc schedstat) and peak RSS
(VmHWM); then one run under valgrind's callgrind counting every instruction the process
executes to its first answer (repeatable, unlike wall time).

    bench/coldstart.py [--runs N] [--webhook LABEL=PATH ...] [--backend LABEL=PATH ...] [--secrets-manager]

--secrets-manager adds the first webhook build once more, deployed as the template's
recommended mode: its secret read from Secrets Manager (moto) during init instead of an
environment variable.
    (make bench-coldstart: the release builds of this checkout)

Prints a Markdown table and writes bench/coldstart.json.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from events import BACKEND, CREATED, LOCAL_SECRET, api_gateway_event, backend_event, sign  # noqa: E402

PEER = os.path.join(HERE, "python-peer", "bootstrap")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook_event(directory):
    """A signed integration-created event for an integration never seen before."""
    payload = json.loads(json.dumps(CREATED))
    payload["id"] = uuid.uuid4().hex
    payload["data"]["id"] = f"workday:{uuid.uuid4().hex}"
    body = json.dumps(payload, separators=(",", ":"))
    path = os.path.join(directory, f"{payload['id']}.json")
    with open(path, "w") as f:
        json.dump(api_gateway_event("integration-created", body, sign(LOCAL_SECRET, body)), f)
    return path


def backend_request(directory):
    path = os.path.join(directory, f"lookup-{uuid.uuid4().hex}.json")
    with open(path, "w") as f:
        json.dump(backend_event(*BACKEND["customer-integrations.json"]), f)
    return path


KINDS = {
    # kind: (function name, event maker, what a right answer holds)
    "webhook": ("integration-created", webhook_event, lambda body: body.get("outcome") == "stored"),
    "backend": ("customer-integrations", backend_request, lambda body: "integrations" in body),
}


def run(kind, binary, env, directory, timeout=600):
    function, make_event, right = KINDS[kind]
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "runtime_api.py"), "--name", function,
         "--timeout", str(timeout), binary, make_event(directory)],
        env=env[function], capture_output=True, text=True,
    )
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"{binary}: no result\n{out.stdout}\n{out.stderr}")
    response = (result["responses"] or [None])[0] or {}
    body = json.loads(response.get("response", {}).get("body", "{}"))
    if not right(body):
        raise SystemExit(f"{binary}: unexpected answer {response}\n{out.stderr[-3000:]}")
    return result, out.stderr


def callgrind_instructions(kind, binary, env, directory):
    wrapper = os.path.join(directory, f"callgrind-{uuid.uuid4().hex}.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=/dev/null --trace-children=yes {binary}\n")
    os.chmod(wrapper, 0o755)
    _, stderr = run(kind, wrapper, env, directory)
    counts = [int(n.replace(",", "")) for n in re.findall(r"Collected : ([\d,]+)", stderr)]
    if not counts:
        raise SystemExit(f"callgrind printed no count for {binary}:\n{stderr[-2000:]}")
    return sum(counts)


def labelled(values, default):
    out = []
    for v in values or [default]:
        label, _, path = v.partition("=")
        out.append((label, path) if path else (os.path.basename(label), label))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--webhook", action="append", help="LABEL=PATH of an integration-created build (repeatable)")
    p.add_argument("--backend", action="append", help="LABEL=PATH of a customer-integrations build (repeatable)")
    p.add_argument("--no-callgrind", action="store_true")
    p.add_argument("--secrets-manager", action="store_true",
                   help="also the first webhook build with its secret from Secrets Manager")
    a = p.parse_args()
    release = os.path.join(ROOT, "target", "release")
    impls = [("webhook", label, path, "plain") for label, path in labelled(a.webhook, f"Rust={release}/integration-created")]
    if a.secrets_manager:
        impls.append(("webhook", impls[0][1] + ", secret from Secrets Manager", impls[0][2], "sm"))
    impls.append(("webhook", "Python 3.11 peer", PEER, "plain"))
    impls += [("backend", label, path, "plain") for label, path in labelled(a.backend, f"Rust={release}/customer-integrations")]

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        envs = {}
        for mode, extra in (("plain", []), ("sm", ["--secrets-manager"])):
            created = subprocess.run(
                [sys.executable, os.path.join(ROOT, "scripts", "local_aws.py"), "create", "--endpoint", endpoint,
                 "--prefix", f"bench{mode}", *extra],
                capture_output=True, text=True, check=True,
                env=dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"),
            )
            functions = json.loads(created.stdout)["functions"]
            env = {}
            for kind, (function, _, _) in KINDS.items():
                e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
                e.update({k: v for k, v in functions[function].items() if not k.startswith("_")})
                e.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
                # The interpreter itself (the virtual environment's, which has boto3 and
                # awslambdaric), not a launcher shim (pyenv's would add its own start-up).
                e["PEER_PYTHON"] = sys.executable
                env[function] = e
            envs[mode] = env
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            for kind, label, binary, mode in impls:
                env = envs[mode]
                samples = [run(kind, binary, env, tmp)[0] for _ in range(a.runs)]
                r = {
                    "kind": kind,
                    "label": label,
                    "binary": os.path.relpath(binary, ROOT),
                    "ready_ms": statistics.median(s["ready_ms"] for s in samples),
                    "first_answer_ms": statistics.median(s["first_answer_ms"] for s in samples),
                    "cpu_ms": statistics.median(s["cpu_ms"] for s in samples),
                    "peak_rss_mb": max(s["peak_rss_kb"] for s in samples) / 1024,
                    "runs": a.runs,
                }
                if not a.no_callgrind:
                    r["instructions"] = callgrind_instructions(kind, binary, env, tmp)
                results.append(r)
    finally:
        moto.terminate()
        moto.wait()

    print(f"| cold start, {a.runs} runs each (median) | " + " | ".join(f"{r['kind']}: {r['label']}" for r in results) + " |")
    print("|---" * (len(results) + 1) + "|")
    rows = [("exec -> ready", "ready_ms", "{:.1f} ms"), ("exec -> first answer", "first_answer_ms", "{:.1f} ms"),
            ("CPU to first answer", "cpu_ms", "{:.1f} ms"), ("peak RSS", "peak_rss_mb", "{:.1f} MB")]
    if not a.no_callgrind:
        rows.append(("instructions to first answer (callgrind)", "instructions", "{:,}"))
    for title, key, fmt in rows:
        print(f"| {title} | " + " | ".join(fmt.format(r[key]) for r in results) + " |")
    with open(os.path.join(HERE, "coldstart.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
