"""`lorastudio models pull modelscope:ORG/NAME`: the one download LoRA Studio makes for a model
of another tool, and only when asked. ModelScope is where users in China get Qwen when the
Hugging Face hub is out of reach; its library is not a dependency, so it is used when it is
installed and the user asks for the download by name.
"""

from __future__ import annotations

import importlib.util

from ..errors import ModelError
from .discovery import FoundModel, find_modelscope, modelscope_root, pick

OTHERS = {
    "ollama": "ollama pull NAME",
    "hf": "hf download ORG/NAME (or pass --model ORG/NAME without 'hf:' to fetch it when the model loads)",
    "lmstudio": "LM Studio's Discover tab, or lms get NAME",
}


def pull(spec: str) -> tuple[FoundModel, bool]:
    """(the model in the ModelScope cache, whether it was downloaded now)."""
    prefix, _, name = spec.partition(":")
    name = name.strip()
    if prefix != "modelscope":
        how = OTHERS.get(prefix, "the tool that keeps the model")
        raise ModelError(f"'{spec}': LoRA Studio downloads only modelscope:ORG/NAME models",
                         fix=f"download it with its own tool ({how}), then pass --model {spec}")
    if name.count("/") != 1:
        raise ModelError(f"'{spec}' is not a ModelScope model id", fix="write it as modelscope:ORG/NAME, e.g. modelscope:Qwen/Qwen2.5-0.5B-Instruct")
    found, _ = find_modelscope()
    try:
        return pick(found, name, "modelscope"), False
    except ModelError:
        pass
    if importlib.util.find_spec("modelscope") is None:
        raise ModelError(f"{name} is not in the ModelScope cache ({modelscope_root()}), and the modelscope library "
                         "that downloads it is not installed",
                         fix=f"pip install modelscope, then run this again; or: modelscope download --model {name}")
    from modelscope import snapshot_download  # honours MODELSCOPE_CACHE, the root discovery reads

    try:
        path = snapshot_download(name)
    except Exception as e:  # the library's own errors (network, unknown id) are many and untyped
        raise ModelError(f"could not download {name} from ModelScope: {e}",
                         fix="check the id on modelscope.cn and the network") from None
    found, _ = find_modelscope()
    try:
        return pick(found, name, "modelscope"), True
    except ModelError:
        raise ModelError(f"{name} was downloaded to {path}, which is outside the cache layout LoRA Studio reads",
                         fix=f"pass the folder itself: --model {path}") from None
