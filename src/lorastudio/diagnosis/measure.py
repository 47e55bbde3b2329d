"""The doctor's measurements: load the reference model (the run's adapter on its base, switched
by PEFT), read the run's data and probes, and measure (effect.py, knowledge.py, voice.py,
leak.py, answers.py, chatpath.py) what rules.py then judges.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import saved_config
from ..data.formatting import tokenize_sample
from ..data.prepare import load_general, prepare
from ..data.readers import load_dataset
from ..errors import StudioError
from ..models import load_model, load_tokenizer, pick_device, resolve_model
from ..run_folder import RunFolder
from .answers import answer_shapes
from .chatpath import EngineChat, ServerChat, check_chat_path, explain_served
from .effect import (
    MAX_TRAIN_SAMPLES, Probe, Reference, adapter_weight_stats, has_any, probe_from_sample, rates, read_probes,
    reference_answerer, spread,
)
from .knowledge import GENERAL_MAX_NEW_TOKENS, general_probes, measure, retention
from .leak import clean_probes, trained_prompts
from .likelihood import compare_loss, kl_summary, next_token_kl
from .served import settled
from .thresholds import Thresholds
from .voice import content_scores, derive_markers, heads

SERVING_PROBES = 4  # prompts asked twice (adapter, base) through the chat path
SERVING_FIRST = 2  # asked before the check may stop (served.settled): the rest only when these leave doubt
TRAINING_PROMPTS = "training prompts (no held-out data)"  # the probe source of last resort


def reference_tokenizer(source, manifest: dict):
    """A tokenizer of its own, with the chat template the run trained with."""
    tok = load_tokenizer(source, manifest["config"].get("trust_remote_code", False))
    if manifest.get("chat_template"):
        tok.chat_template = manifest["chat_template"]
    return tok


def load_reference(source, manifest: dict, adapter_dir: Path) -> Reference:
    from peft import PeftModel

    from ..models.fused_lora import fuse_lora_layers

    config = manifest["config"]
    device = pick_device(config.get("dtype", "auto"))
    base = load_model(source, device.dtype, device.device, config.get("trust_remote_code", False))
    model = PeftModel.from_pretrained(base, str(adapter_dir), adapter_name="doctor", is_trainable=False)
    fuse_lora_layers(model)
    model.eval()
    return Reference(model, "doctor", reference_tokenizer(source, manifest), device.device)


def _find_adapter(engine, adapter_dir: Path) -> str | None:
    for name, info in getattr(engine, "adapters", {}).items():
        if Path(info.path).resolve() == adapter_dir.resolve():
            return name
    return None


def training_data(config: dict, manifest: dict, tok, notes: list[str]):
    try:
        trained = saved_config(config)
        dataset = load_dataset(trained.data, trained.vars)
        eval_ds = load_dataset(trained.eval_data, trained.vars) if trained.eval_data else None
        prepared = prepare(dataset, tok, trained.model_copy(update={"mix_general": 0.0}), eval_ds)
    except StudioError as e:
        notes.append(f"training data not readable ({e.message}): training-sample loss not measured")
        return None
    if dataset.sha256 != (manifest.get("dataset") or {}).get("sha256"):
        notes.append(f"{config['data']} changed since training: losses are measured on its current content")
    return dataset, eval_ds, prepared


def _probe_sources(probes: str | None, config: dict, data, run_dir: Path):
    """(probes, source) in order of preference, each whole: the --probes file, the run's probes
    file, the held-out prompts training made (data/heldout.py, never trained on), the eval
    samples, and last the training prompts themselves."""
    for path in dict.fromkeys(p for p in (probes, config.get("probes")) if p):
        yield read_probes(path), str(path)
    made = RunFolder(run_dir).heldout()
    if made is not None:
        yield read_probes(made), "held-out prompts made from the data"
    if data is None:
        return
    dataset, eval_ds, prepared = data
    if prepared.eval:
        source_ds = eval_ds if prepared.eval_source == "file" else dataset
        by_index = {s.index: s for s in source_ds.samples}
        yield [probe_from_sample(by_index[t.index]) for t in prepared.eval], f"eval {prepared.eval_source}"
    by_index = {s.index: s for s in dataset.samples}
    yield [probe_from_sample(by_index[t.index]) for t in prepared.train], TRAINING_PROMPTS


def _choose_probes(probes: str | None, config: dict, data, n: int, run_dir: Path, effect: dict) -> tuple[list[Probe], str]:
    """The first probe source, without the probes that are training prompts (leak.py; the report
    is effect["leaks"]), or the next source when none is left; n of them, spread over the kinds."""
    sources = _probe_sources(probes, config, data, run_dir)
    chosen, source = next(sources, ([], "none"))
    if data is not None and source != TRAINING_PROMPTS and chosen:
        later = ((p, s) for p, s in sources if s != TRAINING_PROMPTS)
        chosen, source, effect["leaks"] = clean_probes(chosen, source, trained_prompts(data), later)
    return _spread_kinds(chosen, n), source


def _spread_kinds(probes: list[Probe], n: int) -> list[Probe]:
    """n probes, each kind getting its share, so the unseen ones are not crowded out."""
    kinds = sorted({p.kind for p in probes})
    out = []
    for i, kind in enumerate(kinds):
        part = [p for p in probes if p.kind == kind]
        out += spread(part, max(1, (n - len(out)) // (len(kinds) - i)))
    return out


def _heldout_samples(data, probes: list[Probe], probe_source: str, tok, max_seq_len: int, held_out: bool) -> tuple[list, str]:
    if data is not None and data[2].eval:
        return spread(data[2].eval, MAX_TRAIN_SAMPLES), f"eval {data[2].eval_source}"
    if probe_source == TRAINING_PROMPTS or not held_out:
        return [], "none"  # trained-on prompts are no held-out set
    with_answers = [p for p in probes if p.answer]
    samples = [tokenize_sample(tok, p.messages + [{"role": "assistant", "content": p.answer}], max_seq_len) for p in with_answers]
    return [s for s in samples if s.n_trainable], "probes with answers"


def measure_effect(run_dir: Path, manifest: dict, ref: Reference, chat, adapter_name: str, probes_arg: str | None,
             markers: list[str] | None, max_new_tokens: int, n_probes: int, t: Thresholds, notes: list[str],
             general_arg: str | None = None, general_cache: dict | None = None) -> dict:
    config = manifest["config"]
    effect: dict = {}
    effect["weights"] = adapter_weight_stats(RunFolder(run_dir).adapter_dir, _base_weight_lookup(ref.model), t)
    data = training_data(config, manifest, ref.tokenizer, notes)
    probes, source = _choose_probes(probes_arg, config, data, n_probes, run_dir, effect)
    effect["probes"] = {"source": source, "count": len(probes)}
    loss = {}
    if data is not None:
        loss["train"] = compare_loss(ref, spread(data[2].train, MAX_TRAIN_SAMPLES), "training samples",
                                     enough=lambda r: r["drop"] >= 2 * t.min_train_loss_drop)  # clearly learned
        held_out = (effect.get("leaks") or {}).get("clean", True)
        held, held_source = _heldout_samples(data, probes, source, ref.tokenizer, config["max_seq_len"], held_out)
        loss["heldout"] = compare_loss(ref, held, held_source)
    effect["loss"] = loss
    general, general_source = general_probes(general_arg) if general_arg != "none" else ([], "none")
    stopped: dict = {}  # adapter on/off -> whether each answer ended on a stop token
    first: dict = {}  # adapter on/off -> the first answer token's log-probabilities, (N, V) per call
    effect.update(measure(reference_answerer(ref, max_new_tokens, stopped, first), probes, markers, None))
    effect["kl"] = (kl_summary(torch.cat(first[False]), torch.cat(first[True])) if first.get(False) and first.get(True)
                    else next_token_kl(ref, probes))
    for row, base, adapter in zip(effect["generations"], stopped.get(False, []), stopped.get(True, []), strict=True):
        row["base_stopped"], row["adapter_stopped"] = base, adapter
    _voice_and_content(effect, probes, markers, data, ref.tokenizer, max_new_tokens)
    effect["answers"] = answer_shapes(effect["generations"], data, ref, max_new_tokens, t)
    if general:  # short answers: their own, smaller token budget
        answer = reference_answerer(ref, min(max_new_tokens, GENERAL_MAX_NEW_TOKENS))
        effect["retention"] = retention(answer, general, general_source, general_cache)
        if effect["retention"].get("note"):
            notes.append(effect["retention"]["note"])
    if chat is not None and probes:
        asked = [p.messages for p in serving_order(probes, effect["generations"])[:SERVING_PROBES]]
        template = chat.template_sha256(adapter_name)
        # a path that reports another template than training's is a failure to describe: all probes
        ask_first = SERVING_FIRST if template in (None, manifest.get("chat_template_sha256")) else len(asked)
        effect["serving"] = s = check_chat_path(chat, adapter_name, asked, max_new_tokens, template, enough=lambda rows: settled(
            rows, effect["generations"], t, ask_first))
        s["training_template_sha256"] = manifest.get("chat_template_sha256")
        explain_served(s, effect["generations"], ref, asked, max_new_tokens, ref.tokenizer.chat_template, lambda: load_tokenizer(
            resolve_model(config.get("model")), config.get("trust_remote_code", False)).chat_template, t)
    return effect


def serving_order(probes: list[Probe], gens: list[dict]) -> list[Probe]:
    """Probes whose in-process base and adapter answers differ first: only those can tell which of
    the two a chat path serves."""
    differ = {g["prompt"] for g in gens if g["base"] != g["adapter"]}
    return sorted(probes, key=lambda p: p.prompt not in differ)  # stable: the probe order otherwise


def _voice_and_content(effect: dict, probes: list[Probe], markers: list[str] | None, data, tok, max_new_tokens: int) -> None:
    """Content (chrF against the reference answers), and, when no markers were given, voice with
    markers found in the training answers (voice.py). Everything is compared at the answers'
    token budget: a reference or training answer is cut to its first max_new_tokens tokens."""
    rows = effect.get("generations") or []
    refs = heads(tok, [p.answer or "" for p in probes], max_new_tokens)
    for row, probe, ref in zip(rows, probes, refs, strict=True):
        if probe.answer:
            row["reference"] = ref
    effect["content"] = content_scores(rows)
    if markers or data is None or not rows:
        return
    general = load_general(None)
    train = heads(tok, [s.response for s in data[0].samples], max_new_tokens)
    background = [r["base"] for r in rows] + [s.response for s in general.samples]
    found = derive_markers(train, background)
    if not found:
        effect["markers_note"] = "no phrase recurs in the training answers that ordinary answers lack: voice not measured"
        return
    words = [m["marker"] for m in found]
    for row in rows:
        row["base_marker"], row["adapter_marker"] = has_any(row["base"], words), has_any(row["adapter"], words)
    effect["markers"] = {**rates(rows, "marker"), "markers": words, "derived": True, "candidates": found}


def _base_weight_lookup(model):
    def lookup(prefix: str):
        try:
            module = model.get_submodule(prefix)
        except AttributeError:
            return None
        layer = module.get_base_layer() if hasattr(module, "get_base_layer") else module
        return getattr(layer, "weight", None)

    return lookup


def open_paths(run_dir: Path, manifest: dict, source, server: str | None, engine, adapter: str | None,
           server_base: str | None = None):
    """(reference, chat path, adapter name on that path, whether the adapter was loaded into the
    caller's engine for the check)."""
    from ..serving.engine import ChatEngine

    config = manifest["config"]
    if server is not None:
        chat = ServerChat(server, model=adapter, base=server_base)
        chat.connect(default_model=run_dir.name)  # fails fast, before any model is loaded
        return load_reference(source, manifest, RunFolder(run_dir).adapter_dir), chat, chat.model, False
    if engine is None:  # the doctor's own engine: its model serves the measurements too
        engine = ChatEngine.load(config.get("model"), dtype=config.get("dtype", "auto"),
                                 trust_remote_code=config.get("trust_remote_code", False))
        adapter = adapter or run_dir.name
        engine.add_adapter(adapter, run_dir)
        ref = Reference(engine.model, adapter, reference_tokenizer(source, manifest), engine.device,
                        getattr(engine, "_lock", None))
        return ref, EngineChat(engine), adapter, False
    ref = load_reference(source, manifest, RunFolder(run_dir).adapter_dir)
    adapter = adapter or _find_adapter(engine, RunFolder(run_dir).adapter_dir)
    if adapter is not None:
        return ref, EngineChat(engine), adapter, False
    adapter = f"doctor:{run_dir.name}"
    engine.add_adapter(adapter, run_dir)
    return ref, EngineChat(engine), adapter, True
