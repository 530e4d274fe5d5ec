"""What produced a result: package versions, git commit, device, platform."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = ("cotbench", "torch", "transformers", "tokenizers", "datasets", "accelerate", "numpy")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine the numbers."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, str | bool | None]:
    """The commit of the cotbench checkout (None outside a git checkout) and whether it is dirty."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere): CPU
    float kernels, and so a run's last digits, can differ between processor types."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def device_record(device: torch.device) -> dict[str, str | int]:
    """The device, processor and thread settings a run used (with the ``CUDA_VISIBLE_DEVICES``
    it was given, when set: the GPUs of a ``--jobs`` worker or a Ray task)."""
    record: dict[str, str | int] = {
        "device": str(device),
        "cpu": cpu_model(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        record["cuda_device"] = torch.cuda.get_device_name(device)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        record["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return record


def environment_record(device: torch.device) -> dict:
    """Versions, commit, device and platform, as written to ``env.json``."""
    return {
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git": git_commit(),
        **device_record(device),
    }


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
