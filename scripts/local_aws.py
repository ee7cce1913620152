#!/usr/bin/env python3
"""Creates, on a local DynamoDB/SNS API server (moto), the resources template.yaml declares,
and resolves each function's environment against them.

Used by the test harness and by `make dev`, so local runs use what the template deploys,
never a second hand-written copy.

    local_aws.py create --endpoint http://127.0.0.1:PORT [--dynamodb-endpoint URL] --prefix NAME [--secret S]
                        [--secrets-manager]
        prints JSON: {"resources": {logical id: name or ARN}, "alert_queue_url": ...,
                      "functions": {binary: {env var: value}}}
    local_aws.py show --endpoint URL [--dynamodb-endpoint URL] --state FILE

--secrets-manager deploys as the template's recommended mode does: the secret parameters left
empty, the template's Secrets Manager secrets created on --endpoint holding the local secret and
API key, and the functions given their ARNs instead of the values.
--endpoint is the server for SNS, SQS and Secrets Manager (moto); --dynamodb-endpoint the one for DynamoDB
(DynamoDB Local), the same as --endpoint when not given.
        prints the mapping rows and the alerts received so far.
    local_aws.py template
        prints template.yaml as JSON (short tags in their long form), for tests.
    local_aws.py conditions [PARAMETER=VALUE ...]
        prints the template's conditions for those parameters (the rest at their defaults),
        after its Rules: a deploy they would refuse exits 1 with the rule's description.
"""

import argparse
import json
import os
import sys

import boto3
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "template.yaml")
REGION = "us-east-1"


class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _tag(loader, suffix, node):
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template(path=TEMPLATE):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def evaluate(template, params):
    """The template's conditions for `params`, as CloudFormation resolves them (Fn::Equals of
    a parameter and a literal, Fn::Not, Fn::And, Fn::Or, Condition), after its Rules: a rule
    whose condition holds and an assertion of which fails stops here, with its description,
    as CloudFormation refuses such a deploy."""
    conditions = {}

    def holds(expr):
        if "Fn::Not" in expr:
            return not holds(expr["Fn::Not"][0])
        if "Fn::And" in expr:
            return all(holds(e) for e in expr["Fn::And"])
        if "Fn::Or" in expr:
            return any(holds(e) for e in expr["Fn::Or"])
        if "Condition" in expr:
            name = expr["Condition"]
            if name not in conditions:
                conditions[name] = holds(template["Conditions"][name])
            return conditions[name]
        (ref, literal) = expr["Fn::Equals"]
        return params.get(ref["Ref"], "") == literal

    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not holds(assertion["Assert"]):
                raise SystemExit(f"rule {name}: {assertion['AssertDescription']}")
    for name, cond in template.get("Conditions", {}).items():
        if name not in conditions:
            conditions[name] = holds(cond)
    return conditions


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_table(ddb, name, props):
    args = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    ddb.create_table(**args)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )


LOCAL_API_KEY = "local-fake-kombo-api-key-not-real"


def create(endpoint, prefix, secret, kombo_url=None, ddb_endpoint=None, secrets_manager=False):
    template = load_template()
    ddb = client("dynamodb", ddb_endpoint or endpoint)
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    physical = {}
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::DynamoDB::Table":
            name = f"{prefix}-{logical}"
            create_table(ddb, name, res["Properties"])
            physical[logical] = name
        elif res["Type"] == "AWS::SNS::Topic":
            physical[logical] = sns.create_topic(Name=f"{prefix}-{logical}")["TopicArn"]

    # Alerts are made visible through a queue subscribed to every topic.
    queue_url = sqs.create_queue(QueueName=f"{prefix}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::SNS::Topic":
            sns.subscribe(TopicArn=physical[logical], Protocol="sqs", Endpoint=queue_arn)

    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params["KomboWebhookSecret"] = "" if secrets_manager else secret
    params["KomboApiKey"] = "" if secrets_manager else LOCAL_API_KEY
    params["SecretsInEnvironment"] = "false" if secrets_manager else "true"
    # Deployed it names the backend's role (no default: closed); locally whoever calls.
    params["AllowedBackendCallers"] = "*"
    if kombo_url:
        params["KomboApiBaseUrl"] = kombo_url
    conditions = evaluate(template, params)

    values = {"WebhookSecret": secret, "KomboApiKeySecret": LOCAL_API_KEY}
    sm = client("secretsmanager", endpoint)
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::SecretsManager::Secret" and conditions[res["Condition"]]:
            physical[logical] = sm.create_secret(Name=f"{prefix}-{logical}", SecretString=values[logical])["ARN"]

    def resolve(value):
        if isinstance(value, dict) and "Fn::If" in value:
            name, yes, no = value["Fn::If"]
            return resolve(yes if conditions[name] else no)
        if value == {"Ref": "AWS::NoValue"}:
            return None
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in physical:
                return physical[ref]
            if ref in params:
                return params[ref]
            raise SystemExit(f"cannot resolve !Ref {ref} locally")
        return str(value)

    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    functions = {}
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        env = dict(global_env)
        env.update(res["Properties"].get("Environment", {}).get("Variables", {}))
        resolved = {k: resolve(v) for k, v in env.items()}
        functions[binary] = {k: v for k, v in resolved.items() if v is not None}
        event = next(iter(res["Properties"]["Events"].values()))
        if event["Type"] == "HttpApi":
            functions[binary]["_route"] = f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        else:
            functions[binary]["_route"] = f"{event['Type']} {resolve(event['Properties'].get('Schedule', ''))}".strip()
        functions[binary]["_logical_id"] = logical
    return {"resources": physical, "alert_queue_url": queue_url, "functions": functions}


def show(endpoint, state, ddb_endpoint=None):
    ddb, sqs = client("dynamodb", ddb_endpoint or endpoint), client("sqs", endpoint)
    table = state["resources"]["MappingsTable"]
    rows = ddb.scan(TableName=table).get("Items", [])
    print(f"-- mapping rows in {table}: {len(rows)}")
    for item in rows:
        flat = {k: list(v.values())[0] for k, v in item.items()}
        print("   " + json.dumps(flat, sort_keys=True))
    received = sqs.receive_message(
        QueueUrl=state["alert_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    print(f"-- alerts received since last look: {len(received)}")
    for m in received:
        note = json.loads(m["Body"])
        print(f"   Subject: {note.get('Subject')}")
        try:
            # The queue gets the alert's JSON form (see docs/on-call.md).
            alert = json.loads(note.get("Message", ""))
            lines = [alert["summary"], ""] + [f"{f['label']}: {f['value']}" for f in alert["fields"]]
        except (ValueError, KeyError, TypeError):
            lines = note.get("Message", "").splitlines()
        for line in lines:
            print(f"     {line}")
        sqs.delete_message(QueueUrl=state["alert_queue_url"], ReceiptHandle=m["ReceiptHandle"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--endpoint", required=True)
    c.add_argument("--dynamodb-endpoint")
    c.add_argument("--prefix", required=True)
    c.add_argument("--secret", default="local-fake-kombo-secret-not-real")
    c.add_argument("--kombo-url", help="the Kombo API base URL to give the backend functions")
    c.add_argument("--secrets-manager", action="store_true", help="the secrets in Secrets Manager (see above)")
    s = sub.add_parser("show")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--dynamodb-endpoint")
    s.add_argument("--state", required=True)
    sub.add_parser("template")
    k = sub.add_parser("conditions")
    k.add_argument("params", nargs="*", metavar="PARAMETER=VALUE")
    a = p.parse_args()
    if a.cmd == "template":
        json.dump(load_template(), sys.stdout)
    elif a.cmd == "conditions":
        template = load_template()
        params = {n: str(v.get("Default", "")) for n, v in template.get("Parameters", {}).items()}
        params.update(kv.split("=", 1) for kv in a.params)
        json.dump(evaluate(template, params), sys.stdout)
    elif a.cmd == "create":
        json.dump(create(a.endpoint, a.prefix, a.secret, a.kombo_url, a.dynamodb_endpoint, a.secrets_manager),
                  sys.stdout, indent=2)
        print()
    else:
        with open(a.state) as f:
            show(a.endpoint, json.load(f), a.dynamodb_endpoint)


if __name__ == "__main__":
    main()
