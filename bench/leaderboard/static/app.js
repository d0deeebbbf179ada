// qdbench leaderboard: renders window.QDBENCH_DATA (schema qdbench.leaderboard/1) with plain DOM calls.
// Every name and free-text field reaches the page through textContent or setAttribute, never as HTML.
"use strict";
(function () {
  const DATA = window.QDBENCH_DATA;
  const SVGNS = "http://www.w3.org/2000/svg";
  const state = { sort: null, dir: 1, family: "", method: "", bits: "", metric: {}, plotMode: "value",
                  selected: null, placeholders: false, findings: null };

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "text") node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined)
      node.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return v.toFixed(digits === undefined ? (a >= 100 ? 1 : 3) : digits);
  }
  function bytesText(b) {
    if (b === null || b === undefined) return "—";
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (b >= 1000 && i < units.length - 1) { b /= 1000; i++; }
    return b.toFixed(b >= 100 ? 0 : 1) + " " + units[i];
  }
  const tasks = Object.keys(DATA.tasks);
  for (const t of tasks) state.metric[t] = DATA.tasks[t].headline;
  // Sorted by the first task's selected Δ from the start, so the rank intervals show without a click.
  if (tasks.length) state.sort = "d:" + tasks[0];

  function delta(row, task) {
    const entry = row.tasks[task];
    if (!entry) return null;
    if (row.variant === "base") return { delta: 0, ci_low: 0, ci_high: 0, isBase: true };
    return (entry.deltas || {})[state.metric[task]] || null;
  }
  function value(row, task) {
    const entry = row.tasks[task];
    return entry ? entry.values[state.metric[task]] : null;
  }
  const COLUMNS = [
    { key: "family", label: "family", get: (r) => r.family },
    { key: "variant", label: "variant", get: (r) => r.variant },
    { key: "method", label: "method", get: (r) => r.method },
    { key: "weight_bits", label: "W bits", get: (r) => r.weight_bits, num: true },
    { key: "activation_bits", label: "A bits", get: (r) => r.activation_bits, num: true },
    { key: "bytes", label: "bytes", get: (r) => r.bytes, num: true },
  ];
  for (const t of tasks) {
    COLUMNS.push({ key: "v:" + t, task: t, label: () => state.metric[t], get: (r) => value(r, t),
                   num: true, kind: "value" });
    COLUMNS.push({ key: "d:" + t, task: t, label: () => "Δ [95% CI]",
                   get: (r) => { const d = delta(r, t); return d ? d.delta : null; }, num: true, kind: "delta" });
  }

  function visible(r) { return state.placeholders || !r.placeholder; }
  function filtered() {
    return DATA.rows.filter((r) => visible(r) && (!state.family || r.family === state.family) &&
      (!state.method || r.method === state.method) &&
      (!state.bits || String(r.weight_bits) === state.bits));
  }
  function sorted(rows) {
    if (!state.sort) return rows;
    const col = COLUMNS.find((c) => c.key === state.sort);
    return rows.slice().sort((a, b) => {
      const x = col.get(a), y = col.get(b);
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * state.dir;
    });
  }
  // Rank intervals for the sorted Δ column: the best and worst place a row's interval allows.
  function rankIntervals(rows) {
    const col = COLUMNS.find((c) => c.key === state.sort);
    if (!col || col.kind !== "delta") return null;
    const iv = rows.map((r) => delta(r, col.task)).map((d) => d && d.ci_low !== null && d.ci_high !== null ?
      [d.ci_low, d.ci_high] : null);
    return iv.map((me) => {
      if (!me) return null;
      let ahead = 0, behind = 0, n = 0;
      for (const other of iv) {
        if (!other) continue;
        n++;
        const better = state.dir > 0 ? other[1] < me[0] : other[0] > me[1];
        const worse = state.dir > 0 ? other[0] > me[1] : other[1] < me[0];
        if (better) ahead++;
        if (worse) behind++;
      }
      return [ahead + 1, n - behind];
    });
  }

  function options(values, current, allLabel) {
    return [el("option", { value: "", text: allLabel }),
      ...values.map((v) => el("option", { value: v, text: v, selected: String(v) === current ? "selected" : null }))];
  }
  function uniq(xs) { return [...new Set(xs.filter((x) => x !== null && x !== undefined))]; }

  function renderControls() {
    const box = document.getElementById("controls");
    box.replaceChildren();
    const sel = (id, label, values, key, all) => {
      const s = el("select", { id: id, on: { change: (e) => { state[key] = e.target.value; renderTable(); } } },
        ...options(values, state[key], all));
      box.appendChild(el("label", { for: id }, label, s));
    };
    sel("filter-family", "family", uniq(DATA.rows.filter(visible).map((r) => r.family)).sort(), "family",
      "all families");
    sel("filter-method", "method", uniq(DATA.rows.map((r) => r.method)).sort(), "method", "all methods");
    sel("filter-bits", "weight bits", uniq(DATA.rows.map((r) => r.weight_bits)).sort((a, b) => a - b).map(String),
      "bits", "all bit widths");
    for (const t of tasks) {
      const s = el("select", { id: "metric-" + t, on: { change: (e) => {
        state.metric[t] = e.target.value; renderTable(); renderPlots();
        if (state.selected) renderDetail(state.selected);
      } } }, ...DATA.tasks[t].metrics.map((m) =>
        el("option", { value: m, text: m, selected: m === state.metric[t] ? "selected" : null })));
      box.appendChild(el("label", { for: "metric-" + t }, t + " metric", s));
    }
    const hidden = uniq(DATA.rows.filter((r) => r.placeholder).map((r) => r.family));
    if (hidden.length) {
      const cb = el("input", { type: "checkbox", id: "show-placeholder", checked: state.placeholders ? "checked" : null,
        on: { change: (e) => {
          state.placeholders = e.target.checked;
          if (!state.placeholders && DATA.rows.some((r) => r.placeholder && r.family === state.family)) state.family = "";
          renderControls(); renderTable(); renderPlots(); renderFindings();
        } } });
      box.appendChild(el("label", { for: "show-placeholder", class: "toggle",
        title: "families whose base has random weights: they exercise the site, their numbers mean nothing" },
        "placeholder families (" + hidden.join(", ") + ")", el("span", {}, cb, " show")));
    }
  }

  function renderTable() {
    const table = document.getElementById("board");
    const rows = sorted(filtered());
    const ranks = rankIntervals(rows);
    const top = el("tr", {}, el("th", { rowspan: 2, text: "rank" }));
    const sub = el("tr", {});
    const button = (c) => {
      const label = typeof c.label === "function" ? c.label() : c.label;
      const sortAttr = state.sort === c.key ? (state.dir > 0 ? "ascending" : "descending") : "none";
      return el("button", { "data-key": c.key, "aria-sort": sortAttr, text: label, on: {
        click: () => { if (state.sort === c.key) state.dir = -state.dir; else { state.sort = c.key; state.dir = 1; }
                       renderTable(); } } });
    };
    for (const c of COLUMNS) {
      if (!c.task) top.appendChild(el("th", { rowspan: 2 }, button(c)));
      else {
        if (c.kind === "value") top.appendChild(el("th", { colspan: 2, class: "task", text: c.task }));
        sub.appendChild(el("th", {}, button(c)));
      }
    }
    top.appendChild(el("th", { rowspan: 2, text: "" }));
    table.tHead.replaceChildren(top, sub);
    const body = table.tBodies[0];
    body.replaceChildren();
    rows.forEach((r, i) => {
      const tr = el("tr", { "data-row": r.id, class: (r.variant === "base" ? "base " : "") +
        (state.selected === r.id ? "selected" : "") });
      const rk = ranks ? ranks[i] : null;
      tr.appendChild(el("td", { class: "num rank", title: ranks ? "rank interval from the 95% intervals" :
        "sort by a Δ column for rank intervals", text: rk ? (rk[0] === rk[1] ? rk[0] : rk[0] + "–" + rk[1]) : "—" }));
      for (const c of COLUMNS) {
        const td = el("td", { class: c.num ? "num" : "", "data-key": c.key });
        if (c.key === "family") td.appendChild(el("span", {}, el("span", { class: "kind " + (r.kind || "") }), r.family));
        else if (c.key === "variant") {
          td.appendChild(el("div", { text: r.variant }));
          td.appendChild(el("div", { class: "small model", title: r.model, text: r.label }));
        } else if (c.key === "bytes") { td.textContent = bytesText(r.bytes); td.title = r.bytes_source || ""; }
        else if (c.kind === "delta") {
          const d = delta(r, c.task), entry = r.tasks[c.task];
          if (d && d.isBase) td.appendChild(el("span", { class: "ci", text: "base" }));
          else if (d) {
            td.appendChild(el("span", { class: d.significant ? "sig" : "", text: (d.delta > 0 ? "+" : "") + fmt(d.delta) +
              (d.significant ? " *" : "") }));
            td.appendChild(el("span", { class: "ci", text: " [" + fmt(d.ci_low) + ", " + fmt(d.ci_high) + "]" }));
            td.title = "test: " + d.test + ", p = " + fmt(d.p_value) + ", interval: " + d.ci;
          } else td.appendChild(el("span", { class: "ci", title: entry && entry.skipped ? entry.skipped : "",
            text: entry ? "n/a" : "—" }));
        } else if (c.key.endsWith("_bits")) td.textContent = c.get(r) ?? "—";
        else td.textContent = c.num ? fmt(c.get(r)) : (c.get(r) ?? "—");
        tr.appendChild(td);
      }
      tr.appendChild(el("td", {},
        el("button", { class: "show-detail", text: "groups", on: { click: () => renderDetail(r.id) } }), " ",
        el("button", { class: "show-provenance", text: "provenance", on: { click: () => openProvenance(r.id) } })));
      body.appendChild(tr);
    });
    const nHidden = DATA.rows.filter((r) => !visible(r)).length;
    document.getElementById("count").textContent = rows.length + " of " + DATA.rows.length + " variants shown" +
      (nHidden ? " (" + nHidden + " of placeholder families hidden)" : "") +
      " · * the interval excludes 0 and the paired test is significant at α = " + DATA.settings.alpha;
  }

  function scale(lo, hi, a, b, log) {
    const f = log ? Math.log : (x) => x;
    const l = f(lo), h = f(hi) === l ? l + 1 : f(hi);
    return (x) => a + (f(x) - l) / (h - l) * (b - a);
  }
  function ticks(lo, hi, log) {
    if (log) {
      const out = [];
      for (let p = Math.floor(Math.log2(lo)); p <= Math.ceil(Math.log2(hi)); p++) out.push(2 ** p);
      if (out.length > 8) return out.filter((_, i) => i % Math.ceil(out.length / 6) === 0);
      return out;
    }
    const raw = (hi - lo) / 4 || 1, mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) out.push(Math.abs(t) < step / 1e6 ? 0 : t);
    return out;
  }
  function plot(task, xKey, xLabel) {
    const W = 420, H = 250, L = 56, R = 12, T = 12, B = 40;
    const mode = state.plotMode;
    const pts = filtered().map((r) => {
      const x = r[xKey];
      const d = delta(r, task);
      const y = mode === "value" ? value(r, task) : (d ? d.delta : null);
      return { r, x, y, lo: mode === "delta" && d ? d.ci_low : null, hi: mode === "delta" && d ? d.ci_high : null };
    }).filter((p) => typeof p.x === "number" && p.x > 0 && typeof p.y === "number");
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "aria-label": `${task} ${state.metric[task]} against ${xLabel}`, "data-points": pts.length });
    if (!pts.length) {
      root.appendChild(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data for this metric"));
      return root;
    }
    const xs = pts.map((p) => p.x), ys = pts.flatMap((p) => [p.y, p.lo, p.hi]).filter((v) => typeof v === "number");
    let ylo = Math.min(...ys), yhi = Math.max(...ys);
    if (ylo === yhi) { ylo -= 1; yhi += 1; }
    const pad = (yhi - ylo) * 0.08;
    ylo -= pad; yhi += pad;
    const xlo = Math.min(...xs) / 1.3, xhi = Math.max(...xs) * 1.3;
    const sx = scale(xlo, xhi, L, W - R, true), sy = scale(ylo, yhi, H - B, T, false);
    for (const t of ticks(ylo, yhi, false)) {
      root.appendChild(svg("line", { class: "grid", x1: L, x2: W - R, y1: sy(t), y2: sy(t) }));
      root.appendChild(svg("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end" }, fmt(t, 2).replace(/\.?0+$/, "") || "0"));
    }
    for (const t of ticks(xlo, xhi, true)) {
      if (t < xlo || t > xhi) continue;
      root.appendChild(svg("line", { class: "grid", x1: sx(t), x2: sx(t), y1: T, y2: H - B }));
      root.appendChild(svg("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle" },
        xKey === "bytes" ? bytesText(t) : String(t)));
    }
    root.appendChild(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    root.appendChild(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    root.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, xLabel + " (log scale)"));
    root.appendChild(svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(T + H - B) / 2})` }, (mode === "delta" ? "Δ " : "") + state.metric[task]));
    if (mode === "delta") root.appendChild(svg("line", { class: "axis", x1: L, x2: W - R, y1: sy(0), y2: sy(0),
      "stroke-dasharray": "3 3" }));
    // One line per family (submission) and method, each joined with its own family's base: never across families.
    const series = {};
    const own = (p) => p.r.family + "\u0000" + p.r.submission;
    for (const p of pts) if (p.r.kind !== "base") {
      const key = own(p) + "\u0000" + p.r.method;
      (series[key] = series[key] || { family: p.r.family, method: p.r.method, kind: p.r.kind, pts: [] }).pts.push(p);
    }
    for (const p of pts) if (p.r.kind === "base")
      for (const [key, s] of Object.entries(series)) if (key.startsWith(own(p) + "\u0000")) s.pts.push(p);
    for (const s of Object.values(series)) {
      if (s.pts.length < 2) continue;
      const d = s.pts.slice().sort((a, b) => a.x - b.x).map((p, i) => (i ? "L" : "M") + sx(p.x) + " " + sy(p.y)).join(" ");
      const path = svg("path", { class: "line " + s.kind, d: d, "data-family": s.family, "data-method": s.method,
        "data-rows": s.pts.map((p) => p.r.id).join(" ") });
      path.appendChild(svg("title", {}, `${s.family}: ${s.method}`));
      root.appendChild(path);
    }
    for (const p of pts) {
      const cx = sx(p.x), cy = sy(p.y), kind = p.r.kind || "quantized";
      const g = svg("g", { class: "point " + kind, "data-row": p.r.id });
      if (p.lo !== null && p.hi !== null && p.lo !== undefined)
        g.appendChild(svg("line", { class: "errbar " + kind, x1: cx, x2: cx, y1: sy(p.lo), y2: sy(p.hi) }));
      g.appendChild(kind === "distilled" ? svg("rect", { class: kind, x: cx - 4, y: cy - 4, width: 8, height: 8 }) :
        svg(kind === "base" ? "rect" : "circle", kind === "base" ?
          { class: kind, x: cx - 4, y: cy - 4, width: 8, height: 8, transform: `rotate(45 ${cx} ${cy})` } :
          { class: kind, cx: cx, cy: cy, r: 4 }));
      g.appendChild(svg("title", {}, `${p.r.family} / ${p.r.variant} (${p.r.method}): ${fmt(p.y)}` +
        (p.lo !== null && p.lo !== undefined ? ` [${fmt(p.lo)}, ${fmt(p.hi)}]` : "")));
      root.appendChild(g);
    }
    return root;
  }
  function renderPlots() {
    const ctl = document.getElementById("plot-controls");
    ctl.replaceChildren(el("label", { for: "plot-mode" }, "plotted value", el("select", { id: "plot-mode",
      on: { change: (e) => { state.plotMode = e.target.value; renderPlots(); } } },
      el("option", { value: "value", text: "metric value", selected: state.plotMode === "value" ? "selected" : null }),
      el("option", { value: "delta", text: "Δ against base, with 95% interval",
                     selected: state.plotMode === "delta" ? "selected" : null }))),
      el("span", { class: "legend" }, el("span", { class: "kind quantized" }), "quantized  ",
        el("span", { class: "kind distilled" }), "distilled (KD student, NDS control)  ",
        el("span", { class: "kind base" }), "base"));
    const box = document.getElementById("plots");
    box.replaceChildren();
    for (const t of tasks) for (const [key, label] of [["weight_bits", "weight bits"], ["bytes", "bytes of weights"]])
      box.appendChild(el("figure", { class: "plot", "data-task": t },
        el("figcaption", { text: `${t}: ${state.metric[t]} against ${label}` }), plot(t, key, label)));
  }

  function groupTable(task, row) {
    const detail = DATA.details[row.id][task];
    const metric = state.metric[task];
    const wrap = el("div", {});
    const cmp = (detail.compare_by_group || {})[metric];
    for (const [field, groups] of Object.entries(detail.by_group || {})) {
      const head = el("tr", {}, ...[field, "n", metric, "base", "Δ", "95% CI", "p (adjusted)", "flip rate",
        "became biased", "stopped biased"].map((h) => el("th", { text: h })));
      const body = el("tbody", {});
      for (const [g, vals] of Object.entries(groups)) {
        const c = cmp && cmp[field] ? cmp[field][g] : null;
        const f = detail.flips && detail.flips.by_group[field] ? detail.flips.by_group[field][g] : null;
        body.appendChild(el("tr", {}, el("td", { text: g }),
          el("td", { class: "num", text: (detail.by_group_n[field] || {})[g] ?? "—" }),
          el("td", { class: "num", text: fmt(vals[metric]) }),
          el("td", { class: "num", text: c ? fmt(c.base) : "—" }),
          el("td", { class: "num" + (c && c.significant ? " sig" : ""), text: c ? fmt(c.delta) : "—" }),
          el("td", { class: "num", text: c ? `[${fmt(c.ci_low)}, ${fmt(c.ci_high)}]` : "—" }),
          el("td", { class: "num", text: c ? fmt(c.p_adjusted) : "—" }),
          el("td", { class: "num", text: f ? fmt(f.flip_rate) : "—" }),
          el("td", { class: "num", text: f && f.became_biased !== undefined ? f.became_biased : "—" }),
          el("td", { class: "num", text: f && f.stopped_biased !== undefined ? f.stopped_biased : "—" })));
      }
      wrap.appendChild(el("div", { class: "scroll" }, el("table", { class: "groups" }, el("thead", {}, head), body)));
    }
    const tr = detail.flips && detail.flips.transitions;
    if (tr) {
      wrap.appendChild(el("h3", { text: "answer transitions, base (rows) → variant (columns)" }));
      const mats = { overall: tr.overall, ...(tr.by_subset || {}) };
      for (const [name, m] of Object.entries(mats)) {
        const t = el("table", { class: "transitions" }, el("thead", {}, el("tr", {}, el("th", { text: name }),
          ...tr.categories.map((c) => el("th", { text: c })))));
        const b = el("tbody", {});
        m.forEach((cells, i) => b.appendChild(el("tr", {}, el("th", { text: tr.categories[i] }),
          ...cells.map((v) => el("td", { class: "num", text: v })))));
        t.appendChild(b);
        wrap.appendChild(el("div", { class: "scroll" }, t));
      }
    }
    if (detail.flips) wrap.appendChild(el("p", { class: "small", text: `flips overall: ${detail.flips.overall.n_flipped}` +
      ` of ${detail.flips.overall.n_items} items changed answer (${fmt(detail.flips.overall.flip_rate)})` }));
    return wrap;
  }
  function renderDetail(id) {
    state.selected = id;
    const row = DATA.rows.find((r) => r.id === id);
    const sec = document.getElementById("detail");
    sec.hidden = false;
    document.getElementById("detail-title").textContent = `Groups: ${row.family} / ${row.variant} (${row.method})`;
    const body = document.getElementById("detail-body");
    body.replaceChildren();
    for (const t of Object.keys(row.tasks)) {
      body.appendChild(el("h3", { text: `${t} — ${state.metric[t]} by group` }));
      const entry = row.tasks[t];
      if (entry.skipped) body.appendChild(el("p", { class: "note", text: entry.skipped }));
      body.appendChild(groupTable(t, row));
    }
    renderTable();
  }

  function dl(pairs) {
    const d = el("dl", {});
    for (const [k, v] of pairs) {
      d.appendChild(el("dt", { text: k }));
      d.appendChild(el("dd", { text: v === null || v === undefined ? "—" :
        (typeof v === "object" ? JSON.stringify(v) : v) }));
    }
    return d;
  }
  function openProvenance(id) {
    const row = DATA.rows.find((r) => r.id === id);
    const dialog = document.getElementById("provenance");
    document.getElementById("prov-title").textContent = `Provenance: ${row.family} / ${row.variant}`;
    const body = document.getElementById("prov-body");
    body.replaceChildren(dl([["model", row.model], ["method", row.method], ["bytes", row.bytes],
      ["bytes measured from", row.bytes_source], ["parameters", row.parameters],
      ...(row.distillation ? [["proof of distillation (as submitted)", row.distillation]] : []),
      ["submission", row.submission]]));
    for (const [task, p] of Object.entries(DATA.provenance[id])) {
      const m = p.manifest;
      body.appendChild(el("h3", { text: task }));
      body.appendChild(dl([["model fingerprint", (m.model.fingerprint || {}).sha256 || m.model.fingerprint],
        ["recipe", m.variant.recipe], ["recipe hash", m.variant.recipe_hash],
        ["task file sha256", m.task.yaml_sha256], ["template hash", m.task.template_hash],
        ["data", m.data.origin], ["data files sha256", m.data.files_sha256], ["items sha256", m.data.items_sha256],
        ["items", m.data.n_items], ["seed", m.seed], ["libraries", m.libraries], ["hardware", m.hardware],
        ["timings", m.timings], ["files", p.files]]));
      body.appendChild(el("details", {}, el("summary", { text: "whole manifest.json" }),
        el("pre", { text: JSON.stringify(m, null, 2) })));
    }
    dialog.showModal();
  }

  const VERDICT_ORDER = ["supported", "contradicted", "inconclusive", "not measured"];
  function evidenceText(r) {
    const parts = [];
    if (r.why) parts.push(r.why);
    if (r.quality_reading) parts.push("quality: " + r.quality_reading);
    const e = r.evidence || {};
    if (e.flipped_share !== undefined && e.flipped_share !== null)
      parts.push(`${fmt(e.flipped_share)} of answers flipped (${e.became_biased} became stereotyped, ` +
        `${e.stopped_biased} stopped); aggregate Δ ${fmt(e.aggregate_delta)} [${fmt((e.aggregate_ci || [])[0])}, ` +
        `${fmt((e.aggregate_ci || [])[1])}], McNemar p ${fmt(e.aggregate_p)}`);
    if (e.unbiased_in_base !== undefined)
      parts.push(`${e.became_stereotyped} of ${e.unbiased_in_base} unbiased answers became stereotyped (claimed 6–21%)`);
    if (e.bits) parts.push("bits " + e.bits.join(", ") + " → values " + e.values.map((v) => fmt(v)).join(", "));
    return parts.join(" · ");
  }
  function renderFindings() {
    const entries = (DATA.findings || []).filter((f) => state.placeholders || !f.placeholder);
    const ctl = document.getElementById("findings-controls");
    const box = document.getElementById("findings");
    ctl.replaceChildren();
    box.replaceChildren();
    if (!entries.length) { box.appendChild(el("p", { class: "note", text: "no findings for the families shown" })); return; }
    const key = (f) => f.family + "/" + f.submission;
    if (!entries.some((f) => key(f) === state.findings)) state.findings = key(entries[0]);
    ctl.appendChild(el("label", { for: "findings-family" }, "family", el("select", { id: "findings-family",
      on: { change: (e) => { state.findings = e.target.value; renderFindings(); } } },
      ...entries.map((f) => el("option", { value: key(f), text: f.family + " · " + f.submission,
        selected: key(f) === state.findings ? "selected" : null })))));
    const f = entries.find((x) => key(x) === state.findings);
    if (f.error || !f.doc) { box.appendChild(el("p", { class: "note", text: "not computed: " + f.error })); return; }
    for (const c of f.doc.claims) {
      const rows = f.doc.rows.filter((r) => r.claim === c.id);
      const sec = el("div", { class: "claim", "data-claim": c.id });
      sec.appendChild(el("h3", { text: c.text }));
      sec.appendChild(el("p", { class: "small", text: `${c.source} · test: ${c.test} · ` +
        VERDICT_ORDER.filter((v) => c.counts[v]).map((v) => `${c.counts[v]} ${v}`).join(", ") }));
      const head = el("tr", {}, ...["variant", "vs", "task · metric", "expected", "effect [95% CI]", "p", "p Holm",
        "MDE", "verdict", "evidence"].map((h) => el("th", { text: h })));
      const body = el("tbody", {});
      for (const r of rows) body.appendChild(el("tr", { "data-verdict": r.verdict },
        el("td", { text: r.variant }), el("td", { text: r.versus }), el("td", { text: r.task + " · " + r.metric }),
        el("td", { text: r.expected }),
        el("td", { class: "num", text: r.effect === null ? "—" :
          `${fmt(r.effect)} [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]` }),
        el("td", { class: "num", text: fmt(r.p_value) }), el("td", { class: "num", text: fmt(r.p_holm) }),
        el("td", { class: "num", text: fmt(r.mde) }),
        el("td", {}, el("span", { class: "verdict " + r.verdict.replace(" ", "-"), text: r.verdict })),
        el("td", { class: "evidence", text: evidenceText(r) })));
      sec.appendChild(el("div", { class: "scroll" }, el("table", { class: "findings" }, el("thead", {}, head), body)));
      box.appendChild(sec);
    }
  }

  function renderSubmissions() {
    const box = document.getElementById("submissions");
    box.replaceChildren();
    for (const s of DATA.submissions) {
      const p = s.production || {};
      box.appendChild(el("h3", { text: `${s.family} · ${s.id}` }));
      box.appendChild(dl([["submitted", s.submitted], ["submitter", s.submitter], ["notes", s.notes],
        ["evaluation wall time (s)", p.evaluation_wall_s], ["variant build time (s)", p.variant_build_wall_s],
        ["clock span (s)", p.clock_span_s], ["reported total (s)", p.reported_total_s],
        ["machine load (1 min)", (p.load_avg_1m_range || []).map((x) => fmt(x, 1)).join(" – ")], ["content sha256", s.content_sha256]]));
    }
  }

  document.getElementById("generated").textContent = `Built ${DATA.generated} by qdbench ${DATA.qdbench_version}` +
    ` · ${DATA.rows.length} variants in ${DATA.submissions.length} submissions · intervals: paired bootstrap,` +
    ` ${DATA.settings.n_resamples} resamples`;
  renderControls();
  renderTable();
  renderPlots();
  renderFindings();
  renderSubmissions();
})();
