"""LoRA Studio: fine-tune chat models with LoRA, and prove the adapter works.

The public Python API; the CLI (`lorastudio`) and the web studio call the same functions.
"""

__version__ = "0.1.0"

from .api import build_config, doctor, expand, export, plan, train, tune  # noqa: E402
from .config import TrainConfig, make_config  # noqa: E402
from .data.readers import load_dataset  # noqa: E402
from .data.stats import inspect_dataset  # noqa: E402
from .errors import ConfigError, DataError, ModelError, PlanRefused, RunError, StudioError  # noqa: E402
from .serving.engine import ChatEngine, GenerationConfig  # noqa: E402

__all__ = [
    "ChatEngine", "ConfigError", "DataError", "GenerationConfig", "ModelError", "PlanRefused", "RunError",
    "StudioError", "TrainConfig", "build_config", "doctor", "expand", "export", "inspect_dataset", "load_dataset", "make_config",
    "plan", "train", "tune",
]
