"""The run folder's one owner (run_folder.py): when a run is complete, how each file reads back
(every key kept, a damaged file named), and that what the writers write the readers read."""

from __future__ import annotations

import json

import pytest

from lorastudio.config import TrainConfig
from lorastudio.errors import RunError
from lorastudio.run_folder import RunFolder, with_train_defaults


def _finished(path):
    folder = RunFolder(path)
    path.mkdir(parents=True, exist_ok=True)
    folder.write_manifest({"format": "lorastudio-run/1", "config": {"model": "tiny", "lr": 2e-4},
                           "metrics": {"steps": 3}, "findings": [], "base_model": {"spec": "tiny"}})
    folder.adapter_dir.mkdir()
    (folder.adapter_dir / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def test_a_run_is_complete_with_its_manifest_and_adapter_weights_only(tmp_path):
    folder = _finished(tmp_path / "run")
    assert folder.is_complete() and folder.holds_run()
    (folder.adapter_dir / "adapter_model.safetensors").unlink()
    assert not folder.is_complete()  # a manifest alone is not a finished adapter

    started = RunFolder(tmp_path / "started")
    started.path.mkdir()
    started.write_status("running", step=2, total_steps=9)
    assert not started.is_complete() and not started.holds_run()

    being_written = _finished(tmp_path / "copy.tmp")
    assert not being_written.is_complete()  # a .tmp folder is never a run yet


def test_a_checkpoint_counts_once_its_state_is_written(tmp_path):
    folder = RunFolder(tmp_path)
    (folder.checkpoints_dir / "step-4").mkdir(parents=True)
    (folder.checkpoints_dir / "step-10").mkdir()
    (folder.checkpoints_dir / "step-12.tmp").mkdir()
    assert folder.checkpoints() == [] and not folder.holds_run()
    for step in ("step-4", "step-10", "step-12.tmp"):
        (folder.checkpoints_dir / step / "state.json").write_text("{}")
    assert [p.name for p in folder.checkpoints()] == ["step-4", "step-10"]  # by step, not by name
    assert folder.holds_run()


@pytest.mark.parametrize("name, read", [("manifest.json", "manifest"), ("plan.json", "plan"),
                                        ("status.json", "status"), ("doctor.json", "doctor_report"),
                                        ("config.json", "config")])
def test_a_damaged_file_is_named_and_a_missing_one_reads_as_none(tmp_path, name, read):
    folder = RunFolder(tmp_path)
    assert getattr(folder, read)() is None
    (tmp_path / name).write_text('{"state": "runn', encoding="utf-8")
    with pytest.raises(RunError) as e:
        getattr(folder, read)()
    assert str(tmp_path / name) in e.value.message and "not valid JSON" in e.value.message
    assert getattr(folder, read)(quiet=True) is None  # a listing goes on with the other runs
    (tmp_path / name).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(RunError, match="not an object"):
        getattr(folder, read)()


def test_unknown_keys_are_kept_and_known_ones_typed(tmp_path):
    folder = RunFolder(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"config": {"lr": 1e-3, "from_a_newer_version": 1}, "created": "2026-01-01", "future_key": [1, 2],
         "base_model": "not a dict"}), encoding="utf-8")
    manifest = folder.manifest()
    assert manifest["future_key"] == [1, 2] and manifest.config["from_a_newer_version"] == 1
    assert manifest.created == "2026-01-01" and manifest.base_model == {} and manifest.findings == []
    (tmp_path / "doctor.json").write_text(json.dumps(
        {"verdict": {"code": "learned"}, "effect": {"markers": {"markers": ["俺老孙"]}}, "extra": True}))
    report = folder.doctor_report()
    assert report.verdict == "learned" and report.markers == ["俺老孙"] and report["extra"] is True


def test_what_training_writes_reads_back(tmp_path):
    folder = RunFolder(tmp_path)
    config = TrainConfig(model="tiny", data="d.json", output=str(tmp_path), lr=3e-4)
    folder.write_config(config)
    folder.write_plan({"plan": {"total_steps": 9}, "findings": [{"code": "X"}], "auto": {}, "memory": None})
    folder.write_status("running", step=3, total_steps=9)
    folder.write_heldout([{"prompt": "你是谁？", "expect_any": []}])
    log = folder.metrics_log()
    for step in (1, 2, 3):
        log.write({"type": "step", "step": step, "loss": 2.0 / step})
    log.close()
    assert folder.config()["lr"] == 3e-4 and folder.config()["model"] == "tiny"
    assert folder.plan().plan == {"total_steps": 9} and folder.plan().findings == [{"code": "X"}]
    status = folder.status()
    assert (status.state, status.step, status.total_steps) == ("running", 3, 9) and status.updated > 0
    assert folder.heldout() == tmp_path / "heldout.jsonl"
    assert [r["step"] for r in folder.metrics()] == [1, 2, 3] and folder.last_step() == 3
    # a resume from step 2 cuts the log back to its checkpoint
    folder.metrics_log(resume_step=2).close()
    assert [r["step"] for r in folder.metrics()] == [1, 2]
    folder.write_doctor_report({"verdict": "learned"}, "# doctor\n")
    assert folder.doctor_report().verdict == "learned" and (tmp_path / "doctor.md").read_text() == "# doctor\n"


def test_the_log_tail_keeps_the_last_state_of_a_redrawn_line(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.log_tail() == ""
    folder.log_file("train").write_text("$ lorastudio train\nstep 1/9\rstep 2/9\rstep 3/9\ndone\n")
    assert folder.log_tail(lines=2) == "step 3/9\ndone"
    assert folder.log_file("doctor").name == "doctor.log"


def test_a_config_given_in_part_reads_with_train_config_defaults():
    filled = with_train_defaults({"lr": 1e-3})
    assert filled["lr"] == 1e-3 and filled["lora_r"] == TrainConfig.model_fields["lora_r"].default
    assert filled["epochs"] == TrainConfig.model_fields["epochs"].default


def test_following_the_metrics_gives_whole_new_lines_and_a_reset_when_cut_back(tmp_path):
    folder = RunFolder(tmp_path)
    follow = folder.follow_metrics()
    assert follow.read() == (False, [])  # no file yet
    log = folder.metrics_log()
    log.write({"type": "step", "step": 1})
    log.write({"type": "step", "step": 2})
    with open(folder.metrics_file, "a", encoding="utf-8") as f:
        f.write('{"type": "step", "st')  # a line being written
    assert follow.read() == (False, [{"type": "step", "step": 1}, {"type": "step", "step": 2}])
    with open(folder.metrics_file, "a", encoding="utf-8") as f:
        f.write('ep": 3}\n')
    assert follow.read() == (False, [{"type": "step", "step": 3}])
    log.close()
    folder.metrics_log(resume_step=1).close()  # a resume from step 1 rewrites the log
    assert follow.read() == (True, [{"type": "step", "step": 1}])
