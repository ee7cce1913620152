#!/usr/bin/env python3
"""A Lambda Runtime API server on loopback: runs a function binary (`bootstrap`) the way
Lambda does, without Docker, feeds it events and records its answers.

    runtime_api.py [--name FN] [--deadline-ms MS] [--hook N=CMD ...] [--start-at EPOCH_S]
                   BINARY EVENT.json [EVENT.json ...]

--hook N=CMD runs CMD (a shell command) once N events have been handed out, before the next
one is: for a change between two invocations of the same warm process (a rotated secret).
--start-at holds the first event until that wall-clock time (seconds since the epoch): several
runs started together then handle their events at the same moment (a concurrency test).

The binary is started with the Lambda environment (AWS_LAMBDA_RUNTIME_API pointing here,
plus whatever this process's environment holds: table names, AWS_ENDPOINT_URL, ...). Each
event is handed out on /invocation/next; when every event has been answered the binary is
stopped and one JSON object is printed:

    {"responses": [{"event": path, "response": {...} | "error": {...}, "answered_ms": ...,
                    "handed_out_at_ms": ..., "answered_at_ms": ... (epoch ms: comparable
                    across runs)}],
     "ready_ms": exec -> first /next, "first_answer_ms": exec -> first answer,
     "peak_rss_kb": the process's VmHWM just before it is stopped, "cpu_ms": its CPU time
     (all threads, Linux only), "init_error": ...}

This is what `sam local invoke` does inside Docker; the tests and the cold-start bench use it.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class State:
    def __init__(self, events, deadline_ms, hooks=None, start_at=None):
        self.events = events
        self.start_at = start_at
        self.handed_out_at = {}
        self.hooks = hooks or {}
        self.deadline_ms = deadline_ms
        self.handed_out = {}
        self.next_index = 0
        self.pending = {}
        self.responses = [None] * len(events)
        self.answered = 0
        self.ready_at = None
        self.first_answer_at = None
        self.init_error = None
        self.done = threading.Event()
        self.lock = threading.Lock()


def handler_for(state, function_arn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body=b"", headers=None):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self.reply(404)
            with state.lock:
                if state.ready_at is None:
                    state.ready_at = time.monotonic()
                index = state.next_index
                state.next_index += 1
            if index >= len(state.events):
                state.done.wait()
                time.sleep(3600)
                return
            if index == 0 and state.start_at is not None:
                time.sleep(max(0.0, state.start_at - time.time()))
            if index in state.hooks:
                # The previous answer is in (the runtime asks for the next event only then).
                subprocess.run(state.hooks[index], shell=True, check=True, stdout=sys.stderr)
            path, payload = state.events[index]
            request_id = str(uuid.uuid4())
            with state.lock:
                state.pending[request_id] = index
                state.handed_out[index] = time.monotonic()
                state.handed_out_at[index] = time.time()
            self.reply(
                200,
                payload,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + state.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": function_arn,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                },
            )

        def do_POST(self):
            body = self.read_body()
            if self.path == f"{PREFIX}/init/error":
                state.init_error = body.decode(errors="replace")
                self.reply(202)
                state.done.set()
                return
            parts = self.path[len(PREFIX):].strip("/").split("/")
            if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                return self.reply(404)
            with state.lock:
                index = state.pending.pop(parts[1], None)
                if index is None:
                    return self.reply(400)
                if state.first_answer_at is None:
                    state.first_answer_at = time.monotonic()
                try:
                    value = json.loads(body)
                except ValueError:
                    value = body.decode(errors="replace")
                state.responses[index] = {
                    "event": state.events[index][0],
                    parts[2]: value,
                    "answered_ms": round((time.monotonic() - state.handed_out[index]) * 1000, 3),
                    "handed_out_at_ms": round(state.handed_out_at[index] * 1000, 3),
                    "answered_at_ms": round(time.time() * 1000, 3),
                }
                state.answered += 1
                if state.answered == len(state.events):
                    state.done.set()
            self.reply(202)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="function")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the whole run may take (default: 60, and a second per event past 60 "
                        "events, so a long run on a loaded machine is not cut short)")
    p.add_argument("--deadline-ms", type=int, default=10_000,
                   help="the invocation deadline handed to the function (Lambda-Runtime-Deadline-Ms), from now")
    p.add_argument("--hook", action="append", default=[], metavar="N=CMD",
                   help="run CMD once N events have been handed out, before the next")
    p.add_argument("--start-at", type=float, default=None, metavar="EPOCH_S",
                   help="hold the first event until this wall-clock time")
    p.add_argument("binary")
    p.add_argument("events", nargs="+")
    a = p.parse_args()
    hooks = {int(h.split("=", 1)[0]): h.split("=", 1)[1] for h in a.hook}

    events = []
    for path in a.events:
        with open(path, "rb") as f:
            events.append((path, f.read()))
    state = State(events, a.deadline_ms, hooks, a.start_at)
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{a.name}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state, arn))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": a.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{a.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
            "AWS_DEFAULT_REGION": env.get("AWS_REGION", "us-east-1"),
        }
    )
    started = time.monotonic()
    child = subprocess.Popen([a.binary], env=env, stdout=sys.stderr, stderr=sys.stderr)
    # A binary that exits (a start-up error, a crash) ends the run at once.
    threading.Thread(target=lambda: (child.wait(), state.done.set()), daemon=True).start()
    finished = state.done.wait(a.timeout or max(60.0, float(len(events))))
    exited = child.poll()
    peak_rss_kb = None
    try:
        with open(f"/proc/{child.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak_rss_kb = int(line.split()[1])
    except OSError:
        pass
    # CPU time of all its threads so far (Linux schedstat, nanoseconds): once every event is
    # answered the process only waits on /next, so this is the CPU to its last answer.
    cpu_ms = None
    try:
        total = 0
        for task in os.listdir(f"/proc/{child.pid}/task"):
            with open(f"/proc/{child.pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        cpu_ms = round(total / 1e6, 3)
    except OSError:
        pass
    # SIGTERM first, so a wrapper such as valgrind can report before it goes.
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()

    def ms(t):
        return None if t is None else round((t - started) * 1000, 3)

    result = {
        "responses": state.responses,
        "ready_ms": ms(state.ready_at),
        "first_answer_ms": ms(state.first_answer_at),
        "init_error": state.init_error,
        "peak_rss_kb": peak_rss_kb,
        "cpu_ms": cpu_ms,
        "exited_early": exited,
        "timed_out": not finished,
    }
    json.dump(result, sys.stdout)
    print()
    sys.exit(0 if finished and state.init_error is None else 1)


if __name__ == "__main__":
    main()
