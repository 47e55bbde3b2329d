"""The chat engine: one base model in memory, many LoRA adapters, switched without reloading.

Base-versus-adapter comparisons run on the same loaded weights: "base" disables every
adapter for the call (PEFT's `disable_adapter`), an adapter name activates that adapter. Each
adapter is rendered with the chat template it was trained with (from its run manifest), so
chat never silently uses a different template than training did.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from ..data.formatting import END_OF_TURN_MARKERS, encode_prompt, template_hash
from ..errors import ModelError, RunError
from ..models import load_model, load_tokenizer, logits_at, pick_device, resolve_model
from ..run_folder import RunFolder

BASE = "base"  # the name that selects the base model with every adapter off


@dataclass
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 → greedy, the default: comparisons must be reproducible
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None


@dataclass
class Generation:
    text: str
    n_tokens: int
    seconds: float
    adapter: str = BASE
    stopped: bool | None = None  # ended on a stop token (False: ran to max_new_tokens); None: not known

    @property
    def tokens_per_sec(self) -> float:
        return self.n_tokens / self.seconds if self.seconds else 0.0


@dataclass
class AdapterInfo:
    name: str
    path: str  # the adapter folder (adapter_config.json + adapter_model.safetensors)
    run_dir: str | None = None
    manifest: dict = field(default_factory=dict)

    @property
    def chat_template(self) -> str | None:
        return self.manifest.get("chat_template")


def resolve_adapter_dir(path: str | Path) -> tuple[Path, Path | None]:
    """A run folder or an adapter folder → (adapter folder, run folder or None)."""
    p = Path(path)
    if (RunFolder(p).adapter_dir / "adapter_config.json").is_file():
        return RunFolder(p).adapter_dir, p
    if (p / "adapter_config.json").is_file():
        run = p.parent if RunFolder(p.parent).manifest_file.is_file() else None
        return p, run
    raise RunError(f"no adapter in {p}", fix="pass a run folder (with adapter/) or a folder holding adapter_config.json")


def read_adapter(name: str, path: str | Path) -> AdapterInfo:
    adapter_dir, run_dir = resolve_adapter_dir(path)
    if not (adapter_dir / "adapter_model.safetensors").is_file():
        raise RunError(
            f"{adapter_dir} has no adapter_model.safetensors (pickled .bin adapters are not loaded: unpickling can run code)",
            fix="re-save the adapter with save_pretrained(..., safe_serialization=True)",
        )
    manifest = (RunFolder(run_dir).manifest() if run_dir is not None else None) or {}
    return AdapterInfo(name, str(adapter_dir), str(run_dir) if run_dir else None, manifest)


class ChatEngine:
    def __init__(self, model, tokenizer, device: str = "cpu", model_name: str = BASE):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.model_name = model_name
        self.adapters: dict[str, AdapterInfo] = {}
        self.active: str = BASE
        self._lock = threading.RLock()  # one generation at a time on the shared weights
        self.eos_ids = self._end_ids()

    @classmethod
    def load(cls, model: str | None = None, dtype: str = "auto", trust_remote_code: bool = False) -> "ChatEngine":
        source = resolve_model(model)
        device = pick_device(dtype)
        tok = load_tokenizer(source, trust_remote_code)
        m = load_model(source, device.dtype, device.device, trust_remote_code)
        m.eval()
        return cls(m, tok, device.device, model_name=source.spec)

    def _end_ids(self) -> list[int]:
        vocab = self.tokenizer.get_vocab()
        ids = {self.tokenizer.eos_token_id} | {vocab[m] for m in END_OF_TURN_MARKERS if m in vocab}
        return sorted(i for i in ids if i is not None)

    # ---- adapters ---------------------------------------------------------------------------
    def add_adapter(self, name: str, path: str | Path) -> AdapterInfo:
        from peft import PeftModel

        from ..models.fused_lora import fuse_lora_layers

        info = read_adapter(name, path)
        with self._lock:
            if name in self.adapters:
                self.remove_adapter(name)
            try:
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(info.path, adapter_name=name, is_trainable=False)
                else:
                    self.model = PeftModel.from_pretrained(self.model, info.path, adapter_name=name, is_trainable=False)
            except (ValueError, KeyError, RuntimeError) as e:
                raise ModelError(f"adapter {info.path} does not fit the loaded base model: {e}",
                                 fix="load the base model the adapter was trained on (see its manifest.json)") from e
            fuse_lora_layers(self.model)  # fewer passes per layer and token, same outputs
            self.model.eval()
            self.adapters[name] = info
        return info

    def remove_adapter(self, name: str) -> None:
        with self._lock:
            if name not in self.adapters:
                raise RunError(f"no adapter named '{name}' is loaded", fix=f"loaded: {', '.join(self.adapters) or 'none'}")
            self.model.delete_adapter(name)
            del self.adapters[name]
            if self.active == name:
                self.active = BASE

    def activate(self, name: str | None) -> None:
        """Make `name` the default for calls that name no adapter; BASE or None turns adapters off."""
        name = name or BASE
        if name != BASE and name not in self.adapters:
            raise RunError(f"no adapter named '{name}' is loaded", fix=f"loaded: {', '.join(self.adapters) or 'none'}")
        self.active = name

    @contextmanager
    def using(self, adapter: str | None):
        """Run a block with exactly one adapter on (or none for BASE)."""
        name = self.active if adapter is None else adapter
        if name == BASE:
            ctx = self.model.disable_adapter() if self.adapters else nullcontext()
            with self._lock, ctx:
                yield name
            return
        if name not in self.adapters:
            raise RunError(f"no adapter named '{name}' is loaded", fix=f"loaded: {', '.join(self.adapters) or 'none'}")
        with self._lock:
            # set_adapter walks every LoRA layer (1-8 ms on SmolLM2); chat mostly asks for the
            # adapter that is already on, so only switch when it changes.
            if self.model.active_adapter != name:
                self.model.set_adapter(name)
            yield name

    def template_for(self, adapter: str) -> str | None:
        info = self.adapters.get(adapter)
        return info.chat_template if info else None

    def template_sha256(self, adapter: str | None = None) -> str:
        name = self.active if adapter is None else adapter
        return template_hash(self.template_for(name) or self.tokenizer.chat_template or "")

    # ---- generation -------------------------------------------------------------------------
    def encode(self, messages: list[dict], adapter: str) -> torch.Tensor:
        ids = encode_prompt(self.tokenizer, messages, chat_template=self.template_for(adapter))
        return torch.tensor([ids], device=self.device)

    def _generate_kwargs(self, cfg: GenerationConfig) -> dict:
        kw = {"max_new_tokens": cfg.max_new_tokens, "eos_token_id": self.eos_ids,
              "pad_token_id": self.tokenizer.pad_token_id, "repetition_penalty": cfg.repetition_penalty}
        if cfg.temperature > 0:
            kw.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k or None)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def stream(self, messages: list[dict], adapter: str | None = None, config: GenerationConfig | None = None,
               stats: dict | None = None) -> Iterator[str]:
        """Yield text pieces as they are generated. `stats`, when given, gets `n_tokens`: the
        tokens generated (pieces are not tokens: the streamer holds text back until it decodes)."""
        from transformers import TextIteratorStreamer

        cfg = config or GenerationConfig()
        with self.using(adapter) as name:
            ids = self.encode(messages, name)
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            if stats is not None:
                stats["n_tokens"] = 0
                put = streamer.put

                def counting_put(value):  # the first call is the prompt, which skip_prompt drops
                    if not streamer.next_tokens_are_prompt:
                        stats["n_tokens"] += int(value.numel())
                    put(value)

                streamer.put = counting_put
            if cfg.seed is not None:
                torch.manual_seed(cfg.seed)
            kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer, **self._generate_kwargs(cfg))
            errors: list[BaseException] = []

            def run():
                try:
                    with torch.inference_mode():
                        self.model.generate(**kw)
                except BaseException as e:  # re-raised in the caller's thread below
                    errors.append(e)
                    streamer.end()

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            yield from without_cut_character(streamer)
            worker.join()
            if errors:
                raise errors[0]

    def generate(self, messages: list[dict], adapter: str | None = None, config: GenerationConfig | None = None) -> Generation:
        cfg = config or GenerationConfig()
        with self.using(adapter) as name:
            ids = self.encode(messages, name)
            if cfg.seed is not None:
                torch.manual_seed(cfg.seed)
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **self._generate_kwargs(cfg))
            seconds = time.perf_counter() - t0
        new = out[0, ids.shape[1]:].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        # A character whose bytes max_new_tokens cut in half decodes as U+FFFD: drop it, not show it.
        stopped = bool(new) and new[-1] in set(self.eos_ids)  # an answer may end on its stop token exactly at the limit
        return Generation(text.strip().rstrip("\ufffd"), len(new), seconds, adapter=name, stopped=stopped)

    @torch.no_grad()
    def next_token_logprobs(self, messages: list[dict], adapter: str | None = None) -> torch.Tensor:
        """log-probabilities of the first answer token, (V,): for base-vs-adapter KL."""
        with self.using(adapter) as name:
            ids = self.encode(messages, name)
            last = torch.tensor([ids.shape[1] - 1], device=ids.device)  # the output layer at the last position only
            logits = logits_at(self.model, ids, last)[0, -1].float()
        return torch.log_softmax(logits, dim=-1)


def without_cut_character(pieces) -> Iterator[str]:
    """Stream pieces as they come, except a trailing U+FFFD: the streamer holds back an incomplete
    character until the end, where a character cut by max_new_tokens is flushed as U+FFFD."""
    held = ""
    for piece in pieces:
        piece, held = held + piece, ""
        if piece.endswith("\ufffd"):
            held = piece  # wait: more bytes may complete it, or the stream ends here
            continue
        yield piece
    if held.rstrip("\ufffd"):
        yield held.rstrip("\ufffd")
