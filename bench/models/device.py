"""Devices and dtypes: `--device` checked against this machine, the dtype `auto` resolves to, and whether an
error is the device running out of memory. Used by every backend and by the commands that check a device."""

from __future__ import annotations

from bench.errors import UserError


def pick_device(device: str = "auto") -> str:
    """`device` checked against this machine, so a typo or a missing GPU is a user error, not a torch traceback."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"--device '{device}': expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available on this machine; use --device cpu")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise UserError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    return device


def resolve_dtype(device: str, dtype: str) -> str:
    return ("bfloat16" if device.startswith("cuda") else "float32") if dtype == "auto" else dtype


def is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or (isinstance(e, RuntimeError) and "out of memory" in str(e))
