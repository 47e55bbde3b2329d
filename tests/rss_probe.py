"""Train once in a fresh process and print, as one JSON line, how much the process's peak RSS grew
beside the plan's memory prediction (tests/test_memory_measured.py runs it).

    python tests/rss_probe.py MODEL DATA OUTPUT '{"batch_size": 8, ...}'

The baseline is taken after the libraries are imported and the model source is resolved (a GGUF
is converted before, not during, the measurement); the peak is VmHWM at the end, reset at the baseline.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    """Start the peak RSS (VmHWM) afresh at the baseline. Not ru_maxrss: Linux carries into it the
    RSS of the process that forked this one (the pytest process, over a GB late in a full run),
    so every run would report the parent's size as its peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    model, data, output, options = sys.argv[1], sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4])
    import torch
    import transformers  # noqa: F401
    from transformers import LlamaForCausalLM, Qwen2ForCausalLM  # noqa: F401  (their modules' memory is not the run's)

    from lorastudio import api
    from lorastudio.models import resolve_model

    resolve_model(model)
    if options.get("max_samples"):
        records = json.loads(Path(data).read_text(encoding="utf-8"))[: options.pop("max_samples")]
        data = str(output.parent / (output.name + "-data.json"))
        Path(data).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    torch.set_num_threads(options.get("threads") or 1)
    baseline = rss()
    before = peak_rss()  # the peak so far, reported beside the run's (a clue when they differ)
    reset_peak()
    # the options are the measurement's own: the recipe would change targets, length and replay per data
    api.train(model=model, data=data, output=str(output), doctor=False, force=True, auto=False, **options)
    peak = peak_rss()
    memory = json.loads((output / "plan.json").read_text(encoding="utf-8"))["memory"]
    losses = [json.loads(x)["loss"] for x in (output / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
              if json.loads(x).get("type") == "step"]
    print(json.dumps({"baseline": baseline, "peak_before_baseline": before, "peak": peak, "peak_growth": peak - baseline, "memory": memory, "losses": losses}))


if __name__ == "__main__":
    main()
