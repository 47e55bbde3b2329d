"""A scripted chat engine with the ChatEngine interface the server uses, and fake run folders.

The fake answers "[ADAPTER] you said: PROMPT", so a test can see which adapter answered
without loading weights. It is handed to `create_app(engine=...)`, the same way a real
ChatEngine is; adapters are read from disk through the real registry and `read_adapter`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from lorastudio.server.jobs import JobRunner
from lorastudio.serving.engine import BASE, Generation, GenerationConfig, read_adapter


class FakeEngine:
    def __init__(self, model_name: str = "fake-base"):
        self.model_name = model_name
        self.device = "cpu"
        self.adapters: dict = {}
        self.active = BASE
        self.calls: list[tuple[str, list[dict]]] = []

    def add_adapter(self, name, path):
        info = read_adapter(name, path)
        self.adapters[name] = info
        return info

    def remove_adapter(self, name):
        del self.adapters[name]
        if self.active == name:
            self.active = BASE

    def activate(self, name):
        name = name or BASE
        if name != BASE and name not in self.adapters:
            raise KeyError(name)
        self.active = name

    def _answer(self, messages, adapter) -> tuple[str, str]:
        name = self.active if adapter is None else adapter
        if name != BASE and name not in self.adapters:
            raise KeyError(name)
        self.calls.append((name, messages))
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return name, f"[{name}] you said: {prompt}"

    def generate(self, messages, adapter=None, config: GenerationConfig | None = None) -> Generation:
        name, text = self._answer(messages, adapter)
        return Generation(text, len(text.split()), 0.01, adapter=name)

    def stream(self, messages, adapter=None, config: GenerationConfig | None = None):
        _, text = self._answer(messages, adapter)
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    def template_sha256(self, adapter=None) -> str:
        name = self.active if adapter is None else adapter
        return "sha-" + name


def tiny_trained_run(base_temp: Path, model_dir: Path) -> Path:
    """A real run (manifest + adapter) on the tiny model, trained once per test session and
    copied by the tests that change it. `init_identity=False` so the adapter differs from the
    base from step 0, or base-versus-adapter comparisons would pass without testing anything."""
    from lorastudio.config import make_config
    from lorastudio.training.loop import train

    run = base_temp / "tiny-run" / "wukong-tiny"
    if not (run / "manifest.json").is_file():
        examples = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
        config = make_config(model=str(model_dir), data=str(examples / "wukong_seed.json"), output=str(run),
                             epochs=1, batch_size=4, grad_accum=1, lr=1e-3, lora_r=4, lora_alpha=8,
                             init_identity=False, doctor=False, probes=str(examples / "wukong_probes.jsonl"),
                             markers=["俺老孙", "嘿嘿", "呔"], auto=False)
        train(config, force=True)
    return run


def fake_run(runs: Path, name: str, loss: float = 1.25, verdict: str | None = "learned",
             probes: Path | None = None, base: str = "fake-base") -> Path:
    """A complete-looking run folder: manifest.json and adapter/ (weights are placeholder bytes)."""
    run = runs / name
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"r": 4, "peft_type": "LORA"}))
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    config = {"model": base, "data": "x.json", "output": str(run), "epochs": 1, "lora_r": 4,
              "probes": str(probes) if probes else None, "markers": ["俺老孙"]}
    manifest = {"format": "lorastudio-run/1", "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "config": config,
                "base_model": {"spec": base}, "chat_template_sha256": "abc",
                "metrics": {"steps": 3, "first_loss": 2.0, "last_loss": loss, "eval_loss": None}}
    (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"type": "step", "step": i + 1, "loss": 2.0 - i * 0.3}) + "\n"
                                              for i in range(3)))
    (run / "status.json").write_text(json.dumps({"state": "done", "step": 3, "total_steps": 3}))
    if verdict:
        (run / "doctor.json").write_text(json.dumps({"verdict": verdict, "findings": []}))
    return run


class QueueOnlyRunner(JobRunner):
    """The real runner minus its reconciliation, which is what starts processes: submitted jobs
    are recorded and stay queued. For tests that may submit a job but must never train."""

    def tick(self) -> None:
        pass


def queue_only(app):
    """Swap the app's job runner for a QueueOnlyRunner on the same jobs table."""
    studio = app.state.studio
    studio.runner = QueueOnlyRunner(studio.jobs, studio.settings.home, device="cpu")
    return app


class _Touch:
    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):  # unpickling calls Path.touch(path): the file appearing proves it ran
        return (Path.touch, (Path(self.path),))


def booby_trapped_pickle(marker: Path) -> bytes:
    """A pickle that creates `marker` when unpickled, to prove weights files are never unpickled."""
    import pickle

    return pickle.dumps({"state_dict": _Touch(marker)}, protocol=4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_loopback(app):
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
