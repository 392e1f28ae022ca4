"""Exemptions (by tag, by config): validated like every setting, never remediated, shown as
exempt in the offline report; and the OpenAPI body reader the timeout rule relies on. The
verdicts themselves (an exempted finding is advisory and marked) are fixture cases of the
policies (`exempt-*`)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from verdicts import rule_module

from offline.model import PackRun, PreviewResult, Violation
from offline.policy.analyzer import PackConfigError, PolicyPackProcess, ResourceSnapshot
from offline.reports.render import render_policies, render_result_line
from resilience_policies.config import ConfigSpec, PolicyConfigError, Setting
from resilience_policies.exemptions import (
    Exemption,
    exempt_message,
    is_exempt_message,
    tag_key,
)
from resilience_policies.openapi import parse_body
from resilience_policies.pack import RULE_MODULES

MAPPING_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping"
POLICY = "sqs-partial-batch-response"

# -- configuration ----------------------------------------------------------------------------

BAD_EXEMPTIONS: list[Any] = [
    pytest.param(
        {"dlq-alarm": {"exemptions": [{"name": "jobs-dlq"}]}},
        [
            "policy 'dlq-alarm': config key 'exemptions' entry 1 has no 'reason'",
            "give one (a non-empty string)",
        ],
        id="no-reason",
    ),
    pytest.param(
        {"dlq-alarm": {"exemptions": [{"name": "a", "urn": "urn:x", "reason": "r"}]}},
        ["entry 1 must name the resource by exactly one of 'urn'", "got both"],
        id="urn-and-name",
    ),
    pytest.param(
        {"dlq-alarm": {"exemptions": [{"reason": "r"}]}},
        ["entry 1 must name the resource by exactly one of 'urn'", "got neither"],
        id="neither-urn-nor-name",
    ),
    pytest.param(
        {"dlq-alarm": {"exemptions": {"name": "jobs-dlq", "reason": "r"}}},
        [
            "config key 'exemptions' must be a list of objects like",
            "Fix: wrap the entries in a list, or remove the key",
        ],
        id="not-a-list",
    ),
    pytest.param(
        {"lambda-tracing": {"exemptions": [{"name": "fn", "reason": "r", "why": "x"}]}},
        ["policy 'lambda-tracing': config key 'exemptions' entry 1 has unknown key(s) 'why'"],
        id="unknown-entry-key",
    ),
    pytest.param(
        {"dlq-alarm": {"exemptions": [{"name": "ok", "reason": "r"}, "jobs-dlq"]}},
        ["config key 'exemptions' entry 2 must be an object like"],
        id="entry-not-an-object",
    ),
    pytest.param(
        {"dlq-alarm": {"exemptions": [{"name": " ", "reason": "r"}]}},
        ["entry 1: 'name' must be a non-empty string"],
        id="blank-name",
    ),
]


@pytest.mark.parametrize(("config", "fragments"), BAD_EXEMPTIONS)
def test_bad_exemptions_are_refused_naming_key_entry_and_fix(
    policy_pack: PolicyPackProcess, config: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(PackConfigError) as refused:
        policy_pack.configure(config)
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_every_policy_takes_exemptions(policy_pack: PolicyPackProcess) -> None:
    entry = {"name": "anything", "reason": "a reason"}
    policy_pack.configure(
        {rule_module(module).NAME: {"exemptions": [entry]} for module in RULE_MODULES}
    )


def test_exemptions_are_not_a_rule_setting() -> None:
    spec = ConfigSpec("example", (Setting("count", "integer", 5, "how many"),))
    raw = {"count": 6, "exemptions": [{"urn": "urn:a", "reason": "why"}]}
    assert spec.resolve(raw) == {"count": 6}
    assert spec.exemptions(raw) == (Exemption(reason="why", urn="urn:a"),)
    assert spec.exemptions({"count": 6}) == ()
    with pytest.raises(PolicyConfigError, match="entry 1 has no 'reason'"):
        spec.exemptions({"exemptions": [{"urn": "urn:a"}]})
    schema = spec.schema()
    assert schema is not None and "exemptions" not in schema.properties


# -- remediation ------------------------------------------------------------------------------


def _mapping(tags: dict[str, str] | None = None, name: str = "worker-mapping") -> ResourceSnapshot:
    properties: dict[str, Any] = {"eventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:jobs"}
    if tags is not None:
        properties["tags"] = tags
    return ResourceSnapshot(
        urn=f"urn:pulumi:test::resilient-serverless::{MAPPING_TYPE}::{name}",
        type=MAPPING_TYPE,
        name=name,
        properties=properties,
    )


def test_an_exempt_resource_is_not_remediated(policy_pack: PolicyPackProcess) -> None:
    policy_pack.configure({POLICY: "remediate"})
    assert len(policy_pack.remediate(_mapping())) == 1
    assert policy_pack.remediate(_mapping({tag_key(POLICY): "batch size 1"})) == []
    policy_pack.configure(
        {
            POLICY: {
                "enforcementLevel": "remediate",
                "exemptions": [{"name": "legacy-mapping", "reason": "replaced in Q3"}],
            }
        }
    )
    assert policy_pack.remediate(_mapping(name="legacy-mapping")) == []
    assert len(policy_pack.remediate(_mapping())) == 1


def test_an_exempt_finding_is_advisory_whatever_the_policy_level(
    policy_pack: PolicyPackProcess,
) -> None:
    """A mandatory (here: remediate, reported as mandatory) policy's exempted finding is
    advisory; another resource's finding keeps the policy's level."""
    for level in ("mandatory", "remediate"):
        policy_pack.configure({POLICY: level})
        exempt, plain = (
            [d for d in policy_pack.analyze(_mapping(tags, name=name)) if d.policy == POLICY]
            for tags, name in (({tag_key(POLICY): "batch size 1"}, "a"), (None, "b"))
        )
        assert [(d.level, d.message.split("\n", 1)[1]) for d in exempt] == [
            ("advisory", "Exempt (batch size 1): " + plain[0].message.split("\n", 1)[1])
        ]
        assert [d.level for d in plain] == ["mandatory"]


# -- the offline report -----------------------------------------------------------------------

DESCRIPTION = "Every dead-letter queue has a CloudWatch alarm on its depth."
URN = "urn:pulumi:dev::p::aws:sqs/queue:Queue::jobs-dlq"


def _violation(message: str, level: str) -> Violation:
    return Violation(
        pack="resilient-serverless",
        policy="dlq-alarm",
        level=level,
        urn=URN,
        message=f"{DESCRIPTION}\n{message}",
        description=DESCRIPTION,
    )


def test_exempt_violations_are_recognised_and_shown() -> None:
    exempt = _violation(
        exempt_message("drained hourly", "Dead-letter queue 'jobs-dlq'"), "advisory"
    )
    plain = _violation("Dead-letter queue 'jobs-dlq': no CloudWatch alarm", "mandatory")
    assert exempt.is_exempt and not plain.is_exempt
    assert is_exempt_message("Exempt (x): y") and not is_exempt_message("Not Exempt (x): y")
    pack = PackRun("resilient-serverless", "policies", violations=[exempt, plain])
    # Only the violations matter to these two renderers.
    result = PreviewResult(cast(Any, None), "preview", cast(Any, None), [pack], {})
    text = "\n".join(render_policies(result))
    assert "- 1 mandatory, 1 other (1 exempt)" in text
    assert "aws:sqs/queue:Queue  jobs-dlq  [exempt]" in text
    assert "Exempt (drained hourly): Dead-letter queue 'jobs-dlq'" in text
    assert result.exempt == [exempt]
    assert "(1 of them exempt)" in render_result_line(result)


# -- OpenAPI bodies ---------------------------------------------------------------------------

URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:123456789012:function:reports/invocations"
)
YAML_BODY = f"""openapi: 3.0.1
paths:
  /reports:
    post:
      responses:
        default:
          description: ok
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "{URI}"
        timeoutInMillis: 20000  # well below the limit
        responses:
          default:
            type: ignored
  "/reports/{{id}}":
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: AWS_PROXY
        uri: {URI}
"""


def test_openapi_yaml_read_alike_with_and_without_pyyaml() -> None:
    parsed, complete = parse_body(YAML_BODY)
    scanned, scanned_complete = parse_body(YAML_BODY, allow_yaml=False)
    assert complete and not scanned_complete
    assert [(i.where, i.settings["uri"]) for i in parsed] == [
        ("POST /reports", URI),
        ("ANY /reports/{id}", URI),
    ]
    assert [(i.where, i.settings["uri"]) for i in scanned] == [
        (i.where, i.settings["uri"]) for i in parsed
    ]
    assert float(parsed[0].settings["timeoutInMillis"]) == 20000
    assert scanned[0].settings["timeoutInMillis"] == "20000"
    assert "timeoutInMillis" not in scanned[1].settings  # absent: API Gateway's default


def test_openapi_json_needs_no_yaml() -> None:
    body = (
        '{"paths": {"/r": {"get": {"x-amazon-apigateway-integration": '
        f'{{"type": "aws_proxy", "uri": "{URI}", "timeoutInMillis": 5000}}}}}}}}}}'
    )
    ((integration,), complete) = parse_body(body, allow_yaml=False)
    assert complete and integration.where == "GET /r"
    assert integration.settings["timeoutInMillis"] == 5000
