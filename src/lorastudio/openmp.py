"""How torch's OpenMP threads wait between parallel regions; decided before torch is imported.

A training step on a CPU runs thousands of short parallel regions (every matmul, norm and
element-wise op). Between two of them, libgomp's worker threads either spin or sleep:
- its default spin (about 300,000 rounds) starves any other process on the machine: with one
  busy neighbour a training loop ran 11x slower;
- `OMP_WAIT_POLICY=PASSIVE` sleeps at once, and every region then pays a wake-up: 10-35% of an
  idle machine's speed;
- a short spin (`SPIN` rounds, then sleep) bridges the gaps between back-to-back regions and
  gives up the core soon after. Measured on a 2-core EPYC, SmolLM2-135M training steps: idle,
  86-96 → 109-116 tokens/s; beside one process that keeps a core busy, 70-72 → 52 (2,000 rounds:
  66). So the short spin is used only when the CPUs this process may run on are idle as it starts.

A `GOMP_SPINCOUNT` set by the user wins (`GOMP_SPINCOUNT=0`: sleep at once, as PASSIVE alone
does), and so does `OMP_WAIT_POLICY=ACTIVE`. Only libgomp reads `GOMP_SPINCOUNT`: the OpenMP of
torch's Linux wheels. Once torch is imported, nothing here changes anything.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import MutableMapping

SPIN = 10_000  # libgomp spin rounds before a waiting thread sleeps
IDLE_WINDOW = 0.1  # seconds of /proc/stat sampled to judge whether the CPUs are idle
IDLE_SLACK = 0.3  # CPUs' worth of other load still counted as idle (daemons, the sampling itself)
PROC_STAT = "/proc/stat"


def set_wait_policy(environ: MutableMapping[str, str] | None = None) -> str:
    """OMP_WAIT_POLICY=PASSIVE (unless set), plus a short spin when this machine's CPUs are
    idle. Returns what was decided: "spin", "passive" or "user" (the user's spin or ACTIVE kept)."""
    environ = os.environ if environ is None else environ
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "GOMP_SPINCOUNT" in environ or environ["OMP_WAIT_POLICY"].upper() == "ACTIVE":
        return "user"
    if "torch" in sys.modules:  # libgomp has read its settings already
        return "passive"
    cpus = _allowed_cpus()
    if len(cpus) < 2 or int(environ.get("WORLD_SIZE", "1")) > 1:  # one thread never waits; ranks share the cores
        return "passive"
    idle = idle_cpus(cpus)
    if idle is None or idle < len(cpus) - IDLE_SLACK:
        return "passive"
    environ["GOMP_SPINCOUNT"] = str(SPIN)
    return "spin"


def idle_cpus(cpus: set[int], window: float = IDLE_WINDOW) -> float | None:
    """How many of `cpus` were idle over `window` seconds (/proc/stat); None where unreadable."""
    before = _cpu_times(cpus)
    time.sleep(window)
    after = _cpu_times(cpus)
    if not before or not after:
        return None
    idle = 0.0
    for cpu, (busy1, idle1) in after.items():
        busy0, idle0 = before.get(cpu, (busy1, idle1))
        total = (busy1 - busy0) + (idle1 - idle0)
        idle += (idle1 - idle0) / total if total > 0 else 1.0
    return idle


def _cpu_times(cpus: set[int]) -> dict[int, tuple[int, int]]:
    """cpu → (busy, idle) ticks from /proc/stat, for the given CPUs."""
    try:
        with open(PROC_STAT, encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        out[int(name[3:])] = (sum(ticks) - idle, idle)
    return out


def _allowed_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set()
