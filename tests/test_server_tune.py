"""Tune from the web studio: `POST /api/tune` runs `lorastudio tune` as a job; its trials come back
with the job as they finish, and the best trial becomes an adapter in the registry.

The real runs use the conftest tiny model (two trials of ~15 s each on CPU); the status mapping
is checked on hand-made tune folders, as tune writes them, so each outcome is seen without training."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeEngine, fake_run, queue_only

from lorastudio.server import create_app
from lorastudio.server import tune_jobs
from lorastudio.server.jobs import CANCELLED, DONE, FAILED, JobRunner, JobStore

MARKERS = "俺老孙,嘿嘿,呔"
TUNE = {"data": "wukong_train.json", "probes": "wukong_probes.jsonl", "markers": MARKERS}


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LORASTUDIO_HOME", str(home))
    return home


def poll(client, job_id: int, until, timeout: float = 120) -> list[dict]:
    """Every state of the job seen every 0.2 s until `until(job)`; the last is the one that met it."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        seen.append(job)
        if until(job):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never got there; last: {json.dumps(seen[-1], ensure_ascii=False)[:3000]}")


def ended(job) -> bool:
    return job["status"] not in ("queued", "running")


# ---------------------------------------------------------------- real tunes on the tiny model


def test_a_tune_job_fills_its_table_outlives_its_server_and_registers_the_best(home, tiny_model_dir):
    def studio():
        return TestClient(create_app(engine=FakeEngine(), home=home, model=str(tiny_model_dir), device="cpu"))

    with studio() as c:
        r = c.post("/api/tune", json={"name": "wk-tuned", "config": TUNE, "budget": "5m", "max_trials": 2})
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["kind"] == "tune" and job["tune"]["trials"] == [] and job["tune"]["max_trials"] == 2
        first = job["config"]["first_trial"]  # the recommended recipe for this data and model
        seen = poll(c, job["id"], lambda j: len(j["tune"]["trials"]) >= 1 or ended(j))
    # the first server is gone with one trial done; the tune is not: a new server re-attaches and registers its best
    with studio() as c:
        seen += poll(c, job["id"], ended)
        final = seen[-1]
        assert final["status"] == "done", final["log_tail"]

        # live: the first trial showed up while the second was still to run, and steps were counted
        assert any(j["status"] == "running" and len(j["tune"]["trials"]) == 1 for j in seen)
        training = [j["progress"] for j in seen if j["progress"].get("phase") == "training"]
        assert training and {p["trial"] for p in training} == {"trial-1", "trial-2"}
        assert all(p["total_steps"] is None or (p["step"] or 0) <= p["total_steps"] for p in training)
        assert max(p["step"] or 0 for p in training if p["trial"] == "trial-2") > 0  # steps counted as it trains

        # the table is tune.json's, row for row, with one best
        rows = final["tune"]["trials"]
        on_disk = json.loads((home / "tunes" / "wk-tuned" / "tune.json").read_text(encoding="utf-8"))
        assert [r["name"] for r in rows] == ["trial-1", "trial-2"] and all(r["status"] == "done" for r in rows)
        assert [r["settings"] for r in rows] == [t["settings"] for t in on_disk["trials"]]
        assert rows[0]["settings"] == first and rows[1]["settings"] == {**first, "lr": first["lr"] * 2}
        assert [(r["voice"], r["facts"], r["retention"], r["score"]) for r in rows] == \
            [(t["voice"], t["knowledge"], t["retention"], t["score"]) for t in on_disk["trials"]]
        assert [r["name"] for r in rows if r["best"]] == [on_disk["best"]] == [final["tune"]["best"]]
        assert final["tune"]["final"] and final["tune"]["current"] is None

        # the best trial is an adapter like a trained run: listed, with the doctor's verdict, and it chats
        assert final["tune"]["adapter"] == "wk-tuned" and final["complete"]
        listed = {a["name"]: a for a in c.get("/api/adapters").json()["adapters"]}
        assert set(listed) == {"wk-tuned"} and listed["wk-tuned"]["verdict"] in ("learned", "not_learned", "partial")
        assert listed["wk-tuned"]["steps"] == next(r["steps"] for r in rows if r["best"])
        registered = home / "runs" / "wk-tuned"
        assert not registered.is_symlink() and not (registered / "checkpoints").exists()
        assert json.loads((registered / "tune.json").read_text(encoding="utf-8"))["best"] == on_disk["best"]
        assert c.post("/api/adapters/wk-tuned/activate").status_code == 200
        answer = c.post("/api/chat", json={"messages": [{"role": "user", "content": "你是谁？"}], "stream": False}).json()
        assert answer["adapter"] == "wk-tuned"
        assert "--output " + str(home / "tunes" / "wk-tuned") in final["log_tail"] and "--max-trials 2" in final["log_tail"]
        # the name is taken now, by the tune and by its adapter
        assert c.post("/api/tune", json={"name": "wk-tuned", "config": TUNE}).status_code == 409
        assert c.post("/api/jobs", json={"name": "wk-tuned", "config": {"data": "wukong_train.json"}}).status_code == 409


def test_cancel_stops_a_running_tune_and_registers_nothing(home, tiny_model_dir):
    with TestClient(create_app(engine=FakeEngine(), home=home, model=str(tiny_model_dir), device="cpu")) as c:
        job = c.post("/api/tune", json={"name": "stop-me", "config": TUNE, "budget": "10m", "max_trials": 5}).json()
        poll(c, job["id"], lambda j: (j["progress"].get("step") or 0) >= 1 or ended(j), timeout=60)
        asked = c.post(f"/api/jobs/{job['id']}/cancel").json()
        assert asked["cancel_requested"] and asked["status"] == "running"
        stopped = poll(c, job["id"], ended, timeout=30)[-1]
        assert stopped["status"] == "cancelled" and stopped["error"] is None and stopped["returncode"] == 130
        assert "tune stopped; the trials that finished are scored in" in stopped["log_tail"]
        assert len(stopped["tune"]["trials"]) < 5 and stopped["tune"]["adapter"] is None
        assert not (home / "runs" / "stop-me").exists() and c.get("/api/adapters").json()["adapters"] == []
        with pytest.raises(ProcessLookupError):
            os.kill(stopped["pid"], 0)
        assert c.post(f"/api/jobs/{job['id']}/resume").status_code == 409  # a tune starts over; it does not resume


# ---------------------------------------------------------------- refused before anything runs


@pytest.fixture
def queued_studio(home, tiny_model_dir):
    app = queue_only(create_app(engine=FakeEngine(), home=home, model=str(tiny_model_dir), device="cpu",
                                start_runner=False))
    with TestClient(app) as c:
        yield c


def test_the_first_trials_plan_refuses_unless_forced(queued_studio, home):
    c = queued_studio
    small = {**TUNE, "data": "wukong_seed.json"}  # 20 samples: TOO_FEW_SAMPLES is an error
    err = c.post("/api/tune", json={"name": "seed", "config": small}).json()["error"]
    assert err["code"] == "plan_refused" and "TOO_FEW_SAMPLES" in [f["code"] for f in err["details"]["findings"]]
    assert c.get("/api/jobs").json()["jobs"] == []
    r = c.post("/api/tune", json={"name": "seed", "config": small, "force": True, "budget": "90s", "max_trials": 4})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "queued" and job["force"] and job["config"]["budget_seconds"] == 90
    cmd = JobRunner(JobStore(home / "jobs.sqlite"), home, device="cpu").command(JobStore(home / "jobs.sqlite").get(job["id"]))
    assert cmd[cmd.index("--budget") + 1] == "90s" and cmd[cmd.index("--max-trials") + 1] == "4" and "--force" in cmd
    assert cmd[cmd.index("--markers") + 1] == MARKERS and cmd[-2:] == ["--output", str(home / "tunes" / "seed")]


def test_refusals_speak_the_callers_language(queued_studio):
    c = queued_studio
    r = c.post("/api/tune", json={"config": {"data": "wukong_train.json"}, "budget": "15x"}, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "config_error" and "15x" in r.json()["error"]["message"]
    r = c.post("/api/tune", json={"config": {**TUNE, "data": "nope.json"}})
    assert r.status_code == 404 and "nope.json" in r.json()["error"]["message"]
    r = c.post("/api/tune", json={"config": TUNE, "budget": "15x"})
    assert r.status_code == 422 and r.json()["error"]["details"]["option"] == "--budget"
    assert c.get("/api/jobs").json()["jobs"] == []


# ---------------------------------------------------------------- status mapping on hand-made tune folders


def trial_line(name: str, score: float | None, status: str = "done") -> str:
    return json.dumps({"name": name, "settings": {"lr": 1e-4}, "status": status, "score": score, "voice": score,
                       "knowledge": score, "retention": None, "note": "" if status == "done" else "needs ~99 s"}) + "\n"


@pytest.fixture
def tune_job(tmp_path):
    """A running tune job on a fresh jobs table, its folder as `lorastudio tune` leaves it mid-way."""
    store = JobStore(tmp_path / "jobs.sqlite")
    tune_dir, runs = tmp_path / "tunes" / "t", tmp_path / "runs"
    config = {"data": "d.json", "probes": "p.jsonl", "model": "m", "markers": None, "budget": "1m", "max_trials": 3,
              "adapter_dir": str(runs / "t")}
    job = store.add("tune", "t", tune_dir, config, "cpu")
    job = store.update(job.id, status="running", started=time.time() - 5)
    fake_run(tune_dir, "trial-1")
    fake_run(tune_dir, "trial-2", loss=0.5)
    (tune_dir / "trial-1" / "checkpoints" / "step-3").mkdir(parents=True)
    (tune_dir / "trials.jsonl").write_text(trial_line("trial-1", 0.25) + trial_line("trial-2", 0.5), encoding="utf-8")
    (tune_dir / "trial-3").mkdir()
    (tune_dir / "trial-3" / "status.json").write_text(json.dumps({"state": "running", "step": 0, "total_steps": 40}))
    (tune_dir / "trial-3" / "metrics.jsonl").write_text("".join(json.dumps({"type": "step", "step": s}) + "\n" for s in (1, 2, 3)))
    return store, job, tune_dir, runs


def finish_tune(tune_dir: Path, best: str | None) -> None:
    trials = [json.loads(x) for x in (tune_dir / "trials.jsonl").read_text().splitlines()]
    (tune_dir / "tune.json").write_text(json.dumps({"best": best, "trials": trials}))
    if best:
        os.symlink(best, tune_dir / "best", target_is_directory=True)


def test_while_running_the_best_so_far_and_the_current_trial_are_shown(tune_job):
    store, job, tune_dir, _ = tune_job
    d = store.get(job.id).to_dict()
    assert [(r["name"], r["best"]) for r in d["tune"]["trials"]] == [("trial-1", False), ("trial-2", True)]
    assert d["progress"] == {"trials_done": 2, "trial": "trial-3", "phase": "training", "step": 3, "total_steps": 40}
    (tune_dir / "trial-3" / "status.json").write_text(json.dumps({"state": "done", "step": 40, "total_steps": 40}))
    assert store.get(job.id).to_dict()["progress"]["phase"] == "scoring"
    with open(tune_dir / "trials.jsonl", "a") as f:
        f.write(trial_line("trial-3", 0.5) + '{"name": "trial-4", "sco')  # a tie, and a line still being written
    d = store.get(job.id).to_dict()
    assert [r["name"] for r in d["tune"]["trials"] if r["best"]] == ["trial-2"]  # the first of equal scores, as tune picks
    assert d["progress"] == {"trials_done": 3} and d["tune"]["current"] is None


def test_a_finished_tune_is_done_and_its_best_is_copied_into_the_registry(tune_job):
    store, job, tune_dir, runs = tune_job
    finish_tune(tune_dir, "trial-1")  # tune.json decides, not the scores seen so far
    JobRunner(store, tune_dir.parent.parent, device="cpu").tick()  # no process (pid None): it has ended
    done = store.get(job.id).to_dict()
    assert done["status"] == DONE and done["error"] is None and done["complete"]
    assert [r["name"] for r in done["tune"]["trials"] if r["best"]] == ["trial-1"] and done["tune"]["adapter"] == "t"
    copied = runs / "t"
    assert (copied / "adapter" / "adapter_model.safetensors").is_file() and (copied / "tune.json").is_file()
    assert not (copied / "checkpoints").exists() and not copied.is_symlink() and not (runs / "t.tmp").exists()


def test_a_taken_adapter_name_keeps_the_tune_done_and_says_where_the_best_is(tune_job):
    store, job, tune_dir, runs = tune_job
    finish_tune(tune_dir, "trial-2")
    fake_run(runs, "t", loss=9.0)
    status, note = tune_jobs.finish(store.get(job.id))
    assert status == DONE and "already exists" in note and str(tune_dir / "trial-2") in note
    assert json.loads((runs / "t" / "manifest.json").read_text())["metrics"]["last_loss"] == 9.0  # not overwritten


@pytest.mark.parametrize("best, cancel, status, registered", [
    (None, False, FAILED, False), (None, True, CANCELLED, False), ("trial-2", True, CANCELLED, True),
    ("trial-2", False, DONE, True)], ids=["nothing-scored", "cancelled-before-a-trial-ended",
                                          "cancelled-after-trials-ended-keeps-the-best", "finished"])
def test_how_an_ended_tune_process_is_judged(tune_job, best, cancel, status, registered):
    store, job, tune_dir, runs = tune_job
    if best is not None:
        finish_tune(tune_dir, best)
    elif not cancel:
        (tune_dir / "tune.json").write_text(json.dumps({"best": None, "trials": []}))
    if cancel:
        store.update(job.id, cancel_requested=True)
    assert tune_jobs.finish(store.get(job.id))[0] == status
    assert (runs / "t").is_dir() == registered


def test_an_old_tune_json_does_not_count(tune_job):
    store, job, tune_dir, runs = tune_job
    finish_tune(tune_dir, "trial-2")
    os.utime(tune_dir / "tune.json", (time.time() - 3600, time.time() - 3600))  # written before this job started
    assert tune_jobs.finish(store.get(job.id)) == (FAILED, None) and not (runs / "t").exists()
