"""One family's runs as `qdbench findings` reads them: the base and variant runs of each task, each variant's role
(quantized or student) and weight bits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.compare.pairing import Run
from bench.errors import UserError


@dataclass
class Family:
    """One family's runs: task -> (base run, {variant label: run}), and what each variant is."""

    name: str
    tasks: dict[str, tuple[Run, dict[str, Run]]]
    members: dict = field(default_factory=dict)  # label -> equal_memory.Member
    bits: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def of_runs(cls, name: str, runs: list[Run], sizes: dict[str, int | None] | None = None) -> Family:
        """`sizes`: variant -> weight bytes where neither its model folder nor its runs say (a submission's)."""
        from bench.compare.equal_memory import member

        tasks: dict[str, tuple[Run | None, dict[str, Run]]] = {}
        for run in runs:
            base, variants = tasks.setdefault(run.task, (None, {}))
            if (run.manifest.get("variant") or {}).get("name") in (None, "base"):
                if base is not None and base.path != run.path:
                    raise UserError(f"family '{name}': task '{run.task}' has two base runs ({base.path}, {run.path}), "
                                    "made under different settings; pass --settings HASH (see `qdbench show --list`)")
                tasks[run.task] = (run, variants)
            else:
                variants[run.label] = run
        out = cls(name, {t: (b, v) for t, (b, v) in tasks.items() if b is not None and v})
        if not out.tasks:
            raise UserError(f"family '{name}': no task with both a base run and a variant run")
        for _base, variants in out.tasks.values():
            for label, run in variants.items():
                if label not in out.members:
                    out.members[label] = member(run, (sizes or {}).get(label))
                    recipe = (run.manifest.get("variant") or {}).get("recipe") or {}
                    bits = recipe.get("weight_bits")
                    out.bits[label] = int(bits) if isinstance(bits, int | float) else None
        return out

    @classmethod
    def of_folder(cls, runs_dir: Path, name: str, settings: str | None = None) -> Family:
        from bench.compare.family import find_family
        from bench.compare.pairing import load

        found = find_family(runs_dir, name, settings)
        return cls.of_runs(name, [load(p) for base, variants in found.values() for p in [base, *variants]])

    def role(self, label: str) -> str:
        return self.members[label].role

    def labels(self, applies_to: str) -> list[str]:
        if applies_to == "students":
            return sorted(m for m in self.members if self.role(m) == "student")
        quantized = sorted(m for m in self.members if self.role(m) == "quantized")
        return [m for m in quantized if self.bits.get(m) == 3] if applies_to == "bits3" else quantized
