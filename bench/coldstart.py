#!/usr/bin/env python3
"""Cold start, side by side: the release Rust `integration-created` binary and the Python peer
(bench/python-peer, boto3 + awslambdaric) under the same Lambda Runtime API server
(scripts/runtime_api.py) against the same moto, each handling a fresh signed
integration-created event (a new row: the "stored" path, one conditional PutItem).

Per implementation: RUNS cold starts measuring exec -> ready (first /next) and exec -> first
answer (wall time), and peak RSS (VmHWM); then one run under valgrind's callgrind counting every
instruction the process executes to its first answer (repeatable, unlike wall time).

    bench/coldstart.py [--runs N] [--rust target/release/integration-created]   (make bench-coldstart)

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
from events import CREATED, LOCAL_SECRET, api_gateway_event, sign  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_event(directory):
    """A signed integration-created event for an integration never seen before."""
    payload = json.loads(json.dumps(CREATED))
    payload["id"] = uuid.uuid4().hex
    payload["data"]["id"] = f"workday:{uuid.uuid4().hex}"
    body = json.dumps(payload, separators=(",", ":"))
    path = os.path.join(directory, f"{payload['id']}.json")
    with open(path, "w") as f:
        json.dump(api_gateway_event("integration-created", body, sign(LOCAL_SECRET, body)), f)
    return path


def run(binary, env, event, timeout=600):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "runtime_api.py"), "--name", "integration-created",
         "--timeout", str(timeout), binary, event],
        env=env, capture_output=True, text=True,
    )
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"{binary}: no result\n{out.stdout}\n{out.stderr}")
    response = (result["responses"] or [None])[0] or {}
    body = json.loads(response.get("response", {}).get("body", "{}"))
    if body.get("outcome") != "stored":
        raise SystemExit(f"{binary}: unexpected answer {response}\n{out.stderr[-3000:]}")
    return result, out.stderr


def callgrind_instructions(binary, env, directory):
    wrapper = os.path.join(directory, f"callgrind-{uuid.uuid4().hex}.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=/dev/null --trace-children=yes {binary}\n")
    os.chmod(wrapper, 0o755)
    _, stderr = run(wrapper, env, fresh_event(directory))
    counts = [int(n.replace(",", "")) for n in re.findall(r"Collected : ([\d,]+)", stderr)]
    if not counts:
        raise SystemExit(f"callgrind printed no count for {binary}:\n{stderr[-2000:]}")
    return sum(counts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rust", default=os.path.join(ROOT, "target", "release", "integration-created"))
    p.add_argument("--no-callgrind", action="store_true")
    a = p.parse_args()

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
        created = subprocess.run(
            [sys.executable, os.path.join(ROOT, "scripts", "local_aws.py"), "create", "--endpoint", endpoint, "--prefix", "bench"],
            capture_output=True, text=True, check=True,
        )
        fn_env = json.loads(created.stdout)["functions"]["integration-created"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({k: v for k, v in fn_env.items() if not k.startswith("_")})
        env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
        # The interpreter itself, not a launcher shim (pyenv's would add its own start-up).
        env["PEER_PYTHON"] = os.path.realpath(sys.executable)

        impls = [("Rust (release)", a.rust), ("Python 3.11 peer (boto3, awslambdaric)", os.path.join(HERE, "python-peer", "bootstrap"))]
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, binary in impls:
                samples = [run(binary, env, fresh_event(tmp))[0] for _ in range(a.runs)]
                r = {
                    "ready_ms": statistics.median(s["ready_ms"] for s in samples),
                    "first_answer_ms": statistics.median(s["first_answer_ms"] for s in samples),
                    "first_answer_ms_min": min(s["first_answer_ms"] for s in samples),
                    "first_answer_ms_max": max(s["first_answer_ms"] for s in samples),
                    "peak_rss_mb": max(s["peak_rss_kb"] for s in samples) / 1024,
                    "runs": a.runs,
                }
                if not a.no_callgrind:
                    r["instructions"] = callgrind_instructions(binary, env, tmp)
                results[name] = r
    finally:
        moto.terminate()
        moto.wait()

    rust, py = results[impls[0][0]], results[impls[1][0]]
    print(f"| cold start, {a.runs} runs each (median) | {impls[0][0]} | {impls[1][0]} | ratio |")
    print("|---|---|---|---|")
    print(f"| exec -> ready for the first event | {rust['ready_ms']:.1f} ms | {py['ready_ms']:.1f} ms | {py['ready_ms'] / rust['ready_ms']:.1f}x |")
    print(f"| exec -> first answer (incl. one PutItem to moto) | {rust['first_answer_ms']:.1f} ms | {py['first_answer_ms']:.1f} ms | {py['first_answer_ms'] / rust['first_answer_ms']:.1f}x |")
    print(f"| peak RSS | {rust['peak_rss_mb']:.1f} MB | {py['peak_rss_mb']:.1f} MB | {py['peak_rss_mb'] / rust['peak_rss_mb']:.1f}x |")
    if "instructions" in rust:
        print(f"| instructions to first answer (callgrind) | {rust['instructions']:,} | {py['instructions']:,} | {py['instructions'] / rust['instructions']:.1f}x |")
    with open(os.path.join(HERE, "coldstart.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
