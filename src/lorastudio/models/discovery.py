"""Chat models already on this machine: Ollama's store, the Hugging Face and ModelScope caches,
LM Studio's models folder, and the embedded model. One function per place, each returning
`FoundModel` entries; `find_models()` gathers them all.

Each place is read only under its root, and every root follows the variable its own tool
reads, so tests (and users) point them elsewhere:

    ollama      $OLLAMA_MODELS, else ~/.ollama/models
    hf          $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
    modelscope  $MODELSCOPE_CACHE, else ~/.cache/modelscope/hub
    lmstudio    $LMSTUDIO_MODELS (ours: LM Studio has no variable), else the folder named by
                ~/.lmstudio-home-pointer, ~/.lmstudio/models and ~/.cache/lm-studio/models

Nothing here loads weights: GGUF files are read by their header (ggufinfo), folders by their
config.json, tokenizer_config.json and the JSON headers of their safetensors files.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .ggufinfo import GGUFInfo, read_gguf_info
from .ollama import go_template_to_jinja, list_ollama, ollama_root

SOURCES = ("embedded", "ollama", "hf", "modelscope", "lmstudio")
SPLIT_GGUF = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


@dataclass
class FoundModel:
    spec: str  # what --model takes: ollama:qwen2.5:0.5b
    name: str  # the name within its source: qwen2.5:0.5b
    source: str  # one of SOURCES
    path: str  # the GGUF file or the model folder
    format: str  # "gguf" or "safetensors"
    architecture: str
    n_params: int | None
    quantization: str
    template: str  # where the chat template comes from: gguf, tokenizer, ollama:chatml, ollama:llama3 (Ollama's Go
    # template, translated), ollama:go (Ollama's, not translated: the model cannot be trained); "" when none
    size_bytes: int
    digest: str = ""  # the GGUF's sha256:<hex> (Ollama) or the snapshot's commit (Hugging Face)
    problem: str = ""  # why it cannot be trained as it is; empty when it can
    aliases: list[str] = field(default_factory=list)  # other names that select it
    chat_template: str | None = field(default=None, repr=False)  # a template from outside the weights (Ollama's, mapped)

    @property
    def usable(self) -> bool:
        return not self.problem

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("chat_template")
        return d


# ---- roots ---------------------------------------------------------------------------------
def hf_root() -> Path:
    if os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ.get("HF_HUB_CACHE") or os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "huggingface" / "hub"


def modelscope_root() -> Path:
    return Path(os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache" / "modelscope" / "hub").expanduser()


def lmstudio_roots() -> list[Path]:
    if os.environ.get("LMSTUDIO_MODELS"):
        return [Path(os.environ["LMSTUDIO_MODELS"]).expanduser()]
    home = Path.home()
    homes = [home / ".lmstudio", home / ".cache" / "lm-studio"]
    try:
        pointed = (home / ".lmstudio-home-pointer").read_text(encoding="utf-8").strip()
        if pointed:
            homes.insert(0, Path(pointed).expanduser())
    except (OSError, UnicodeDecodeError):
        pass
    roots = [h / "models" for h in homes]
    for h in homes:  # the folder chosen in LM Studio's settings, when it was moved
        try:
            moved = json.loads((h / "settings.json").read_text(encoding="utf-8")).get("downloadsFolder")
            if isinstance(moved, str) and moved:
                roots.insert(0, Path(moved).expanduser())
        except (OSError, ValueError, AttributeError):
            pass
    return list(dict.fromkeys(roots))


def roots() -> dict[str, list[str]]:
    """Where each source is looked for, as the listing reports it."""
    return {"ollama": [str(ollama_root())], "hf": [str(hf_root())], "modelscope": [str(modelscope_root())],
            "lmstudio": [str(r) for r in lmstudio_roots()]}


# ---- reading one model ---------------------------------------------------------------------
_GGUF_CACHE: dict[tuple, GGUFInfo] = {}


def gguf_info(path: Path) -> GGUFInfo:
    """The header of a GGUF file, remembered by (path, size, mtime): the server lists often."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _GGUF_CACHE:
        _GGUF_CACHE[key] = read_gguf_info(path)
    return _GGUF_CACHE[key]


def gguf_architectures() -> set[str]:
    """The GGUF architectures transformers can dequantise into a model (and so we can train)."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    return set(GGUF_CONFIG_MAPPING) - {"general", "tokenizer"}


def gguf_entry(path: Path, source: str, name: str, size: int | None = None, go_template: str | None = None,
               digest: str = "", aliases: list[str] | None = None) -> FoundModel | None:
    """An entry for a GGUF file, or None when it is not a chat model (an embedding model, a projector)."""
    from ..errors import ModelError

    size = size if size is not None else _size(path)
    try:
        info = gguf_info(path)
    except (ModelError, OSError) as e:  # a truncated or foreign file: listed with the reason, never a crash
        return FoundModel(f"{source}:{name}", name, source, str(path), "gguf", "?", None, "?", "", size, digest,
                          problem=str(getattr(e, "message", e)), aliases=aliases or [])
    if not info.is_chat_model:
        return None
    template, mapped, problem = template_for(info, go_template)
    if not problem and info.architecture not in gguf_architectures():
        problem = f"transformers cannot read GGUF architecture '{info.architecture}' into a model to train"
    split = SPLIT_GGUF.search(path.name)
    if split:
        problem = (f"a GGUF split in {int(split.group(2))} parts; merge them first: "
                   f"llama-gguf-split --merge {path.name} merged.gguf")
    return FoundModel(f"{source}:{name}", name, source, str(path), "gguf", info.architecture, info.n_params,
                      info.quantization, template, size, digest, problem, aliases or [], mapped)


def template_for(info: GGUFInfo, go_template: str | None) -> tuple[str, str | None, str]:
    """(where the chat template comes from, a Jinja template to add, why there is none usable).
    The GGUF's own wins, as it does in Ollama; else Ollama's Go template, translated when it
    is ChatML or Llama 3 (Jinja cannot run Go templates)."""
    if info.chat_template:
        return "gguf", None, ""
    if not go_template:
        return "", None, "no chat template in the GGUF (a base model?)"
    mapped, layout = go_template_to_jinja(go_template)
    if mapped:
        return f"ollama:{layout}", mapped, ""
    return "ollama:go", None, ("the GGUF has no chat template, and Ollama's is a Go template of a layout LoRA Studio "
                               "cannot translate to Jinja (ChatML and Llama 3 are translated)")


def folder_entry(folder: Path, source: str, name: str, digest: str = "", aliases: list[str] | None = None) -> FoundModel | None:
    """An entry for a Hugging Face folder, or None when it is not a causal language model."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    archs = (config.get("architectures") or []) if isinstance(config, dict) else []
    if not isinstance(archs, list) or not any(str(a).endswith("ForCausalLM") for a in archs):
        return None
    weights = sorted(folder.glob("*.safetensors"))
    n_params = _safetensors_params(weights)
    template = "tokenizer" if _has_template(folder) else ""
    problem = ""
    if not weights:
        pickled = any(folder.glob("*.bin")) or any(folder.glob("*.pt"))
        problem = "pickled weights only (.bin); LoRA Studio loads safetensors" if pickled else "no weight files"
    elif not template:
        problem = "no chat template in tokenizer_config.json (a base model?)"
    return FoundModel(f"{source}:{name}", name, source, str(folder), "safetensors", str(config.get("model_type") or archs[0]),
                      n_params, _folder_quantization(config), template, _size(folder), digest, problem, aliases or [])


def _has_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        tc = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(tc, dict) and tc.get("chat_template"))


def _safetensors_params(files: list[Path]) -> int | None:
    """Parameters from the safetensors headers (8 bytes of length, then JSON of shapes)."""
    total = 0
    try:
        for f in files:
            with open(f, "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(n))
            for key, t in header.items():
                if key != "__metadata__":
                    count = 1
                    for d in t.get("shape", []):
                        count *= d
                    total += count
    except (OSError, ValueError, struct.error, AttributeError):
        return None
    return total or None


def _folder_quantization(config: dict) -> str:
    q = config.get("quantization_config")
    if isinstance(q, dict):
        bits = q.get("bits") or ("4" if q.get("load_in_4bit") else "8" if q.get("load_in_8bit") else "")
        return f"{q.get('quant_method', 'quantized')}{'-' + str(bits) + 'bit' if bits else ''}"
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "?")
    return {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}.get(dtype, dtype)


def _size(path: Path) -> int:
    """Bytes on disk, each real file once (a cache snapshot links its files to shared blobs)."""
    if path.is_file():
        return path.stat().st_size
    seen, total = set(), 0
    for f in path.rglob("*"):
        try:
            real = f.resolve()
            if real.is_file() and real not in seen:
                seen.add(real)
                total += real.stat().st_size
        except OSError:
            continue
    return total


def _first_part(path: Path) -> bool:
    """A whole GGUF file, or the first part of a split one (the others are listed with it)."""
    split = SPLIT_GGUF.search(path.name)
    return split is None or int(split.group(1)) == 1


def repo_entries(folder: Path, source: str, name: str, digest: str = "") -> list[FoundModel]:
    """A repository's folder: the model it holds as safetensors, and each GGUF file in it
    (LM Studio and the GGUF repositories of the hubs keep several quantisations side by side)."""
    entries = []
    folder_model = folder_entry(folder, source, name, digest)
    if folder_model:
        entries.append(folder_model)
    ggufs = [p for p in sorted(folder.rglob("*.gguf")) if p.is_file() and _first_part(p)]
    for p in ggufs:
        rel = p.relative_to(folder).as_posix()
        aliases = [p.name, p.stem] + ([name] if len(ggufs) == 1 and not folder_model else [])
        entry = gguf_entry(p, source, f"{name}/{rel}", digest=digest, aliases=aliases)
        if entry:
            entries.append(entry)
    return entries


# ---- one function per place ----------------------------------------------------------------
def find_embedded() -> tuple[list[FoundModel], list[str]]:
    from ..errors import ModelError
    from .embedded import EMBEDDED, embedded_gguf

    found, warnings = [], []
    for name in EMBEDDED:
        try:
            entry = gguf_entry(embedded_gguf(name), "embedded", name)
        except ModelError as e:
            warnings.append(f"embedded {name}: {e.message}")
            continue
        if entry:
            entry.spec = name  # the embedded model is named without a prefix
            found.append(entry)
    return found, warnings


def find_ollama() -> tuple[list[FoundModel], list[str]]:
    models, warnings = list_ollama(ollama_root())
    found = []
    for m in models:
        entry = gguf_entry(m.gguf, "ollama", m.name, m.size, m.template, m.digest,
                           aliases=[m.name.removesuffix(":latest")] if m.name.endswith(":latest") else [])
        if entry:
            found.append(entry)
    return found, warnings


def find_hf() -> tuple[list[FoundModel], list[str]]:
    root = hf_root()
    if not root.is_dir():
        return [], []
    from huggingface_hub import scan_cache_dir

    info = scan_cache_dir(root)
    found = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        # the revision `main` points at, else the newest one downloaded
        revs = sorted(repo.revisions, key=lambda r: ("main" in r.refs, r.last_modified), reverse=True)
        found += repo_entries(revs[0].snapshot_path, "hf", repo.repo_id, digest=revs[0].commit_hash)
    return found, [f"hf: {w}" for w in info.warnings]


MODELSCOPE_SKIP = {"models", "datasets", "hub", "._____temp", ".lock"}


def find_modelscope() -> tuple[list[FoundModel], list[str]]:
    """ModelScope keeps a model in ROOT/models/ORG/NAME (older versions: ROOT/ORG/NAME, or
    ROOT/hub/ORG/NAME when the variable named the parent), with each '.' of the name written as
    '___' (Qwen2___5-0___5B-Instruct)."""
    root = modelscope_root()
    found, seen = [], set()
    for base in (root / "models", root, root / "hub", root / "hub" / "models"):
        if not base.is_dir():
            continue
        for org in sorted(p for p in base.iterdir() if p.is_dir() and p.name not in MODELSCOPE_SKIP):
            for repo in sorted(p for p in org.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if repo.resolve() in seen or not ((repo / "config.json").is_file() or any(repo.glob("*.gguf"))):
                    continue
                seen.add(repo.resolve())
                model_id = f"{org.name}/{repo.name}".replace("___", ".")
                found += repo_entries(repo, "modelscope", model_id)
    return found, []


def find_lmstudio() -> tuple[list[FoundModel], list[str]]:
    """LM Studio keeps models as ROOT/PUBLISHER/REPO/FILE.gguf (and MLX folders of safetensors)."""
    found, seen = [], set()
    for root in lmstudio_roots():
        if not root.is_dir() or root.resolve() in seen:
            continue
        seen.add(root.resolve())
        for publisher in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for repo in sorted(p for p in publisher.iterdir() if p.is_dir() and not p.name.startswith(".")):
                for entry in repo_entries(repo, "lmstudio", f"{publisher.name}/{repo.name}"):
                    entry.aliases.append(repo.name)
                    found.append(entry)
    return found, []


FINDERS = {"embedded": find_embedded, "ollama": find_ollama, "hf": find_hf, "modelscope": find_modelscope,
           "lmstudio": find_lmstudio}


def find_models(sources: tuple[str, ...] = SOURCES) -> tuple[list[FoundModel], list[str]]:
    """Every chat model in the given places, and a line per thing that could not be read."""
    found, warnings = [], []
    for source in sources:
        try:
            entries, notes = FINDERS[source]()
        except OSError as e:  # an unreadable folder: said, and the other places still listed
            entries, notes = [], [f"{source}: {e}"]
        found += entries
        warnings += notes
    return found, warnings


# ---- the demo's question -------------------------------------------------------------------
CHINESE_FAMILIES = ("qwen2", "qwen3")
NOT_FOR_CHAT = ("base", "coder", "math", "-vl", "embed", "reward")


def chinese_chat_models(found: list[FoundModel], max_params: float = 3.5e9) -> list[FoundModel]:
    """Usable Qwen2.5 / Qwen3 instruct models up to ~3B parameters, smallest first: they speak
    Chinese and train in minutes to an hour on a CPU."""
    picked = []
    for e in found:
        name = e.name.lower()
        # Qwen2.5 base models carry a chat template too: only instruct ones (Ollama's qwen2.5 tags
        # are instruct); every Qwen3 but the -Base ones is a chat model.
        instruct = e.architecture == "qwen3" or e.source == "ollama" or "instruct" in name or "chat" in name
        if (e.usable and e.architecture in CHINESE_FAMILIES and e.n_params and e.n_params <= max_params
                and instruct and not any(w in name for w in NOT_FOR_CHAT)):
            picked.append(e)
    return sorted(picked, key=lambda e: (e.n_params or 0, e.source != "ollama"))


# ---- choosing one by name ------------------------------------------------------------------
PLACES = {"ollama": "Ollama's models", "hf": "the Hugging Face cache", "modelscope": "the ModelScope cache",
          "lmstudio": "LM Studio's models folder"}
NOT_FOUND_FIX = {
    "ollama": "use one of the names found (`lorastudio models` lists them), or `ollama pull {name}`; "
              "if Ollama keeps its models elsewhere, set OLLAMA_MODELS to that folder",
    "hf": "download it once while online (`hf download {name}`), or pass --model {name} without 'hf:' to fetch it "
          "when the model loads; if your cache is elsewhere, set HF_HUB_CACHE or HF_HOME",
    "modelscope": "download it: `lorastudio models pull modelscope:{name}` (needs `pip install modelscope`), or "
                  "`pip install modelscope; modelscope download --model {name}`; if your cache is elsewhere, set MODELSCOPE_CACHE",
    "lmstudio": "download it in LM Studio (or `lms get {name}`); if LM Studio keeps models elsewhere, set LMSTUDIO_MODELS "
                "to that folder",
}
SHOWN = 15  # names listed in an error; the rest are counted


def pick(found: list[FoundModel], wanted: str, source: str) -> FoundModel:
    """The entry named `wanted` (case-insensitive; also by a unique alias: a file name, a repo
    name), or a ModelError that lists what the place holds."""
    from ..errors import ModelError
    from .ollama import normalize_name

    norm = normalize_name if source == "ollama" else str.lower
    w = norm(wanted)
    exact = [e for e in found if norm(e.name) == w]
    if len(exact) == 1:
        return exact[0]
    by_alias = exact or [e for e in found if w in {norm(a) for a in e.aliases}]
    if len(by_alias) == 1:
        return by_alias[0]
    where = f"{PLACES[source]} ({', '.join(roots()[source])})"
    if by_alias:
        names = ", ".join(e.name for e in by_alias)
        raise ModelError(f"'{source}:{wanted}' matches {len(by_alias)} models in {where}: {names}",
                         fix=f"pass the full name, e.g. --model {by_alias[0].spec}")
    names = [e.name for e in found]
    listed = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    message = (f"no model named '{wanted}' in {where}; found: {listed}" if names
               else f"no models found in {where}")
    raise ModelError(message, fix=NOT_FOUND_FIX[source].format(name=wanted))
