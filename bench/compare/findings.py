"""`qdbench findings`: the published claims (bench/compare/claims.py) tested on one family's runs.

Every number comes from the project's paired comparison: a variant against the base is report.paired_row with
the metric's declared test and paired bootstrap interval; the MNLI − HANS gap is report.nli_gap; a trend is the
paired permutation test of the slope (bench/stats/trend.py); flips and shares are paired bootstraps over items
(bench/stats/resample.py). One row per claim × variant (or method, for a trend) × metric; the p-values of all
rows are corrected together, Holm across the claims (bench.stats.adjust_pvalues).

A verdict follows the numbers only:
- supported: the Holm-corrected p is below alpha and the effect lies on the claim's side of its null value;
- contradicted: the corrected p is below alpha and the effect lies on the other side;
- inconclusive: otherwise, with the minimum detectable effect (MDE, power 0.8) saying what this size could have
  seen: an underpowered test is never read as "no effect";
- not measured: the family lacks the runs the claim needs (the reason says which).
A stereotype row also carries a reading against a quality measure of the same variant (StereoSet LMS / ICAT, BBQ
disambiguated accuracy, MNLI accuracy): a score that moves toward its neutral point (50, or 0) while language
ability falls is lost ability, not lost bias.

Schema `qdbench.findings/1`: {"schema", "family", "created", "qdbench_version", "settings", "variants": {LABEL:
{"role", "method", "weight_bits"}}, "claims": [{"id", "text", "source", "test", "applies_to", "summary",
"counts": {VERDICT: n}}], "rows": [ROW]}; ROW = {"claim", "variant", "versus", "task", "metric", "test",
"expected", "null", "base", "value", "effect", "ci_low", "ci_high", "p_value", "p_holm", "mde", "n_units",
"verdict", "why", "evidence", "quality", "quality_reading"} (undefined numbers null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench import __version__
from bench.compare import claims as C
from bench.compare.pairing import Pair, Run, align, pair
from bench.compare.report import nli_gap, pair_metrics, paired_row, task_hooks
from bench.errors import UserError
from bench.metrics.declare import Metric, clean, evaluate, stats, units
from bench.stats import adjust_pvalues, mcnemar_exact
from bench.stats.flips import ANTI_BIASED, BIASED, UNKNOWN
from bench.stats.power import normal_mde
from bench.stats.resample import bootstrap, bootstrap_se, enough_units, percentile_interval, permutation_p, recentred_p
from bench.stats.trend import permutation_null, slope

SCHEMA = "qdbench.findings/1"
VERDICTS = ("supported", "contradicted", "inconclusive", "not measured")
RELEASE_BITS = 16  # the base's place on the bits axis: models are released in 16-bit precision


@dataclass
class Family:
    """One family's runs: task -> (base run, {variant label: run}), and what each variant is."""

    name: str
    tasks: dict[str, tuple[Run, dict[str, Run]]]
    members: dict = field(default_factory=dict)  # label -> equal_memory.Member
    bits: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def of_runs(cls, name: str, runs: list[Run]) -> Family:
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
                    out.members[label] = member(run)
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


def metric_of(task: str, name: str, p: Pair) -> Metric | None:
    """A task's declared metric by name (in the generative form where both runs generated); DiscrimEval's
    `mean_abs_score` is the mean |coefficient| of its declared discrimination scores (distance from fair)."""
    hooks = task_hooks(task)
    if hooks is None:
        return None
    declared = pair_metrics(hooks, p)
    if task == "discrim_eval" and name == "mean_abs_score":
        from bench.metrics.discrim import score_names

        coefs = [m for m in declared if m.name in score_names() and m.value is not None]
        if not coefs:
            return None

        def mean_abs(s, coefs=coefs):
            return np.mean(np.stack([np.abs(np.asarray(m.value(s), dtype=np.float64)) for m in coefs]), axis=0)
        return Metric("mean_abs_score", coefs[0].columns, mean_abs, test="bootstrap", cluster=coefs[0].cluster,
                      description="mean |discrimination score| over the declared demographic levels")
    return next((m for m in declared if m.name == name), None)


def _row(claim: C.Claim, check: C.Check, variant: str, versus: str = "base", **kw) -> dict:
    row = {"claim": claim.id, "variant": variant, "versus": versus, "task": check.task, "metric": check.metric,
           "test": None, "expected": "+" if check.direction > 0 else "−", "null": claim.null, "base": None,
           "value": None, "effect": None, "ci_low": None, "ci_high": None, "p_value": None, "p_holm": None,
           "mde": None, "n_units": None, "verdict": None, "why": None, "evidence": {}, "quality": [],
           "quality_reading": None}
    row.update(kw)
    return row


def _missing(claim: C.Claim, check: C.Check, variant: str, why: str, versus: str = "base") -> dict:
    return _row(claim, check, variant, versus, verdict="not measured", why=why)


def _from_paired(r: dict) -> dict:
    return {"base": r["base"], "value": r["variant"], "effect": r["delta"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "p_value": r["p_value"], "mde": r["mde"], "n_units": r.get("n_counted")
            or r["n_items"]}


class Tester:
    """Computes the rows of every claim on one family, caching the pairs and paired rows it reuses."""

    def __init__(self, fam: Family, cfg: dict):
        self.fam, self.cfg = fam, cfg
        self._pairs: dict[tuple[str, str, str], Pair] = {}
        self._rows: dict[tuple[str, str, str], dict] = {}

    def pair(self, task: str, label: str, versus: str = "base") -> Pair:
        key = (task, label, versus)
        if key not in self._pairs:
            base, variants = self.fam.tasks[task]
            a = base if versus == "base" else variants[versus]
            self._pairs[key] = pair(a, variants[label])
        return self._pairs[key]

    def has(self, task: str, label: str) -> bool:
        return task in self.fam.tasks and label in self.fam.tasks[task][1]

    def delta(self, task: str, metric: str, label: str) -> dict | str:
        """The paired row of `metric` for variant − base, or why there is none."""
        key = (task, metric, label)
        if key not in self._rows:
            if not self.has(task, label):
                return f"no {task} run of variant '{label}' (and its base) in this family"
            try:
                p = self.pair(task, label)
            except UserError as e:
                return f"{task}: runs do not pair: {e}"
            m = metric_of(task, metric, p)
            if m is None:
                return f"{task} declares no metric '{metric}' here"
            try:
                m.columns(p.base_items.head(2))
            except KeyError as e:
                return f"{task} items lack column {e} that '{metric}' needs"
            self._rows[key] = {**paired_row(m, p.base_items, p.variant_items, self.cfg), "test": _test_name(m)}
        return self._rows[key]

    # -- the kinds of test ------------------------------------------------------------------------------------

    def deltas(self, claim: C.Claim) -> list[dict]:
        out = []
        labels = self.fam.labels(claim.applies_to)
        for check in claim.checks:
            if not labels:
                out.append(_missing(claim, check, "—", f"the family has no {claim.applies_to} variants"))
            for label in labels:
                r = self.delta(check.task, check.metric, label)
                if isinstance(r, str):
                    out.append(_missing(claim, check, label, r))
                    continue
                row = _row(claim, check, label, test=r["test"], **_from_paired(r))
                if check.neutral is not None:
                    row["quality"] = self.quality(label)
                    row["quality_reading"] = reading(row, check, row["quality"], self.cfg["alpha"])
                out.append(row)
        return out

    def quality(self, label: str) -> list[dict]:
        out = []
        for task, metric in C.QUALITY:
            r = self.delta(task, metric, label)
            if isinstance(r, dict):
                out.append({"task": task, "metric": metric, "base": r["base"], "value": r["variant"],
                            "delta": r["delta"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                            "p_value": r["p_value"], "mde": r["mde"]})
        return out

    def trends(self, claim: C.Claim) -> list[dict]:
        methods: dict[str, list[str]] = {}
        for label in self.fam.labels("quantized"):
            if self.fam.bits.get(label):
                methods.setdefault(str(self.fam.members[label].method or "?"), []).append(label)
        out = []
        usable = {m: ls for m, ls in methods.items() if len({self.fam.bits[x] for x in ls}) >= 2}
        for check in claim.checks:
            if not usable:
                found = ", ".join(f"{m}: {sorted({self.fam.bits[x] for x in ls})} bits" for m, ls in methods.items())
                out.append(_missing(claim, check, "—", "no quantization method at two or more weight bit widths ("
                                    + (found or "no quantized variants with known bits") + ")"))
            for method, labels in sorted(usable.items()):
                out.append(self.trend(claim, check, method, sorted(labels, key=lambda x: -self.fam.bits[x])))
        return out

    def trend(self, claim: C.Claim, check: C.Check, method: str, labels: list[str]) -> dict:
        name = f"{method}: " + ", ".join(f"{x} ({self.fam.bits[x]} bits)" for x in labels)
        row = dict(expected="−" if check.direction > 0 else "+")  # worse at fewer bits: slope against bits flips
        present = [x for x in labels if self.has(check.task, x)]
        if len({self.fam.bits[x] for x in present}) < 2:
            return _missing(claim, check, name, f"fewer than two bit widths of {method} ran {check.task}", **{})
        base, variants = self.fam.tasks[check.task]
        runs = [variants[x] for x in present]
        try:
            frames, _ = align(base, *runs)
        except UserError as e:
            return _missing(claim, check, name, f"{check.task}: runs do not pair: {e}")
        m = metric_of(check.task, check.metric, Pair(base, runs[0], frames[0], frames[1]))
        if m is None:
            return _missing(claim, check, name, f"{check.task} declares no metric '{check.metric}' here")
        x = np.array([RELEASE_BITS] + [self.fam.bits[r] for r in present], dtype=np.float64)
        st = [stats(m, f) for f in frames]
        n = len(frames[0])
        values = np.array([evaluate(m, s, np.ones((1, n)))[0] for s in st])
        observed = float(slope(x, values[None, :])[0])
        unit, strata = units(m, frames[0])
        cfg = self.cfg
        draws = np.full(cfg["n_resamples"], np.nan)
        p = float("nan")
        if n and np.isfinite(observed) and enough_units(unit, n):
            draws = bootstrap(lambda w: slope(x, np.stack([evaluate(m, s, w) for s in st], axis=1)), n, unit=unit,
                              strata=strata, n_resamples=cfg["n_resamples"], seed=cfg["seed"])
            if m.value is not None:
                null = permutation_null([s.sums for s in st], m.value, x, n, unit=unit,
                                        n_permutations=cfg["n_resamples"], seed=cfg["seed"])
                p = permutation_p(null, observed)
            else:
                p = recentred_p(draws, observed)
        lo, hi = percentile_interval(draws, cfg["confidence"])
        se = bootstrap_se(draws)
        row.update(test="paired permutation of the slope over bits" if m.value is not None else
                   "paired bootstrap of the slope over bits", effect=clean(observed), ci_low=clean(lo),
                   ci_high=clean(hi), p_value=clean(p), mde=clean(normal_mde(se, cfg["alpha"], cfg["power"])),
                   n_units=int(len(np.unique(unit))), base=clean(values[0]), value=clean(values[-1]),
                   evidence={"bits": x.tolist(), "values": [clean(v) for v in values], "unit": "per weight bit"})
        return _row(claim, check, name, **row)

    def flips(self, claim: C.Claim) -> list[dict]:
        check = claim.checks[0]
        labels = self.fam.labels(claim.applies_to)
        if not labels:
            return [_missing(claim, check, "—", f"the family has no {claim.applies_to} variants")]
        return [self.flip_row(claim, check, label) for label in labels]

    def _kinds(self, check: C.Check, label: str) -> tuple[np.ndarray, np.ndarray] | str:
        if not self.has(check.task, label):
            return f"no {check.task} run of variant '{label}' (and its base) in this family"
        try:
            p = self.pair(check.task, label)
        except UserError as e:
            return f"{check.task}: runs do not pair: {e}"
        hooks = task_hooks(check.task)
        if hooks is None or hooks.answer_kinds is None or "pred" not in p.base_items.columns:
            return f"{check.task} labels no answers as biased here"
        return (np.asarray(hooks.answer_kinds(p.base_items)), np.asarray(hooks.answer_kinds(p.variant_items)))

    def flip_row(self, claim: C.Claim, check: C.Check, label: str) -> dict:
        kinds = self._kinds(check, label)
        if isinstance(kinds, str):
            return _missing(claim, check, label, kinds)
        kb, kv = kinds
        b, v = (kb == BIASED).astype(np.float64), (kv == BIASED).astype(np.float64)
        churn, net = (b != v).astype(np.float64), v - b
        n = len(b)

        def fn(w):
            tot = w.sum(axis=1)
            c, d = w @ churn / tot, w @ net / tot
            return np.stack([c - 2 * np.abs(d), c, d], axis=1)
        obs = fn(np.ones((1, n)))[0]
        draws = bootstrap(fn, n, n_resamples=self.cfg["n_resamples"], seed=self.cfg["seed"]) if n else \
            np.full((self.cfg["n_resamples"], 3), np.nan)
        cis = [percentile_interval(draws[:, j], self.cfg["confidence"]) for j in range(3)]
        se = bootstrap_se(draws[:, 0])
        mc = mcnemar_exact(b > 0, v > 0)
        evidence = {"flipped_share": clean(obs[1]), "flipped_ci": [clean(x) for x in cis[1]],
                    "aggregate_delta": clean(obs[2]), "aggregate_ci": [clean(x) for x in cis[2]],
                    "aggregate_p": clean(mc.p_value), "aggregate": "share of answers that are stereotyped",
                    "became_biased": mc.c, "stopped_biased": mc.b, "n_items": n,
                    "answer_flips": int((kb != kv).sum())}
        return _row(claim, check, label, test="paired bootstrap of churn − 2·|net| (net: exact McNemar)",
                    base=clean(float(b.mean())) if n else None, value=clean(float(v.mean())) if n else None,
                    effect=clean(obs[0]), ci_low=clean(cis[0][0]), ci_high=clean(cis[0][1]),
                    p_value=clean(recentred_p(draws[:, 0], obs[0])) if n else None,
                    mde=clean(normal_mde(se, self.cfg["alpha"], self.cfg["power"])), n_units=n, evidence=evidence)

    def shares(self, claim: C.Claim) -> list[dict]:
        check = claim.checks[0]
        labels = self.fam.labels(claim.applies_to)
        if not labels:
            return [_missing(claim, check, "—", "the family has no quantized variant at 3 weight bits")]
        out = []
        for label in labels:
            kinds = self._kinds(check, label)
            if isinstance(kinds, str):
                out.append(_missing(claim, check, label, kinds))
                continue
            kb, kv = kinds
            elig = np.isin(kb, [UNKNOWN, ANTI_BIASED]).astype(np.float64)
            became = elig * (kv == BIASED)
            n, m = len(kb), int(elig.sum())
            if not m:
                out.append(_missing(claim, check, label, "the base gave no unbiased BBQ answers"))
                continue

            def fn(w, became=became, elig=elig):
                return w @ became / np.where(w @ elig == 0, np.nan, w @ elig)
            share = float(became.sum() / m)
            draws = bootstrap(fn, n, n_resamples=self.cfg["n_resamples"], seed=self.cfg["seed"])
            lo, hi = percentile_interval(draws, self.cfg["confidence"])
            se = bootstrap_se(draws)
            out.append(_row(claim, check, label, test=f"paired bootstrap of the share against {claim.null:g}",
                            effect=clean(share), ci_low=clean(lo), ci_high=clean(hi),
                            p_value=clean(recentred_p(draws - claim.null, share - claim.null)),
                            mde=clean(normal_mde(se, self.cfg["alpha"], self.cfg["power"])), n_units=m,
                            evidence={"unbiased_in_base": m, "became_stereotyped": int(became.sum()),
                                      "claimed_range": [0.06, 0.21]}))
        return out

    def gaps(self, claim: C.Claim) -> list[dict]:
        check = claim.checks[0]
        students = self.fam.labels("students")
        if not students:
            return [_missing(claim, check, "—", "the family has no distilled students")]
        out = []
        for s in students:
            out.append(self.gap_row(claim, check, s, "base"))
        try:
            from bench.compare.equal_memory import nearest_pairs

            pairs = nearest_pairs(list(self.fam.members.values()))
        except UserError as e:
            out.append(_missing(claim, check, ", ".join(students), f"equal memory: {e}", versus="quantized"))
            return out
        for s, q, _ in pairs:
            out.append(self.gap_row(claim, check, s, q))
        return out

    def gap_row(self, claim: C.Claim, check: C.Check, label: str, versus: str) -> dict:
        need = [t for t in ("mnli", "hans") if not (self.has(t, label) and (versus == "base" or self.has(t, versus)))]
        if need:
            who = f"'{label}'" + ("" if versus == "base" else f" and '{versus}'")
            return _missing(claim, check, label, f"no {' and '.join(need)} runs of {who}", versus)
        try:
            x = nli_gap(self.pair("mnli", label, versus), self.pair("hans", label, versus), self.cfg)
        except UserError as e:
            return _missing(claim, check, label, f"runs do not pair: {e}", versus)
        r = x["overall"]
        return _row(claim, check, label, versus, test="paired bootstrap of each task, independently",
                    **_from_paired(r), evidence={"unit": "accuracy (12.5 points = 0.125)"})


def _test_name(m: Metric) -> str:
    from bench.metrics.declare import TESTS

    return TESTS[m.test]


def _fmt(v, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.{digits}g}" if signed else f"{v:.{digits}g}"


def reading(row: dict, check: C.Check, quality: list[dict], alpha: float) -> str:
    """Whether a stereotype score's move toward its neutral point coincides with lost language ability."""
    b, v, t = row["base"], row["value"], check.neutral
    if b is None or v is None:
        return "undefined score"
    q = quality[0] if quality else None
    qtext = ("no quality measure of this variant ran (StereoSet LMS/ICAT, BBQ disambiguated accuracy)" if q is None
             else f"{q['task']} {q['metric']} Δ {_fmt(q['delta'], signed=True)} [{_fmt(q['ci_low'], signed=True)}, "
                  f"{_fmt(q['ci_high'], signed=True)}], p {_fmt(q['p_value'], 2)}")
    fell = [x for x in quality if x["delta"] is not None and x["delta"] < 0 and x["p_value"] is not None
            and x["p_value"] < alpha]
    if abs(v - t) < abs(b - t):
        where = f"moved toward {t:g} ({_fmt(b)} → {_fmt(v)})"
        if fell:
            f = fell[0]
            return (f"{where} while {f['task']} {f['metric']} fell (Δ {_fmt(f['delta'], signed=True)}, p "
                    f"{_fmt(f['p_value'], 2)}): lost language ability, not evidence of less bias")
        if q is None:
            return f"{where}; {qtext}: cannot tell lost bias from lost ability"
        return (f"{where} with no significant loss of quality ({qtext}; MDE {_fmt(q['mde'])}): not explained by "
                "lost ability at this power")
    return f"moved away from {t:g} ({_fmt(b)} → {_fmt(v)}); quality: {qtext}"


def correct(rows: list[dict], alpha: float) -> None:
    """Holm across every row that has a p (all claims together); then each row's verdict."""
    tested = [r for r in rows if r["verdict"] != "not measured"]
    _, adjusted = adjust_pvalues([np.nan if r["p_value"] is None else r["p_value"] for r in tested], "holm", alpha)
    for r, adj in zip(tested, adjusted, strict=True):
        r["p_holm"] = clean(adj)
        r["verdict"], r["why"] = verdict(r, alpha)


def verdict(r: dict, alpha: float) -> tuple[str, str]:
    e, p, mde = r["effect"], r["p_holm"], r["mde"]
    if e is None or p is None:
        return "inconclusive", "the effect or its test is undefined on these items"
    side = 1 if e - r["null"] > 0 else -1 if e - r["null"] < 0 else 0
    want = 1 if r["expected"] == "+" else -1
    if p < alpha and side == want:
        return "supported", f"Holm p {_fmt(p, 2)} < {alpha:g}, effect on the claimed side"
    if p < alpha and side == -want:
        return "contradicted", f"Holm p {_fmt(p, 2)} < {alpha:g}, effect on the opposite side"
    return "inconclusive", (f"Holm p {_fmt(p, 2)} ≥ {alpha:g}: not distinguishable from {r['null']:g} at this size "
                            f"(MDE {_fmt(mde)}: smaller effects would go unseen); not evidence of no effect")


RUNNERS = {"delta": Tester.deltas, "trend": Tester.trends, "flips": Tester.flips, "share": Tester.shares,
           "nli_gap": Tester.gaps}


def findings(fam: Family, cfg: dict) -> dict:
    tester = Tester(fam, cfg)
    rows = [r for claim in C.CLAIMS for r in RUNNERS[claim.test](tester, claim)]
    correct(rows, cfg["alpha"])
    out_claims = []
    for claim in C.CLAIMS:
        mine = [r for r in rows if r["claim"] == claim.id]
        counts = {v: sum(r["verdict"] == v for r in mine) for v in VERDICTS}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no rows"
        out_claims.append({"id": claim.id, "text": claim.text, "source": claim.source, "test": claim.test,
                           "applies_to": claim.applies_to, "counts": counts, "summary": summary})
    variants = {k: {"role": m.role, "method": m.method, "weight_bits": fam.bits.get(k)} for k, m in
                sorted(fam.members.items())}
    return {"schema": SCHEMA, "family": fam.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "qdbench_version": __version__, "settings": cfg, "variants": variants, "claims": out_claims, "rows": rows}


# -- rendering --------------------------------------------------------------------------------------------------

HEAD = ["claim", "variant", "vs", "task · metric", "exp.", "effect [95% CI]", "p", "p Holm", "MDE", "verdict"]


def cells(r: dict) -> list[str]:
    ci = "" if r["ci_low"] is None else f" [{_fmt(r['ci_low'], signed=True)}, {_fmt(r['ci_high'], signed=True)}]"
    eff = "–" if r["effect"] is None else _fmt(r["effect"], signed=True) + ci
    return [r["claim"], r["variant"], r["versus"], f"{r['task']} · {r['metric']}", r["expected"], eff,
            _fmt(r["p_value"], 2), _fmt(r["p_holm"], 2), _fmt(r["mde"]), r["verdict"]]


def markdown(doc: dict) -> str:
    def esc(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    lines = [f"# Findings: {esc(doc['family'])}", "",
             f"Published claims tested on family `{esc(doc['family'])}`: paired comparisons on the same items, "
             f"{doc['settings']['n_resamples']} resamples, Holm across all rows of all claims, alpha "
             f"{doc['settings']['alpha']}, MDE at power {doc['settings']['power']}. Inconclusive means this size "
             "could not tell; it is never evidence of no effect.", ""]
    for c in doc["claims"]:
        lines += [f"## {esc(c['text'])}", "", f"Source: {esc(c['source'])} · test: {c['test']} · {c['summary']}", ""]
        mine = [r for r in doc["rows"] if r["claim"] == c["id"]]
        lines += ["| " + " | ".join(HEAD[1:] + ["why"]) + " |", "|" + "---|" * len(HEAD)]
        for r in mine:
            lines.append("| " + " | ".join(esc(x) for x in cells(r)[1:] + [r["why"] or ""]) + " |")
        notes = [r for r in mine if r["quality_reading"] or r["evidence"].get("flipped_share") is not None]
        for r in notes:
            if r["quality_reading"]:
                lines.append(f"- {esc(r['variant'])} · {r['task']} {r['metric']}: {esc(r['quality_reading'])}")
            else:
                e = r["evidence"]
                lines.append(f"- {esc(r['variant'])}: {_fmt(e['flipped_share'])} of answers flipped between "
                             f"stereotyped and not ({e['became_biased']} became, {e['stopped_biased']} stopped); "
                             f"aggregate Δ {_fmt(e['aggregate_delta'], signed=True)} "
                             f"[{_fmt(e['aggregate_ci'][0], signed=True)}, {_fmt(e['aggregate_ci'][1], signed=True)}], "
                             f"McNemar p {_fmt(e['aggregate_p'], 2)}")
        lines.append("")
    return "\n".join(lines)


def terminal(doc: dict) -> str:
    rows = [HEAD] + [cells(r) for r in doc["rows"]]
    widths = [min(44, max(len(str(r[i])) for r in rows)) for i in range(len(HEAD))]

    def line(r):
        return "  ".join(str(x)[:w].ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
    out = [f"findings · family {doc['family']}", line(HEAD), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[1:]]
    out += ["", *(f"{c['id']}: {c['summary']}" for c in doc["claims"])]
    return "\n".join(out) + "\n"
