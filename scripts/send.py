#!/usr/bin/env python3
"""Sends a signed webhook to the local run (`make dev`) and shows what it changed.

    send.py [--api] EVENT_OR_BODY.json [BASE_URL]

EVENT_OR_BODY is an API Gateway event from events/ (its body and x-kombo-signature are sent
as they are, so the forged sample stays forged) or a plain Kombo JSON body, which is signed
with the fake local secret. BASE_URL defaults to http://127.0.0.1:$LOCAL_FN_PORT (9000).
With --api, BASE_URL is an API Gateway HTTP API (`sam local start-api`, or a deployed
stack's WebhookApiUrl without the trailing /): the request goes to the event's own path
(`/webhooks/kombo/<type>` for a plain body). After the answer it prints the mapping rows and the alerts received since the last look.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from events import LOCAL_SECRET, sign  # noqa: E402


def main():
    args = sys.argv[1:]
    api = "--api" in args
    args = [a for a in args if a != "--api"]
    if not args:
        raise SystemExit(__doc__)
    base = args[1] if len(args) > 1 else f"http://127.0.0.1:{os.environ.get('LOCAL_FN_PORT', '9000')}"
    base = base.rstrip("/")
    with open(args[0]) as f:
        doc = json.load(f)
    state_path = os.environ.get("LOCAL_STATE", os.path.join(HERE, "..", ".local", "state.json"))
    routes = {}
    if os.path.exists(state_path):
        with open(state_path) as f:
            routes = {v["_route"]: fn for fn, v in json.load(f)["functions"].items()}
    headers = {"content-type": "application/json"}
    if "requestContext" in doc:
        body = doc.get("body")
        method = doc["requestContext"]["http"]["method"]
        function = routes.get(doc["routeKey"], doc["rawPath"].rstrip("/").rsplit("/", 1)[-1])
        path = doc["rawPath"] if "x-kombo-signature" not in doc["headers"] else "/"
        if "x-kombo-signature" in doc["headers"]:
            headers["x-kombo-signature"] = doc["headers"]["x-kombo-signature"]
    else:
        body = json.dumps(doc, separators=(",", ":"))
        headers["x-kombo-signature"] = sign(LOCAL_SECRET, body)
        method, function, path = "POST", doc["type"], "/"
    if api:
        url = base + (doc["rawPath"] if "requestContext" in doc else f"/webhooks/kombo/{doc['type']}")
    else:
        url = f"{base}/lambda-url/{function}{path}"
    req = urllib.request.Request(url, data=None if body is None else body.encode(), method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            status, answer = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode()
    print(f"{method} {url} -> {status} {answer}")

    if os.path.exists(state_path):
        with open(state_path) as f:
            endpoints = json.load(f).get("endpoints", {})
        endpoint = endpoints.get("aws", f"http://127.0.0.1:{os.environ.get('LOCAL_AWS_PORT', '4566')}")
        show = [sys.executable, os.path.join(HERE, "local_aws.py"), "show", "--endpoint", endpoint, "--state", state_path]
        if "dynamodb" in endpoints:
            show += ["--dynamodb-endpoint", endpoints["dynamodb"]]
        subprocess.run(show, check=False)


if __name__ == "__main__":
    main()
