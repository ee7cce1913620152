#!/usr/bin/env python3
"""Writes events/: one API Gateway HTTP API (payload 2.0) event per sample, shaped as API
Gateway delivers it, with an x-kombo-signature made with the obviously fake local secret.
Run it (`make events`) after editing a body below so the signatures never drift.
A test (shared/tests/binaries.rs) checks every file is current and feeds each one through
the built binaries.
"""

import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "..", "events")

# Obviously fake; the same value is in events/env.json and used by `make dev`.
LOCAL_SECRET = "local-fake-kombo-secret-not-real"
# Signs the forged sample: a secret the functions do not have.
FORGER_SECRET = "attacker-fake-secret"
# Obviously fake: the activation token of the connection-completion sample. The fake Kombo
# (make dev, the tests, sam local) knows it from its start, for the integration the
# integration-created sample creates (customer 36123): whichever of the two comes first
# stores the row, the other answers already_stored.
SAMPLE_TOKEN = "sample-activation-token-not-real"
SAMPLE_TOKEN_INTEGRATION = {
    "tool": "successfactors",
    "id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E",
    "end_user_origin_id": "36123",
    "end_user_organization_name": "Acme, Inc.",
    "end_user_email": "user@example.com",
    "setup_status": "COMPLETED",
}

# Bodies from Kombo's documented examples (the LMS connection guide).
END_USER = {"origin_id": "36123", "creator_email": "user@example.com", "organization_name": "Acme, Inc."}
CREATED = {
    "id": "5gjAtURLPbnTiwgkaBfiA3WJ",
    "type": "integration-created",
    "data": {"id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E", "tool": "successfactors", "category": "LMS", "end_user": END_USER},
}
CREATED_UNASSIGNED = {
    "id": "9kLmNoPqRsTuVwXyZaBcDeFg",
    "type": "integration-created",
    "data": {
        "id": "workday:8d1hpPsbjxUkoCoa1veLZGe5",
        "tool": "workday",
        "category": "LMS",
        "end_user": {"origin_id": None, "creator_email": "it@example.org", "organization_name": "Globex Corp"},
    },
}
DELETED = {
    "id": "7hJkLmNpQrStUvWxYz2A3B4C",
    "type": "integration-deleted",
    "data": {
        "id": "workday:CBNMt7dSNCzBdnRTx87dev4E",
        "tool": "workday",
        "category": "LMS",
        "end_user": END_USER,
        "deleted_at": "2022-11-02T10:50:10.242Z",
    },
}
FLOW_FAILED = {
    "id": "3fGhJkLmNpQrStUvWxYz2A3B",
    "type": "connection-flow-failed",
    "data": {
        "integration_tool": "workday",
        "integration_category": "LMS",
        "end_user": END_USER,
        "log_url": "https://app.kombo.dev/env/production/logs/C3xUo6XAsB2sbKC7M1gyXaRX",
    },
}

# The same customer's next attempt, failing too (a storm: it folds into the first's window).
FLOW_FAILED_AGAIN = {
    **FLOW_FAILED,
    "id": "5kLmNpQrStUvWxYz2A3B4C6D",
    "data": {**FLOW_FAILED["data"], "log_url": "https://app.kombo.dev/env/production/logs/D4yVp7YBtC3tcLD8N2hzYbSY"},
}

def flow_failed_for(event_id, origin_id, organization, log_id):
    """FLOW_FAILED of another customer of the same tool."""
    end_user = {"origin_id": origin_id, "creator_email": "user@example.com", "organization_name": organization}
    return {**FLOW_FAILED, "id": event_id, "data": {
        **FLOW_FAILED["data"], "end_user": end_user,
        "log_url": f"https://app.kombo.dev/env/production/logs/{log_id}"}}


# Two more customers of the same tool failing within minutes: with the first, three, so the
# second of these opens the tool's fleet incident (docs/on-call.md).
FLOW_FAILED_CUSTOMER_2 = flow_failed_for("6mNpQrStUvWxYz2A3B4C5D7E", "48213", "Beta GmbH", "9hQ2vTt4bW1mXo7ZsRkqPe3L")
FLOW_FAILED_CUSTOMER_3 = flow_failed_for("7nPqRsTuVwXyZ2A3B4C5D6E8", "51007", "Gamma Ltd", "Vn5cYw8JkL2pQa6DuEr1TgHs")

STATE_CHANGED = {
    "id": "4gHjKlMnPqRsTuVwXyZ2A3B5",
    "type": "integration-state-changed",
    "data": {
        "integration_id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E",
        "integration_tool": "successfactors",
        "integration_category": "LMS",
        "end_user": END_USER,
        "qa_status": "PASSED",
        "setup_status": "COMPLETED",
        "state": "INVALID",
        "updated_at": "2026-11-20T08:30:00.000Z",
    },
}

# Kombo's earliest warning: the INVALID integration's login failing, days before; resolved;
# and an issue of the whole environment (no integration).
ISSUE = {
    "id": "iss_8Hq2mXv7RkLp3Tz9",
    "type": "integration.authentication_failed",
    "title": "Authentication failed",
    "status": "OPEN",
    "markdown_message": "Kombo could not log in to **SuccessFactors**: the credentials were rejected. "
                        "[Reconnect](https://app.kombo.dev) the integration.",
    "first_observed_at": "2026-11-17T08:30:00.000Z",
    "resolved_at": None,
}
ISSUE_INTEGRATION = {"id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E", "tool": "successfactors",
                     "category": "LMS", "end_user": END_USER}
ISSUE_RAISED = {"id": "4sWq9ZbR2kT7nXc5Lm3Pv8Yd", "type": "issue-status-changed",
                "data": {"change": "raised", "issue": ISSUE, "integration": ISSUE_INTEGRATION}}
ISSUE_RESOLVED = {"id": "6tYr2LpQ8wN4mXz7Kc9Bv3Hs", "type": "issue-status-changed",
                  "data": {"change": "resolved", "issue": dict(ISSUE, status="RESOLVED",
                                                               resolved_at="2026-11-17T14:00:00.000Z"),
                           "integration": ISSUE_INTEGRATION}}
ISSUE_ENVIRONMENT = {"id": "9pKd3Wm6Zx2Rt8Lq5Yv7Nc4B", "type": "issue-status-changed",
                     "data": {"change": "raised", "issue": dict(
                         ISSUE, id="iss_Env4Nq8Wz2Lp6Rt3", type="environment.webhooks_failing",
                         title="Webhook deliveries failing",
                         markdown_message="Most deliveries to your **webhook endpoint** failed in the last hour."),
                         "integration": None}}

# The same customer connecting the same tool a second time (a new connection link instead of
# a reconnection): Kombo does not de-duplicate, the stack sends one "duplicate" notice.
CREATED_DUPLICATE = {
    "id": "8rTz4Kq2Wm7Xn3Lp9Bv5Hc6D",
    "type": "integration-created",
    "data": {"id": "successfactors:Qx7Lm2Nw9Rt4Kp8Zv3Hs6Jd", "tool": "successfactors", "category": "LMS",
             "end_user": END_USER},
}

# file name -> (function it is for, body, secret it is signed with)
SAMPLES = {
    "integration-created.json": ("integration-created", CREATED, LOCAL_SECRET),
    "integration-created-unassigned.json": ("integration-created", CREATED_UNASSIGNED, LOCAL_SECRET),
    "integration-created-duplicate.json": ("integration-created", CREATED_DUPLICATE, LOCAL_SECRET),
    "integration-deleted.json": ("integration-deleted", DELETED, LOCAL_SECRET),
    "connection-flow-failed.json": ("connection-flow-failed", FLOW_FAILED, LOCAL_SECRET),
    "connection-flow-failed-again.json": ("connection-flow-failed", FLOW_FAILED_AGAIN, LOCAL_SECRET),
    "connection-flow-failed-customer-2.json": ("connection-flow-failed", FLOW_FAILED_CUSTOMER_2, LOCAL_SECRET),
    "connection-flow-failed-customer-3.json": ("connection-flow-failed", FLOW_FAILED_CUSTOMER_3, LOCAL_SECRET),
    # Negative samples, for trying the error paths.
    "connection-flow-failed-forged.json": ("connection-flow-failed", FLOW_FAILED, FORGER_SECRET),
    "integration-deleted-wrong-type.json": ("integration-deleted", CREATED, LOCAL_SECRET),
    "integration-state-changed.json": ("integration-state-changed", STATE_CHANGED, LOCAL_SECRET),
    "issue-status-changed.json": ("issue-status-changed", ISSUE_RAISED, LOCAL_SECRET),
    "issue-status-changed-resolved.json": ("issue-status-changed", ISSUE_RESOLVED, LOCAL_SECRET),
    "issue-status-changed-environment.json": ("issue-status-changed", ISSUE_ENVIRONMENT, LOCAL_SECRET),
}

# Backend API samples: IAM-authorized (no Kombo signature). file -> (method, route, path, params, body)
BACKEND = {
    "connection-link.json": (
        "POST",
        "/customers/{origin_id}/connection-link",
        "/customers/36123/connection-link",
        {"origin_id": "36123"},
        {"end_user_email": "user@example.com", "end_user_organization_name": "Acme, Inc.", "language": "en"},
    ),
    # A link for a tool the customer has connected already: 409 already_connected, naming
    # the integration (and, for an INVALID one, its reconnection route).
    "connection-link-already-connected.json": (
        "POST",
        "/customers/{origin_id}/connection-link",
        "/customers/36123/connection-link",
        {"origin_id": "36123"},
        {"end_user_email": "user@example.com", "end_user_organization_name": "Acme, Inc.",
         "integration_tool": "successfactors"},
    ),
    "connection-completion.json": (
        "POST",
        "/customers/{origin_id}/connection-completion",
        "/customers/36123/connection-completion",
        {"origin_id": "36123"},
        {"token": SAMPLE_TOKEN},
    ),
    "customer-integrations.json": (
        "GET",
        "/customers/{origin_id}/integrations",
        "/customers/36123/integrations",
        {"origin_id": "36123"},
        None,
    ),
    "assign-customer.json": (
        "PUT",
        "/integrations/{integration_id}/customer",
        "/integrations/workday:8d1hpPsbjxUkoCoa1veLZGe5/customer",
        {"integration_id": "workday:8d1hpPsbjxUkoCoa1veLZGe5"},
        {"origin_id": "48213"},
    ),
    # The INVALID integration of integration-state-changed.json, for its customer.
    "reconnection-link.json": (
        "POST",
        "/customers/{origin_id}/integrations/{integration_id}/reconnection-link",
        "/customers/36123/integrations/successfactors:CBNMt7dSNCzBdnRTx87dev4E/reconnection-link",
        {"origin_id": "36123", "integration_id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E"},
        {"link_type": "MAGIC_LINK", "language": "en"},
    ),
    "setup-link.json": (
        "POST",
        "/customers/{origin_id}/integrations/{integration_id}/setup-link",
        "/customers/36123/integrations/successfactors:CBNMt7dSNCzBdnRTx87dev4E/setup-link",
        {"origin_id": "36123", "integration_id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E"},
        {"link_type": "EMBEDDED"},
    ),
    "delete-integration.json": (
        "DELETE",
        "/integrations/{integration_id}",
        "/integrations/successfactors:CBNMt7dSNCzBdnRTx87dev4E",
        {"integration_id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E"},
        None,
    ),
}


def sign(secret, body):
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def api_gateway_event(function, body, signature):
    path = f"/webhooks/kombo/{function}"
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept-encoding": "gzip",
            "content-length": str(len(body.encode())),
            "content-type": "application/json",
            "host": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
            "user-agent": "Kombo-Webhooks",
            "x-amzn-trace-id": "Root=1-6744f0c0-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-kombo-signature": signature,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Kombo-Webhooks",
            },
            "requestId": "C3xUo6XAsB2sbKC7-local",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795953600000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def backend_event(method, route, path, params, payload):
    body = None if payload is None else json.dumps(payload, separators=(",", ":"))
    headers = {
        "accept": "application/json",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEFAKE/20261125/eu-central-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=fake",
        "host": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
        "user-agent": "my-backend",
        "x-amz-date": "20261125T120000Z",
    }
    if body is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body.encode()))
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "pathParameters": params,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "authorizer": {
                "iam": {
                    "accessKey": "AKIAEXAMPLEFAKE",
                    "accountId": "123456789012",
                    "callerId": "AIDAEXAMPLEFAKE",
                    "principalOrgId": None,
                    "userArn": "arn:aws:iam::123456789012:user/my-backend",
                    "userId": "AIDAEXAMPLEFAKE",
                }
            },
            "domainName": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "my-backend"},
            "requestId": "D4yVp7XBsC3tcLD8-local",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795953600000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


def render():
    """file name -> file text, for every sample and events/env.json."""
    files = {}
    for name, (function, payload, secret) in SAMPLES.items():
        body = json.dumps(payload, separators=(",", ":"))
        files[name] = json.dumps(api_gateway_event(function, body, sign(secret, body)), indent=2) + "\n"
    for name, args in BACKEND.items():
        files[name] = json.dumps(backend_event(*args), indent=2) + "\n"
    # env.json for `sam local invoke --env-vars`: for every function of the template, the
    # variables it declares, with the values of the local stack (SAM applies only declared
    # ones). Made from template.yaml, so it cannot drift from it.
    from local_aws import load_template

    local = {
        "KOMBO_WEBHOOK_SECRET": LOCAL_SECRET,
        # Declared for the Secrets Manager mode; a local run uses the plain values above.
        "KOMBO_WEBHOOK_SECRET_ARN": "",
        "KOMBO_API_KEY_ARN": "",
        "TABLE_NAME": "local-MappingsTable",
        "IDEMPOTENCY_TABLE_NAME": "local-IdempotencyTable",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:local-AlertTopic",
        "KOMBO_API_KEY": "local-fake-kombo-api-key-not-real",
        # Locally whoever calls (no IAM in front of `sam local`); deployed, the backend role.
        "ALLOWED_BACKEND_CALLERS": "*",
        "KOMBO_API_BASE_URL": "http://host.docker.internal:4567/v1",
        "AWS_ENDPOINT_URL": "http://host.docker.internal:4566",
        "AWS_ENDPOINT_URL_SNS": "http://host.docker.internal:4566",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://host.docker.internal:8000",
    }
    template = load_template()
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    env = {}
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        declared = list(res["Properties"].get("Environment", {}).get("Variables", {})) + list(globals_)
        env[logical] = {k: local[k] for k in declared if k in local}
    files["env.json"] = json.dumps(env, indent=2) + "\n"
    # The reconcile function's input: EventBridge's scheduled event (what the schedule
    # sends), and an operator's dry run.
    files["reconcile-scheduled.json"] = json.dumps({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-27T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/kombo-ReconcileFunctionSchedule"],
        "detail": {},
    }, indent=2) + "\n"
    files["reconcile-dry-run.json"] = json.dumps({"dry_run": True}, indent=2) + "\n"
    # The failure sweep's input: its schedule's event.
    files["failure-sweep-scheduled.json"] = json.dumps({
        "version": "0",
        "id": "0d6c0f52-59d4-4f57-9bd0-3b2e2f0c2a61",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-27T06:05:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/kombo-FailureSweepFunctionSchedule"],
        "detail": {},
    }, indent=2) + "\n"
    return files


def main():
    if "--check" in os.sys.argv:
        stale = []
        for name, text in render().items():
            path = os.path.join(EVENTS, name)
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(name)
        if stale:
            raise SystemExit(f"events/ is stale ({', '.join(stale)}): run `make events`")
        return
    for name, text in render().items():
        with open(os.path.join(EVENTS, name), "w") as f:
            f.write(text)
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
