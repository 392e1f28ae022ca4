"""The engine side (`offline.policy.analyzer`): starting packs like the CLI, failing clearly, and the
pack's verdicts being the same under the SDK's stock analyzer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_fixtures import all_fixture_modules
from pulumi_policy import proxy
from verdicts import PACK_DIR, run_case

from offline.policy import analyzer
from offline.policy.analyzer import (
    PackCallError,
    PackConfigError,
    PackStartError,
    PolicyPackProcess,
    ResourceSnapshot,
)
from resilience_policies.server import SDK_ANALYZER_ENV


def write_pack(folder: Path, main: str) -> Path:
    folder.mkdir()
    (folder / "__main__.py").write_text(main)
    return folder


def test_sentinels_are_the_engines() -> None:
    assert analyzer.UNKNOWN_STRING == proxy.UNKNOWN_STRING_VALUE
    assert analyzer.UNKNOWN_NUMBER == proxy.UNKNOWN_NUMBER_VALUE
    assert analyzer.UNKNOWN_BOOL == proxy.UNKNOWN_BOOLEAN_VALUE
    assert analyzer.UNKNOWN_ARRAY == proxy.UNKNOWN_ARRAY_VALUE
    assert analyzer.UNKNOWN_OBJECT == proxy.UNKNOWN_OBJECT_VALUE


def test_a_pack_that_crashes_reports_its_traceback(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "crashing", "raise RuntimeError('policy module is broken')\n")
    with pytest.raises(PackStartError) as failure, PolicyPackProcess(pack):
        pass
    assert "exited with code 1 before listening" in str(failure.value)
    assert "RuntimeError: policy module is broken" in str(failure.value)


def test_a_pack_that_prints_before_its_port(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "chatty", "print('hello from the pack')\n")
    with pytest.raises(PackStartError, match="first stdout line was b'hello from the pack'"):
        PolicyPackProcess(pack).start()


def test_a_pack_that_never_listens_times_out(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "silent", "import time\ntime.sleep(60)\n")
    process = PolicyPackProcess(pack, start_timeout_s=1)
    with pytest.raises(PackStartError, match="printed no port within 1 s"):
        process.start()
    process.close()
    process.close()  # closing twice is harmless


def test_not_a_pack_folder(tmp_path: Path) -> None:
    with pytest.raises(PackStartError, match=r"has no __main__\.py"):
        PolicyPackProcess(tmp_path).start()


def test_calls_before_start_are_refused() -> None:
    with pytest.raises(RuntimeError, match="call start"):
        PolicyPackProcess(PACK_DIR).analyze(ResourceSnapshot("urn:x", "t", "x", {}))


def test_invalid_enforcement_level_is_refused_before_sending(
    pack_process: PolicyPackProcess,
) -> None:
    with pytest.raises(PackConfigError, match="enforcementLevel 'strict' is not one of"):
        pack_process.configure({"lambda-tracing": "strict"})


@pytest.fixture(scope="module")
def stock_pack() -> Iterator[PolicyPackProcess]:
    """The same pack, served by the SDK's own analyzer (no shared model, no Configure checks)."""
    with PolicyPackProcess(PACK_DIR, env={SDK_ANALYZER_ENV: "1"}) as process:
        yield process


def test_stock_analyzer_gives_the_same_verdicts(
    pack_process: PolicyPackProcess, stock_pack: PolicyPackProcess
) -> None:
    compared = 0
    for rule, module in all_fixture_modules().items():
        for name in ("fail", "preview"):
            case = module.CASES[name]
            _, ours, _ = run_case(pack_process, rule, case)
            _, stock, _ = run_case(stock_pack, rule, case)
            assert [(d.policy, d.urn, d.message) for d in ours] == [
                (d.policy, d.urn, d.message) for d in stock
            ], f"{rule}:{name}"
            compared += len(ours)
    pack_process.configure({})
    assert compared >= 34


def test_stock_analyzer_surfaces_bad_config_when_a_policy_runs(
    stock_pack: PolicyPackProcess,
) -> None:
    stock_pack.configure({"sqs-visibility-timeout-ratio": {"ratio": "six"}})
    try:
        with pytest.raises(PackCallError, match="'ratio' must be a number from 1 to 100"):
            stock_pack.analyze_stack([ResourceSnapshot("urn:q", "aws:sqs/queue:Queue", "q", {})])
    finally:
        stock_pack.configure({})
