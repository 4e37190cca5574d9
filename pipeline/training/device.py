"""Choose where XGBoost trains: ``auto`` uses CUDA when a GPU is visible, otherwise the CPU.

XGBoost itself silently falls back to the CPU when asked for CUDA without a GPU (it only warns), so the
decision is made here, explicitly, and reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DeviceChoice:
    """The device XGBoost will use and why."""

    device: Literal["cuda", "cpu"]
    reason: str


def gpu_visible() -> tuple[bool, str]:
    """Whether a CUDA GPU is visible to this process, with a short explanation."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in {"", "-1"}:
        return False, "CUDA_VISIBLE_DEVICES hides every GPU"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False, "no nvidia-smi on PATH"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"nvidia-smi failed ({exc.__class__.__name__})"
    gpus = [line for line in out.stdout.splitlines() if line.startswith("GPU ")]
    if out.returncode != 0 or not gpus:
        return False, "nvidia-smi lists no GPU"
    return True, gpus[0].split(" (UUID")[0]


def resolve_device(requested: Literal["auto", "cuda", "cpu"]) -> DeviceChoice:
    """Resolve ``auto|cuda|cpu`` into the device actually used.

    ``cuda`` without a visible GPU falls back to the CPU and says so (as XGBoost would, but visibly).
    """
    if requested == "cpu":
        return DeviceChoice("cpu", "device: cpu requested")
    visible, why = gpu_visible()
    if visible:
        return DeviceChoice("cuda", f"device: {requested}; GPU visible ({why})")
    if requested == "cuda":
        return DeviceChoice("cpu", f"device: cuda requested but no GPU is visible ({why}); training on CPU")
    return DeviceChoice("cpu", f"device: auto; no GPU visible ({why}); training on CPU")
