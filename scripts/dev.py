#!/usr/bin/env python3
"""`make dev`: every function running locally against a local DynamoDB/SNS server.

 1. starts Amazon DynamoDB Local on $LOCAL_DYNAMODB_PORT (default 8000) for DynamoDB and moto
    on $LOCAL_BIND:$LOCAL_AWS_PORT (default 127.0.0.1:4566) for SNS/SQS;
 2. creates the resources template.yaml declares (scripts/local_aws.py), plus a queue
    subscribed to the alert topic so alerts can be seen;
 3. starts a fake Kombo API (scripts/fake_kombo.py) on $LOCAL_BIND:$LOCAL_KOMBO_PORT
    (default 4567) for the backend routes, with its Connect sandbox sending signed webhooks
    to the local functions;
 4. serves every function with `cargo lambda watch` on 127.0.0.1:$LOCAL_FN_PORT (default
    9000) with the template's environment and the fake local secret;
 5. serves the Connect reference page (examples/connect/) with a stand-in for your backend
    (scripts/connect_backend.py) on 127.0.0.1:$LOCAL_PAGE_PORT (default 8088).

LOCAL_BIND=0.0.0.0 makes moto and the fake Kombo reachable from containers (sam local).
Ctrl-C (or the end of any of the three) stops everything it started. Written in Python
rather than shell so that it behaves the same on Linux and macOS (no setsid there): each
child runs in its own session, and stopping it stops the whole process group.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Logs and state.json (what send.py and the tests read); LOCAL_DIR moves them (a test's run).
LOCAL = os.path.abspath(os.environ.get("LOCAL_DIR") or os.path.join(ROOT, ".local"))


def port_busy(host, port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Stack:
    def __init__(self):
        self.children = []

    def start(self, name, argv, **kw):
        log = kw.pop("log", None)
        out = open(os.path.join(LOCAL, log), "w") if log else None
        p = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if out else None,
                             start_new_session=True, **kw)
        self.children.append((name, p))
        return p

    def stop(self):
        print("\nstopping local stack", flush=True)
        for _, p in self.children:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        for _, p in self.children:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Return only once every process of every group is gone (and its ports with it): a
        # SIGKILL is delivered at once but reaped a moment later.
        deadline = time.monotonic() + 10
        for _, p in self.children:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            while time.monotonic() < deadline:
                try:
                    os.killpg(p.pid, 0)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.05)


def main():
    bind = os.environ.get("LOCAL_BIND", "127.0.0.1")
    aws_port = int(os.environ.get("LOCAL_AWS_PORT", "4566"))
    fn_port = int(os.environ.get("LOCAL_FN_PORT", "9000"))
    kombo_port = int(os.environ.get("LOCAL_KOMBO_PORT", "4567"))
    ddb_port = int(os.environ.get("LOCAL_DYNAMODB_PORT", "8000"))
    page_port = int(os.environ.get("LOCAL_PAGE_PORT", "8088"))
    endpoint = f"http://127.0.0.1:{aws_port}"
    ddb_endpoint = f"http://127.0.0.1:{ddb_port}"
    os.makedirs(LOCAL, exist_ok=True)
    for p in (aws_port, fn_port, kombo_port, ddb_port, page_port):
        if port_busy("127.0.0.1", p):
            sys.exit(f"port {p} is in use (another make dev?); set LOCAL_AWS_PORT / LOCAL_FN_PORT / "
                     "LOCAL_KOMBO_PORT / LOCAL_DYNAMODB_PORT / LOCAL_PAGE_PORT")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")

    stack = Stack()
    # Ctrl-C and a plain kill both stop everything (set explicitly: a shell that starts
    # this in the background makes it ignore SIGINT).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start("moto", ["moto_server", "-H", bind, "-p", str(aws_port)], env=env, log="moto.log")
        deadline = time.monotonic() + 30
        while not port_busy("127.0.0.1", aws_port):
            if time.monotonic() > deadline:
                sys.exit("moto did not start; see .local/moto.log")
            time.sleep(0.1)
        ddb = stack.start("DynamoDB Local", [sys.executable, "scripts/dynamodb_local.py", "--port", str(ddb_port)],
                          log="dynamodb_local.log")
        deadline = time.monotonic() + 60
        while not port_busy("127.0.0.1", ddb_port):
            if ddb.poll() is not None or time.monotonic() > deadline:
                sys.exit("DynamoDB Local did not start; see .local/dynamodb_local.log")
            time.sleep(0.1)
        functions = f"http://127.0.0.1:{fn_port}/lambda-url"
        stack.start("fake Kombo", [sys.executable, "scripts/fake_kombo.py", "--host", bind, "--port", str(kombo_port),
                                   "--webhook-base", functions], log="fake_kombo.log")
        stack.start("Connect page", [sys.executable, "scripts/connect_backend.py", "--port", str(page_port),
                                     "--functions", functions,
                                     "--connect-origin", f"http://127.0.0.1:{kombo_port}"],
                    log="connect_backend.log")
        with open(os.path.join(LOCAL, "state.json"), "w") as out:
            subprocess.run([sys.executable, "scripts/local_aws.py", "create", "--endpoint", endpoint,
                            "--dynamodb-endpoint", ddb_endpoint, "--prefix", "local",
                            "--kombo-url", f"http://127.0.0.1:{kombo_port}/v1"], cwd=ROOT, env=env, stdout=out, check=True)
        with open(os.path.join(LOCAL, "state.json")) as f:
            state = json.load(f)
        state["endpoints"] = {"aws": endpoint, "dynamodb": ddb_endpoint}
        with open(os.path.join(LOCAL, "state.json"), "w") as f:
            json.dump(state, f, indent=2)
        # The union of the functions' template environments (each reads only what it needs).
        fn_env = {}
        for fn in state["functions"].values():
            fn_env.update({k: v for k, v in fn.items() if not k.startswith("_")})
        fn_env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_SNS": endpoint,
                       "AWS_ENDPOINT_URL_DYNAMODB": ddb_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
        env_file = os.path.join(LOCAL, "functions.env")
        with open(env_file, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in sorted(fn_env.items())))
        watch = stack.start("cargo lambda watch", ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1",
                                                   "--invoke-port", str(fn_port), "--env-file", env_file], env=env)
        deadline = time.monotonic() + 120
        while not port_busy("127.0.0.1", fn_port):
            if watch.poll() is not None or time.monotonic() > deadline:
                sys.exit("cargo lambda watch did not start (is cargo-lambda installed? scripts/deps.sh dev)")
            time.sleep(0.2)
        urls = "\n".join(f"  http://127.0.0.1:{fn_port}/lambda-url/{fn}/   deployed as {v['_route']}"
                         for fn, v in state["functions"].items())
        print(f"""
Local stack is up: tables from template.yaml on DynamoDB Local ({ddb_endpoint}), the topic on
moto ({endpoint}).
Function URLs (the first request to each compiles it; give it a moment):
{urls}
A fake Kombo API answers the backend functions on http://127.0.0.1:{kombo_port}/v1.

The embedded Connect flow in a browser (Kombo's own @kombo-api/connect, the fake Kombo's
Connect sandbox standing in for Kombo Connect, your backend stood in for):
  http://127.0.0.1:{page_port}/?customer=42
What Kombo does to a connected integration later (a login failing and its resolution, the
signed issue-status-changed; INVALID, the signed integration-state-changed):
  http://127.0.0.1:{kombo_port}/__dashboard

Send a signed sample (in another terminal), then see the rows and alerts it produced:
  make send EVENT=events/integration-created.json
  make send EVENT=events/connection-flow-failed.json
  make send EVENT=events/connection-flow-failed-forged.json     # answered 401
  make send EVENT=events/issue-status-changed.json               # Kombo's warning: a login failing
  make send EVENT=events/customer-integrations.json              # backend API: the customer's rows
  make send EVENT=my-body.json                                   # any JSON body, signed with the local secret
Ctrl-C stops everything.
""", flush=True)
        while True:
            for name, p in stack.children:
                if p.poll() is not None:
                    sys.exit(f"{name} exited with status {p.returncode}; stopping")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
