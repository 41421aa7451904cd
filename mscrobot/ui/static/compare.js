"use strict";

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

(async () => {
  const ids = new URLSearchParams(location.search).getAll("run");
  const q = ids.map((id) => "run=" + encodeURIComponent(id)).join("&");
  const r = await fetch("/api/compare?" + q);
  const doc = await r.json();
  const legend = document.getElementById("legend");
  const frac = [], spectra = {nonpolar: [], polar: []};
  let threshold = null;
  doc.runs.forEach((run, i) => {
    const colour = COLOURS[i % COLOURS.length];
    legend.append(el("li", {"data-run": run.id}, el("span", {class: "swatch " + "c" + i, text: "■ "}),
      el("a", {href: "/run/" + encodeURIComponent(run.id), class: "mono", text: run.id}),
      " ", run.recipe || "", " — ", run.state));
    legend.lastChild.firstChild.style.color = colour;
    const t = run.fractions.map((p) => p.t / 60);
    frac.push({x: t, y: run.fractions.map((p) => p.alkane), color: colour, points: true, width: 2});
    frac.push({x: t, y: run.fractions.map((p) => p.polar), color: colour, width: 1, alpha: 0.6});
    if (run.threshold !== null) threshold = run.threshold;
    for (const phase of ["nonpolar", "polar"]) {
      const sp = run.latest[phase];
      if (sp) spectra[phase].push({x: sp.wl, y: sp.a, color: colour, width: 1.6});
    }
  });
  const fc = document.getElementById("fractions");
  fc.dataset.count = String(doc.runs.length);
  drawChart(fc, {series: frac, ymin: 0, xlabel: "lab time (min)", ylabel: "fraction of clusters",
    rules: threshold === null ? [] : [{y: threshold, color: "#555", label: "completion threshold"}]});
  for (const phase of ["nonpolar", "polar"]) {
    const c = document.getElementById("spectra-" + phase);
    c.dataset.count = String(spectra[phase].length);
    drawChart(c, {series: spectra[phase], xlabel: "wavelength (nm)", ylabel: "absorbance (AU)"});
  }
  const diffs = document.getElementById("diffs");
  for (const d of doc.differences) {
    diffs.append(el("h3", {class: "mono small", text: `${d.run} against ${d.against}`}));
    const pre = el("pre", {class: "diff"});
    if (!d.lines.length) pre.append(el("span", {class: "muted", text: "the same recipe"}));
    for (const line of d.lines) {
      const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@") ? "hunk" : null;
      pre.append(el("span", {class: cls, text: line + "\n"}));
    }
    diffs.append(pre);
  }
})();
