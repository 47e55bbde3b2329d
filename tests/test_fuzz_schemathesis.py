"""Fuzzing the studio's own OpenAPI schema with schemathesis: every operation, in-process (the
ASGI app, no port), with the scripted engine; no generated request may get a 5xx.

Each operation gets schemathesis' positive cases (valid by the schema) and negative ones
(invalid by it), a few of each, through Hypothesis with a fixed seed. The whole run has a time
budget; cases past it are skipped and counted, and the last test reports the counts. (The
`schema.parametrize()` pytest integration is not used: its fixture-based form fails under
pytest 9 in schemathesis 4.32, and a module-level schema would need the app at import time.)

Nothing trains and no model is downloaded:
- jobs go to a QueueOnlyRunner (recorded, never started), so POST /api/jobs and
  POST /api/runs/{name}/doctor are fuzzed like any other route;
- the chat engine is the scripted fake, so chat, /v1 and POST /api/engine/load load nothing;
- hub lookups are switched to offline mode, so a generated 'org/name' model fails at once;
- an adapter merge would load the adapter's base model: the saved run's base is 'fake-base',
  which resolves to nothing, so it is refused before any weights are read.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from server_fakes import FakeEngine, fake_run, queue_only

from lorastudio.server import create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
EXAMPLES_PER_MODE = 15  # per operation, positive and negative each
BUDGET_SECONDS = 45  # the whole run; cases past it are skipped, not run
RUN = {"start": None, "cases": Counter(), "skipped": 0, "statuses": Counter(), "no_negative": []}


def operations() -> list[tuple[str, str]]:
    schema = create_app(engine=FakeEngine(), home=tempfile.mkdtemp(), start_runner=False).openapi()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


OPERATIONS = operations()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, tiny_model_dir):
    from huggingface_hub import constants

    home = tmp_path_factory.mktemp("fuzz") / "home"
    app = queue_only(create_app(engine=FakeEngine(), home=home, model=str(tiny_model_dir), device="cpu",
                                start_runner=False))
    fake_run(home / "runs", "wukong", probes=EXAMPLES / "wukong_probes.jsonl")
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "saved.json").write_bytes((EXAMPLES / "wukong_seed.json").read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_OFFLINE", True)  # read by huggingface_hub on every request
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_generated_request_gets_a_server_error(api_schema, method, path):
    operation = api_schema[path][method]
    RUN["start"] = RUN["start"] or time.monotonic()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            if time.monotonic() - RUN["start"] > BUDGET_SECONDS:
                RUN["skipped"] += 1
                return
            response = case.call()
            RUN["cases"][f"{method} {path}"] += 1
            RUN["statuses"][response.status_code // 100 * 100] += 1
            case.validate_response(response, checks=[not_a_server_error])

        try:
            fuzz()
        except Unsatisfiable:
            # nothing in the operation can be made invalid (no body or typed parameter; any string is a name)
            assert mode is GenerationMode.NEGATIVE
            RUN["no_negative"].append(f"{method} {path}")


def test_the_fuzzer_reached_every_operation_in_time():
    """After the fuzz (pytest runs a module's tests in order): every operation got cases, no 5xx."""
    if RUN["start"] is None:
        pytest.skip("the fuzz test did not run (deselected)")
    seconds = time.monotonic() - RUN["start"]
    print(f"\nschemathesis: {len(OPERATIONS)} operations, {sum(RUN['cases'].values())} cases in {seconds:.1f} s "
          f"({RUN['skipped']} skipped past the budget); responses by class: {dict(sorted(RUN['statuses'].items()))}; "
          f"{len(RUN['no_negative'])} operations have no invalid input to generate")
    missing = {f"{m} {p}" for m, p in OPERATIONS} - set(RUN["cases"])
    assert not missing, missing
    assert RUN["statuses"][500] == 0
    assert seconds < 60
