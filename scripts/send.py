#!/usr/bin/env python3
"""Sends a signed webhook to the local run (`make dev`) and shows what it changed.

    send.py EVENT_OR_BODY.json [BASE_URL]

EVENT_OR_BODY is an API Gateway event from events/ (its body and x-kombo-signature are sent
as they are, so the forged sample stays forged) or a plain Kombo JSON body, which is signed
with the fake local secret. BASE_URL defaults to http://127.0.0.1:$LOCAL_FN_PORT (9000).
After the answer it prints the mapping rows and the alerts received since the last look.
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
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    base = sys.argv[2] if len(sys.argv) > 2 else f"http://127.0.0.1:{os.environ.get('LOCAL_FN_PORT', '9000')}"
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    if "requestContext" in doc:
        body = doc["body"]
        signature = doc["headers"]["x-kombo-signature"]
        function = doc["rawPath"].rstrip("/").rsplit("/", 1)[-1]
    else:
        body = json.dumps(doc, separators=(",", ":"))
        signature = sign(LOCAL_SECRET, body)
        function = doc["type"]
    url = f"{base}/lambda-url/{function}/"
    req = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"content-type": "application/json", "x-kombo-signature": signature},
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            status, answer = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode()
    print(f"POST {url} -> {status} {answer}")

    state = os.path.join(HERE, "..", ".local", "state.json")
    if os.path.exists(state):
        endpoint = f"http://127.0.0.1:{os.environ.get('LOCAL_AWS_PORT', '4566')}"
        subprocess.run([sys.executable, os.path.join(HERE, "local_aws.py"), "show", "--endpoint", endpoint, "--state", state], check=False)


if __name__ == "__main__":
    main()
