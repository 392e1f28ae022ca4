"""The load drill against a local gateway that requires an API key (as staging's iam+apiKey
stage does): with the key every goal is met; the same run without it is refused (403
Forbidden, API Gateway's answer) and the refusals are counted as failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import load
from drills.__main__ import main
from drills.gateway import BASE_URL, DRILL_CREDENTIALS, LocalGateway
from drills.verdicts import judge, missed
from tools.signed_call import API_KEY_ENV, ApiKeys, HttpAnswer, SignedClient

KEY = "drill-key-0123456789abcdefghij"
#: Small: 2 rps for 2 s, four submits, each polled to done.
ARGV = ("load", "--rps", "2", "--seconds", "2", "--grace-seconds", "15")


def test_the_load_drill_sends_the_key_the_gateway_requires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    out = tmp_path / "load.json"
    assert main([*ARGV, "--api-key-file", str(key_file), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["target"] == "moto on 127.0.0.1 (API key required)"
    assert result["status_codes"] == {"202": 4}
    assert result["submits_refused"] == 0
    assert result["done"] == 4 and result["tasks_lost"] == 0 and result["tasks_failed"] == 0
    assert "submits_refused" in result["verdicts"], "a run with a key is judged on refusals"
    assert result["missed"] == []


def test_the_same_run_without_the_key_is_refused_and_misses_its_goal() -> None:
    # The gateway requires the key; the client does not send one.
    result = load.run(2, 2, grace_s=15, gateway_api_keys=(KEY,))
    assert result["status_codes"] == {403: 4}
    assert result["submits_refused"] == 4
    assert result["done"] == 0
    verdicts = judge(result, load.goals(api_key=True))
    assert missed(verdicts) == ["submits_refused"]


def test_the_gateway_checks_the_signature_first_then_the_key() -> None:
    """iam+apiKey: a key without a signature, a signature without a key, and a wrong key are
    all refused before the function; the health route needs neither."""
    invoked: list[str] = []

    def backend(event: dict[str, object]) -> dict[str, object]:
        invoked.append(str(event["path"]))
        return {"statusCode": 200, "body": json.dumps({"region": "eu-west-1"})}

    gateway = LocalGateway("eu-west-1", api_keys=(KEY,))
    send = gateway.transport(backend)
    url = f"{BASE_URL}/tasks/t-1"

    unsigned = send("GET", url, {"x-api-key": KEY}, None)
    assert unsigned.status == 403
    assert unsigned.message() == "Missing Authentication Token"

    def signed(keys: ApiKeys | None) -> HttpAnswer:
        client = SignedClient(credentials=DRILL_CREDENTIALS, transport=send, api_keys=keys)
        return client.call("GET", url)

    no_key = signed(None)
    assert (no_key.status, no_key.message()) == (403, "Forbidden")
    assert no_key.headers["x-amzn-errortype"] == "ForbiddenException"
    wrong_key = signed(ApiKeys(shared="not-" + KEY))
    assert (wrong_key.status, wrong_key.message()) == (403, "Forbidden")
    assert invoked == ["/health"] * 2, "only the open route reached the function (learning)"
    assert signed(ApiKeys(shared=KEY)).status == 200
    assert invoked[-1] == "/tasks/t-1"
    assert gateway.denied == {
        "MissingAuthenticationTokenException": 1,
        "ForbiddenException": 2,
    }


def test_the_caller_identity_names_a_key_only_where_keys_are_required() -> None:
    """API Gateway fills `apiKeyId` on methods that require a key; on an IAM-only stack a key a
    client happens to send is not part of who it is (its tasks stay its own either way)."""
    seen: list[dict[str, object]] = []

    def backend(event: dict[str, object]) -> dict[str, object]:
        if event["path"] == "/tasks/t-1":  # the open /health call (learning the region) has none
            seen.append(dict(event["requestContext"]["identity"]))  # type: ignore[index]
        return {"statusCode": 200, "body": json.dumps({"region": "eu-west-1"})}

    url = f"{BASE_URL}/tasks/t-1"
    for gateway in (LocalGateway("eu-west-1"), LocalGateway("eu-west-1", api_keys=(KEY,))):
        client = SignedClient(
            credentials=DRILL_CREDENTIALS,
            transport=gateway.transport(backend),
            api_keys=ApiKeys(shared=KEY),
        )
        assert client.call("GET", url).status == 200
    iam_only, both = seen
    assert iam_only["userArn"] == both["userArn"] and iam_only["userArn"]
    assert iam_only["apiKeyId"] is None and iam_only["apiKey"] is None
    assert isinstance(both["apiKeyId"], str) and both["apiKey"] == KEY
