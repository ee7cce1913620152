"""BENCHMARK PEER, not part of the product.

The integration-created function written the obvious way in Python (boto3 + the Lambda runtime
interface client), doing the same work as the Rust binary: verify X-Kombo-Signature (HMAC-SHA256,
base64url, constant-time), parse and check the payload, one conditional UpdateItem (as the
Rust function: returning the old item on a failed condition), answer. Client built at init, as in the Rust function.
bench/coldstart.py runs both under the same Lambda Runtime API server against the same moto.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from datetime import datetime, timezone

import boto3

SECRETS = [s.strip().encode() for s in os.environ["KOMBO_WEBHOOK_SECRET"].split(",") if s.strip()]
TABLE = os.environ["TABLE_NAME"]
DDB = boto3.client("dynamodb")


def answer(status, doc):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(doc)}


def error(status, code, message):
    return answer(status, {"error": {"code": code, "message": message}})


def handler(event, context):
    if event["requestContext"]["http"]["method"] != "POST":
        return error(405, "method_not_allowed", "webhooks are delivered with POST")
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if len(raw) > 256 * 1024:
        return error(413, "payload_too_large", "body too large")
    sig = (event.get("headers") or {}).get("x-kombo-signature", "").strip()
    try:
        given = base64.urlsafe_b64decode(sig + "=") if len(sig) == 43 else b""
    except (binascii.Error, ValueError):
        given = b""
    ok = False
    for secret in SECRETS:
        ok |= hmac.compare_digest(hmac.new(secret, raw, hashlib.sha256).digest(), given)
    if not ok:
        return error(401, "unauthorized", "X-Kombo-Signature does not match the body")
    try:
        doc = json.loads(raw)
        if doc["type"] != "integration-created":
            return error(422, "wrong_event_type", f"this endpoint accepts integration-created events, got {doc['type']}")
        data, user = doc["data"], doc["data"]["end_user"]
        integration_id, tool, category, org = data["id"], data["tool"], data["category"], user["organization_name"]
        if not all(isinstance(v, str) and v for v in (doc["id"], integration_id, tool, category)) or not isinstance(org, str):
            raise ValueError("mistyped field")
    except (ValueError, KeyError, TypeError) as e:
        return error(400, "bad_request", str(e))
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    item = {
        "integration_id": {"S": integration_id},
        "tool": {"S": tool},
        "category": {"S": category},
        "organization_name": {"S": org},
        "status": {"S": "ACTIVE"},
        "created_at": {"S": now},
        "updated_at": {"S": now},
        "last_event_id": {"S": doc["id"]},
    }
    if user.get("origin_id"):
        item["origin_id"] = {"S": user["origin_id"]}
    if user.get("creator_email"):
        item["creator_email"] = {"S": user["creator_email"]}
    # The same single conditional write as the Rust function: a new row, or the completion
    # of one a state change recorded (no created_at), never over an existing one.
    always = {k: item[k] for k in ("status", "created_at", "updated_at", "last_event_id")}
    always["created_event_id"] = {"S": doc["id"]}
    if_absent = {k: v for k, v in item.items() if k not in always and k != "integration_id"}
    names, values, sets = {}, {}, []
    for i, (k, v) in enumerate(sorted(always.items())):
        names[f"#a{i}"], values[f":a{i}"] = k, v
        sets.append(f"#a{i} = :a{i}")
    for i, (k, v) in enumerate(sorted(if_absent.items())):
        names[f"#b{i}"], values[f":b{i}"] = k, v
        sets.append(f"#b{i} = if_not_exists(#b{i}, :b{i})")
    names["#cond_status"], values[":cond_deleted"] = "status", {"S": "DELETED"}
    try:
        DDB.update_item(
            TableName=TABLE,
            Key={"integration_id": item["integration_id"]},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(integration_id) OR "
            "(attribute_not_exists(created_at) AND #cond_status <> :cond_deleted)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        outcome = "stored"
    except DDB.exceptions.ConditionalCheckFailedException as e:
        old = e.response.get("Item", {})
        outcome = "ignored_tombstoned" if old.get("status", {}).get("S") == "DELETED" else "already_stored"
    except Exception as e:  # noqa: BLE001 - a dependency failure: Kombo retries
        return error(503, "dependency_unavailable", type(e).__name__)
    return answer(200, {"status": "ok", "outcome": outcome, "event_id": doc["id"]})
