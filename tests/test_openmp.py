"""The OpenMP wait decision (lorastudio/openmp.py): a short spin only on idle CPUs, the user's
settings kept, and the CLI deciding only for the verbs that compute."""

import subprocess
import sys

import pytest

from lorastudio import cli, openmp


@pytest.fixture
def machine(monkeypatch):
    """A 4-CPU machine whose idle CPUs the test sets; torch not yet imported."""
    state = {"idle": 4.0}
    monkeypatch.setattr(openmp, "_allowed_cpus", lambda: {0, 1, 2, 3})
    monkeypatch.setattr(openmp, "idle_cpus", lambda cpus, window=0: state["idle"])
    monkeypatch.delitem(sys.modules, "torch")  # put back after the test
    return state


def test_idle_cpus_get_the_short_spin(machine):
    env = {}
    assert openmp.set_wait_policy(env) == "spin"
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": str(openmp.SPIN)}


@pytest.mark.parametrize("idle", [3.5, 1.0, 0.0])
def test_a_busy_cpu_keeps_passive_waits(machine, idle):
    machine["idle"] = idle
    env = {}
    assert openmp.set_wait_policy(env) == "passive"
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.parametrize("env", [{"GOMP_SPINCOUNT": "0"}, {"OMP_WAIT_POLICY": "active"},
                                 {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300"}])
def test_the_users_setting_wins(machine, env):
    before = dict(env)
    assert openmp.set_wait_policy(env) == "user"
    assert env.get("GOMP_SPINCOUNT") == before.get("GOMP_SPINCOUNT")
    assert env["OMP_WAIT_POLICY"] == before.get("OMP_WAIT_POLICY", "PASSIVE")


def test_no_spin_once_torch_is_loaded_or_for_ranks(machine, monkeypatch):
    env = {"WORLD_SIZE": "2"}
    assert openmp.set_wait_policy(env) == "passive" and "GOMP_SPINCOUNT" not in env
    monkeypatch.setitem(sys.modules, "torch", object())
    env = {}
    assert openmp.set_wait_policy(env) == "passive" and "GOMP_SPINCOUNT" not in env


def test_one_cpu_never_spins(machine, monkeypatch):
    monkeypatch.setattr(openmp, "_allowed_cpus", lambda: {0})
    machine["idle"] = 1.0
    assert openmp.set_wait_policy({}) == "passive"


def test_idle_cpus_reads_proc_stat(tmp_path, monkeypatch):
    """Two snapshots: cpu0 idle 90 of 100 ticks, cpu1 idle 0 of 100, cpu2 not ours."""
    snaps = iter([
        "cpu  0 0 0 0 0 0 0 0\ncpu0 100 0 0 1000 0 0 0 0\ncpu1 100 0 0 1000 0 0 0 0\ncpu2 0 0 0 0 0 0 0 0\n",
        "cpu  0 0 0 0 0 0 0 0\ncpu0 105 0 5 1085 5 0 0 0\ncpu1 180 0 20 1000 0 0 0 0\ncpu2 0 0 0 500 0 0 0 0\n",
    ])
    stat = tmp_path / "stat"

    def write_next(seconds):
        stat.write_text(next(snaps, ""))

    write_next(0)
    monkeypatch.setattr(openmp, "PROC_STAT", str(stat))
    monkeypatch.setattr(openmp.time, "sleep", write_next)
    assert openmp.idle_cpus({0, 1}) == pytest.approx(0.9)
    monkeypatch.setattr(openmp, "PROC_STAT", str(tmp_path / "missing"))
    assert openmp.idle_cpus({0, 1}) is None


@pytest.mark.parametrize("argv, decides", [(["train", "--config", "c.json"], True), (["demo"], True),
                                           (["doctor", "run"], True), (["train", "--help"], False),
                                           (["data", "inspect", "x.json"], False), (["serve"], False), ([], False)])
def test_the_cli_decides_for_computing_verbs_only(monkeypatch, argv, decides):
    calls = []
    monkeypatch.setattr(cli, "set_wait_policy", lambda: calls.append(1))
    monkeypatch.setattr(cli, "app", lambda: None)
    monkeypatch.setattr(sys, "argv", ["lorastudio", *argv])
    cli.main()
    assert bool(calls) == decides


def test_a_fresh_process_sets_the_spin_before_torch_loads():
    """In a new process (torch not loaded), on this machine as it is: the variable is set exactly
    when the decision says spin, and torch still imports after it."""
    code = ("import os; os.environ.pop('GOMP_SPINCOUNT', None); os.environ.pop('OMP_WAIT_POLICY', None)\n"
            "from lorastudio.openmp import set_wait_policy, SPIN\n"
            "d = set_wait_policy(); assert d in ('spin', 'passive'), d\n"
            "assert (os.environ.get('GOMP_SPINCOUNT') == str(SPIN)) == (d == 'spin')\n"
            "import torch; torch.ones(2).sum()\nprint(d)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("spin", "passive")
