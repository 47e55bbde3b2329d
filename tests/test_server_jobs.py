"""Training jobs for real: `python -m lorastudio train` subprocesses on the tiny model, watched
by the SQLite job runner; restarts, a killed process, cancel, resume and the queue."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from lorastudio.server import create_app


def make_app(home, model_dir):
    return create_app(home=home, model=str(model_dir), device="cpu")


def submit(client, name: str, **config):
    # mix_general and eval_split given: the step counts below are the data's alone, not the recipe's
    config = {"data": "wukong_train.json", "epochs": 1, "batch_size": 8, "grad_accum": 1, "doctor": False,
              "mix_general": 0, "eval_split": 0, **config}
    r = client.post("/api/jobs", json={"name": name, "force": True, "config": config})
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(client, job_id: int, until, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached the state; last: {json.dumps(job)[:2000]}")


def has_steps(n: int):
    return lambda job: (job["progress"].get("step") or 0) >= n or job["status"] in ("done", "failed")


def events(client, job_id: int) -> list[tuple[str, dict]]:
    out, name = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                out.append((name, json.loads(line[5:])))
    return out


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LORASTUDIO_HOME", str(home))
    return home


def test_a_new_server_reattaches_to_a_running_job_and_its_curve(home, tiny_model_dir):
    with TestClient(make_app(home, tiny_model_dir)) as c:
        job = submit(c, "reattach", epochs=2)
        wait_for(c, job["id"], has_steps(1))
    # the first server is gone; the training process is not
    with TestClient(make_app(home, tiny_model_dir)) as c:
        assert c.get(f"/api/jobs/{job['id']}").json()["status"] in ("running", "done")
        seen = events(c, job["id"])
        steps = [e["step"] for name, e in seen if name == "metric" and e["type"] == "step"]
        assert steps == list(range(1, 41))  # 155 samples / batch 8 = 20 steps x 2 epochs, all replayed
        assert seen[-1] == ("end", {"status": "done"})
        final = c.get(f"/api/jobs/{job['id']}").json()
        assert final["status"] == "done" and final["complete"] and final["plan"]["plan"]["total_steps"] == 40
        assert [a["name"] for a in c.get("/api/adapters").json()["adapters"]] == ["reattach"]


def test_a_job_whose_process_died_shows_failed_with_its_log(home, tiny_model_dir):
    with TestClient(make_app(home, tiny_model_dir)) as c:
        job = submit(c, "killed", epochs=50)
        running = wait_for(c, job["id"], has_steps(1))
        os.kill(running["pid"], signal.SIGKILL)
    with TestClient(make_app(home, tiny_model_dir)) as c:
        dead = wait_for(c, job["id"], lambda j: j["status"] != "running", timeout=10)
        assert dead["status"] == "failed"
        assert "ended without finishing" in dead["error"] or "code -9" in dead["error"]
        assert "step 1/" in dead["log_tail"]  # the trainer's own progress lines
        assert c.get("/api/adapters").json()["adapters"] == []


def test_queue_cancel_checkpoint_and_resume(home, tiny_model_dir):
    with TestClient(make_app(home, tiny_model_dir)) as c:
        long = submit(c, "long", data="wukong_seed.json", epochs=15, batch_size=2)  # 10 steps x 15 epochs
        queued = submit(c, "queued", data="wukong_seed.json")
        assert queued["status"] == "queued"  # one training at a time per device
        cancelled = c.post(f"/api/jobs/{queued['id']}/cancel").json()
        assert cancelled["status"] == "cancelled" and cancelled["pid"] is None  # dropped before it ever ran

        wait_for(c, long["id"], has_steps(1))
        assert c.post(f"/api/jobs/{long['id']}/cancel").json()["cancel_requested"]
        stopped = wait_for(c, long["id"], lambda j: j["status"] != "running")
        assert stopped["status"] == "cancelled" and stopped["has_checkpoint"]  # SIGINT: checkpoint, then exit
        stopped_at = stopped["progress"]["step"]
        assert 0 < stopped_at < 150

        resumed = c.post(f"/api/jobs/{long['id']}/resume").json()
        assert resumed["status"] in ("queued", "running") and resumed["resume"]
        done = wait_for(c, long["id"], lambda j: j["status"] not in ("queued", "running"))
        assert done["status"] == "done", done.get("log_tail")
        steps = [r["step"] for r in c.get(f"/api/jobs/{long['id']}/metrics").json()["rows"] if r["type"] == "step"]
        assert steps == list(range(1, 151))  # the resumed run continued from its checkpoint, no gap or repeat
        assert "--resume" in done["log_tail"] or c.get(f"/api/jobs/{long['id']}/log").json()["log"].count("--resume")
        assert c.post(f"/api/jobs/{long['id']}/resume").status_code == 409
