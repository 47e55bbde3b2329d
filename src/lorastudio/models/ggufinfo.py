"""What a GGUF file holds, read from its header only: architecture, name, parameter count,
quantisation, chat template. No tensor data is read.

Why not `gguf.GGUFReader`: it builds a numpy view for every element of every metadata array,
and a tokenizer's vocabulary is one such array; it took 5.9 s on the embedded SmolLM2 (49k
tokens) on a 2-core machine, and a Qwen vocabulary is three times longer. Here arrays are
skipped by their lengths, which takes milliseconds. The format is the one `gguf` writes
(version 2 and 3, little-endian); its enums name the quantisation types.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError

MAGIC = b"GGUF"
# GGUFValueType: number -> struct format of a scalar; 8 is a string, 9 an array.
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
# general.type values and architectures that are not chat models (embeddings, vision projectors).
NOT_CHAT_TYPES = {"adapter", "mmproj", "clip", "vocab"}
NOT_CHAT_ARCHS = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder", "clip", "wavtokenizer-dec",
                  "modern-bert", "neo-bert", "xlm-roberta"}


@dataclass
class GGUFInfo:
    path: str
    architecture: str
    name: str
    n_params: int
    quantization: str
    chat_template: str | None
    metadata: dict = field(default_factory=dict)  # scalar and string keys; arrays only by length

    @property
    def is_chat_model(self) -> bool:
        """A generative language model (an embedding model or a vision projector is not)."""
        kind = str(self.metadata.get("general.type", "model"))
        pooling = f"{self.architecture}.pooling_type" in self.metadata  # only embedding models pool
        return kind not in NOT_CHAT_TYPES and self.architecture not in NOT_CHAT_ARCHS and not pooling


class _Cursor:
    def __init__(self, buf, offset: int = 0):
        self.buf, self.pos = buf, offset

    def take(self, fmt: str):
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.take("<Q")
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.take("<Q")  # read before moving: `self.pos += self.take(...)` would add to the old position
        self.pos += n

    def value(self, vtype: int):
        if vtype in SCALARS:
            return self.take(SCALARS[vtype])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            item, count = self.take("<I"), self.take("<Q")
            if item in SCALARS:
                self.pos += count * struct.calcsize(SCALARS[item])
            else:
                for _ in range(count):  # strings (a vocabulary) or nested arrays: walk by lengths
                    self.skip_string() if item == STRING else self.value(item)
            return _ArrayLength(count)
        raise ValueError(f"unknown metadata value type {vtype}")


class _ArrayLength(int):
    """An array's metadata value, kept only as its length."""


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """The header of a GGUF file; a ModelError naming the file when it is not one."""
    path = Path(path)
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(path, buf)
    except (OSError, ValueError, struct.error, OverflowError) as e:
        raise ModelError(f"{path} is not a readable GGUF file: {e}",
                         fix="check that the download finished (a partial file has a valid start but no end)") from None


def _parse(path: Path, buf) -> GGUFInfo:
    if buf[:4] != MAGIC:
        raise ValueError("it does not start with the GGUF magic bytes")
    cur = _Cursor(buf, 4)
    version = cur.take("<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors, n_kv = cur.take("<Q"), cur.take("<Q")
    meta: dict = {}
    for _ in range(n_kv):
        key = cur.string()
        meta[key] = cur.value(cur.take("<I"))
    n_params, types = 0, Counter()
    for _ in range(n_tensors):
        cur.skip_string()
        dims = [cur.take("<Q") for _ in range(cur.take("<I"))]
        ttype = cur.take("<I")
        cur.take("<Q")  # data offset
        n = 1
        for d in dims:
            n *= d
        n_params += n
        if len(dims) >= 2:  # weight matrices carry the quantisation; norms stay F32
            types[ttype] += n
    arch = str(meta.get("general.architecture", "unknown"))
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(str(path), arch, str(meta.get("general.name") or path.stem), n_params,
                    _quantization(meta.get("general.file_type"), types), template if isinstance(template, str) and template.strip() else None,
                    {k: v for k, v in meta.items() if k != "tokenizer.chat_template"})


def _quantization(file_type, types: Counter) -> str:
    """The file's declared type (Q4_K_M), else the type holding most weights."""
    from gguf import GGMLQuantizationType, LlamaFileType

    if isinstance(file_type, int) and not isinstance(file_type, _ArrayLength):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if types:
        top = types.most_common(1)[0][0]
        try:
            return GGMLQuantizationType(top).name
        except ValueError:
            return f"type {top}"
    return "?"
