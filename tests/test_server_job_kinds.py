"""The kinds of job (job_kinds.py): each gives the runner everything it asks of a kind, on a job
with nothing written yet; an unknown kind is refused before it is recorded."""

from __future__ import annotations

import inspect

import pytest

from lorastudio.server.job_kinds import KINDS, JobKind, UnknownJobKind, kind_of
from lorastudio.server.jobs import FAILED, JobRunner, JobStore

CONFIGS = {"train": {"data": "d.json"}, "doctor": {},
           "tune": {"data": "d.json", "model": "m", "budget": "90s", "max_trials": 2}}
INTERFACE = ("command", "marker", "finish", "progress", "summary", "phase", "verdict", "checkpoint_steps")


@pytest.fixture
def runner(tmp_path):
    return JobRunner(JobStore(tmp_path / "jobs.sqlite"), tmp_path, device="cpu")


def test_the_registry_names_each_kind_by_its_own_name():
    assert sorted(KINDS) == ["doctor", "train", "tune"] == sorted(CONFIGS)
    assert all(isinstance(k, JobKind) and k.name == name and kind_of(name) is k for name, k in KINDS.items())
    assert [name for name, k in KINDS.items() if k.resumable] == ["train"]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_provides_the_whole_interface(runner, tmp_path, name):
    kind = KINDS[name]
    assert all(callable(getattr(kind, m)) for m in INTERFACE)
    for m in ("command", "marker", "finish"):  # what the base cannot know
        assert getattr(type(kind), m) is not getattr(JobKind, m), f"{name} does not define {m}"
    job = runner.store.add(name, "r", tmp_path / "runs" / "r", CONFIGS[name], "cpu", force=True)
    assert job.kind_spec is kind and job.kind == name
    cmd = runner.command(job)
    assert cmd[2:4] == ["lorastudio", name] and ("--force" in cmd) == (name != "doctor")
    # the runner re-attaches by finding the marker in /proc/PID/cmdline: NUL-separated arguments
    assert runner.marker(job) in "\0".join(cmd) + "\0"
    assert kind.finish(job, 1) == (FAILED, None)  # nothing written: failed
    d = job.to_dict()
    assert d["kind"] == name and {"progress", "complete", "phase", "verdict"} <= set(d) and d["complete"] is False
    assert ("tune" in d) == (name == "tune") and d["phase"] == "queued"
    assert kind.checkpoint_steps(job, 10) == [] and kind.phase(job, {}) in (None, "starting")
    assert inspect.signature(kind.finish).parameters.keys() == {"job", "rc"}


def test_an_unknown_kind_is_refused_naming_the_known_ones(runner, tmp_path):
    with pytest.raises(UnknownJobKind, match="no job kind 'export'; the runner knows doctor, train, tune"):
        kind_of("export")
    with pytest.raises(ValueError, match="'export'"):
        runner.submit("export", "r", tmp_path / "runs" / "r", {})
    assert runner.store.list() == []
