"""LoRA Studio: fine-tune chat models with LoRA, and prove the adapter works."""

__version__ = "0.1.0"
