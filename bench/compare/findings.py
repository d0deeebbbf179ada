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
A row whose precondition fails (`unmet`: the MNLI − HANS gap of a base that answers MNLI at chance) is
inconclusive whatever its p, and says why.
A stereotype row also carries a reading against a quality measure of the same variant (StereoSet LMS / ICAT, BBQ
disambiguated accuracy, MNLI accuracy): a score that moves toward its neutral point (50, or 0) while language
ability falls is lost ability, not lost bias.

Schema `qdbench.findings/1`: {"schema", "family", "created", "qdbench_version", "settings", "variants": {LABEL:
{"role", "method", "weight_bits"}}, "claims": [{"id", "text", "source", "test", "applies_to", "summary",
"counts": {VERDICT: n}}], "rows": [ROW]}; ROW = {"claim", "variant", "versus", "task", "metric", "test",
"expected", "null", "base", "value", "effect", "ci_low", "ci_high", "p_value", "p_holm", "mde", "n_units",
"verdict", "why", "evidence", "quality", "quality_reading", "unmet"} (undefined numbers null; `unmet`: why the
claim's precondition fails on this family, e.g. a base at chance on MNLI for the MNLI − HANS gap, which makes
the row inconclusive whatever its p).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bench import __version__
from bench.compare import claims as C
from bench.compare.findings_family import Family
from bench.compare.findings_render import _fmt, markdown, terminal  # noqa: F401 (the CLI's)
from bench.compare.findings_verdict import correct, reading
from bench.compare.pairing import Pair, align, pair
from bench.compare.report import nli_gap, pair_metrics, paired_row, task_hooks
from bench.errors import UserError
from bench.metrics.declare import Metric, clean, evaluate, stats, units
from bench.stats import mcnemar_exact
from bench.stats.flips import ANTI_BIASED, BIASED, UNKNOWN
from bench.stats.power import normal_mde
from bench.stats.resample import bootstrap, bootstrap_se, enough_units, percentile_interval, permutation_p, recentred_p
from bench.stats.trend import permutation_null, slope

SCHEMA = "qdbench.findings/1"
VERDICTS = ("supported", "contradicted", "inconclusive", "not measured")
RELEASE_BITS = 16  # the base's place on the bits axis: models are released in 16-bit precision


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
           "quality_reading": None, "unmet": None}
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
                if check.decisions:
                    row["unmet"] = self.one_answer(check, label)
                if check.neutral is not None:
                    row["quality"] = self.quality(label)
                    row["quality_reading"] = reading(row, check, row["quality"], self.cfg["alpha"])
                out.append(row)
        return out

    def one_answer(self, check: C.Check, label: str) -> str | None:
        """Why a parity of decisions says nothing here: the base or the variant gives one answer to every prompt,
        which makes the parity 0 whatever the person's attributes do to the model."""
        r = self.delta(check.task, check.decisions, label)
        if isinstance(r, str):
            return None
        same = [f"{who} answers '{'yes' if rate == 1 else 'no'}' to every prompt" for who, rate in
                (("the base", r["base"]), (label, r["variant"])) if rate in (0.0, 1.0)]
        return (" and ".join(same) + f": a {check.metric} of 0 there is so by construction (p_yes_parity_difference "
                "reads the probabilities)") if same else None

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
        permuted = m.value is not None and m.test != "bootstrap"  # the metric's declared test, as in `compare`
        if n and np.isfinite(observed) and enough_units(unit, n):
            draws = bootstrap(lambda w: slope(x, np.stack([evaluate(m, s, w) for s in st], axis=1)), n, unit=unit,
                              strata=strata, n_resamples=cfg["n_resamples"], seed=cfg["seed"])
            if permuted:
                null = permutation_null([s.sums for s in st], m.value, x, n, unit=unit,
                                        n_permutations=cfg["n_resamples"], seed=cfg["seed"])
                p = permutation_p(null, observed)
            else:
                p = recentred_p(draws, observed)
        lo, hi = percentile_interval(draws, cfg["confidence"])
        se = bootstrap_se(draws)
        row.update(test=f"paired {'permutation' if permuted else 'bootstrap'} of the slope over bits",
                   effect=clean(observed), ci_low=clean(lo),
                   ci_high=clean(hi), p_value=clean(p), mde=clean(normal_mde(se, cfg["alpha"], cfg["power"])),
                   n_units=int(len(np.unique(unit))), base=clean(values[0]), value=clean(values[-1]),
                   evidence={"bits": x.tolist(), "values": [clean(v) for v in values], "unit": "per weight bit"})
        if check.decisions:
            row["unmet"] = next(filter(None, (self.one_answer(check, x) for x in present)), None)
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
                    **_from_paired(r), evidence={"unit": "accuracy (12.5 points = 0.125)"},
                    unmet=self.base_does_nli(label))

    def base_does_nli(self, label: str) -> str | None:
        """None when the base answers MNLI above chance; else why the gap cannot speak for the claim. The gap
        asks whether a model right on MNLI is right for the wrong (syntactic) reasons; for a model at chance on
        MNLI it only measures which label the model prefers, and moving it is not losing robustness. Above chance
        means an exact two-sided binomial test against 1/3 (three labels) at alpha."""
        from scipy.stats import binomtest

        p = self.pair("mnli", label, "base")
        m = metric_of("mnli", "accuracy", p)
        n = len(p.base_items)
        if m is None or n == 0:
            return "the base's MNLI accuracy is undefined"
        acc = float(evaluate(m, stats(m, p.base_items), np.ones((1, n)))[0])
        test = binomtest(round(acc * n), n, 1 / 3)
        if test.pvalue < self.cfg["alpha"] and acc > 1 / 3:
            return None
        ci = test.proportion_ci(1 - self.cfg["alpha"])
        return (f"the base answers MNLI at chance ({_fmt(acc)} [{_fmt(ci.low)}, {_fmt(ci.high)}] on {n} pairs, chance "
                f"1/3, exact binomial p {_fmt(test.pvalue, 2)}): its MNLI − HANS gap measures which label it "
                "prefers, not a heuristic, so a change in it is not lost robustness")


def _test_name(m: Metric) -> str:
    from bench.metrics.declare import TESTS

    return TESTS[m.test]


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
