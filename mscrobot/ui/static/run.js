"use strict";

const RUN = decodeURIComponent(location.pathname.split("/").pop());
const KEEP = 24;
const PHASE_COLOUR = {nonpolar: "#d62728", polar: "#2ca02c"};
const spectra = {nonpolar: [], polar: []};
let doc = null;

document.getElementById("run-id").textContent = RUN;
document.getElementById("edit").href = "/recipe?run=" + encodeURIComponent(RUN);
const who = document.getElementById("who");
who.value = localStorage.getItem("mscrobot-who") || "";
who.addEventListener("change", () => localStorage.setItem("mscrobot-who", who.value));

function say(text, bad) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.className = "message " + (bad ? "bad" : "ok");
  m.hidden = !text;
}

function drawSpectra(phase) {
  const list = spectra[phase] || [];
  const n = list.length;
  // the latest bright, the earlier ones fading
  const series = list.map((s, i) => ({x: s.wl, y: s.a, color: PHASE_COLOUR[phase],
    alpha: i === n - 1 ? 1 : 0.08 + 0.5 * (i + 1) / n, width: i === n - 1 ? 2.2 : 1}));
  const canvas = document.getElementById("spectra-" + phase);
  canvas.dataset.count = String(n);
  canvas.dataset.latest = n ? String(list[n - 1].id) : "";
  drawChart(canvas, {series, xlabel: "wavelength (nm)", ylabel: "absorbance (AU)",
    legend: n ? [{label: `latest: step ${list[n - 1].step}, ${minutes(list[n - 1].t)}`,
      color: PHASE_COLOUR[phase]}] : []});
}

function drawFractions() {
  const pts = doc.fractions || [];
  const t = pts.map((p) => p.t / 60);
  const series = [
    {x: t, y: pts.map((p) => p.alkane), color: PHASE_COLOUR.nonpolar, points: true},
    {x: t, y: pts.map((p) => p.polar), color: PHASE_COLOUR.polar, points: true}];
  const rules = doc.threshold === null ? [] : [{y: doc.threshold, color: "#1f77b4",
    label: `complete when the alkane holds ≤ ${(doc.threshold * 100).toFixed(0)}%`}];
  const canvas = document.getElementById("fractions");
  canvas.dataset.count = String(pts.length);
  drawChart(canvas, {series, rules, ymin: 0, xlabel: "lab time (min)",
    ylabel: "fraction of clusters", legend: [{label: "alkane", color: PHASE_COLOUR.nonpolar},
      {label: "polar", color: PHASE_COLOUR.polar}]});
}

function renderQuestion(s) {
  const box = document.getElementById("question");
  const pending = s.pending;
  box.hidden = !pending;
  if (!pending) return;
  document.getElementById("question-text").textContent = pending.question;
  const choices = document.getElementById("choices");
  clear(choices);
  document.getElementById("question-answer").textContent = !pending.answer ? ""
    : s.live ? `answered: ${pending.answer} — the run goes on from it`
    : `answered: ${pending.answer} — the run goes on from it once resumed ` +
      `(mscrobot run --resume ${s.id})`;
  for (const choice of pending.choices) {
    const b = el("button", {class: "choice", "data-choice": choice, text: choice.replace("_", " ")});
    b.disabled = !!pending.answer || pending.step === null;
    b.addEventListener("click", async () => {
      for (const other of choices.querySelectorAll("button")) other.disabled = true;
      const r = await post(`/api/runs/${encodeURIComponent(RUN)}/answer`,
        {step: pending.step, choice, who: who.value});
      if (r.status === 200) say(`answer “${choice}” recorded for step ${pending.step}`);
      else {
        say(r.doc.detail || r.doc.error || `refused (${r.status})`, true);
        for (const other of choices.querySelectorAll("button")) other.disabled = false;
      }
    });
    choices.append(b);
  }
}

function renderTables(s) {
  const vt = document.querySelector("#verdicts tbody");
  clear(vt);
  for (const v of doc.verdicts.slice().reverse()) {
    const numbers = Object.entries(v.numbers).map(([k, x]) => `${k} ${fmt(x)}`).join(", ");
    vt.append(el("tr", {class: "v-" + v.state}, el("td", {text: v.step}),
      el("td", {text: minutes(v.lab_t)}), el("td", {text: v.stage}),
      el("td", {}, el("span", {class: "badge v-" + v.state, text: v.state})),
      el("td", {text: v.action}), el("td", {text: v.reasons.join("; ")}),
      el("td", {class: "small", text: numbers})));
  }
  const st = document.querySelector("#steps tbody");
  clear(st);
  for (const r of doc.steps.slice().reverse()) {
    st.append(el("tr", {class: "st-" + r.status}, el("td", {text: r.n}),
      el("td", {text: r.text + (r.error ? ` — ${r.error}` : "")}),
      el("td", {text: r.status + (r.attempts ? ` (${r.attempts} retries)` : "")}),
      el("td", {text: minutes(r.ended_t)})));
  }
  document.getElementById("steps-note").textContent =
    doc.steps_total > doc.steps.length ? `(latest ${doc.steps.length} of ${doc.steps_total})` : "";
  const w = document.getElementById("warnings");
  clear(w);
  for (const x of s.warnings || []) w.append(el("li", {class: "warn", text: x}));
  for (const b of s.beyond_the_paper || [])
    w.append(el("li", {text: `beyond the paper: ${b.topic}: ${b.value} (${b.source})`}));
  if (s.verdict_note) w.append(el("li", {text: s.verdict_note}));
  if (!w.firstChild) w.append(el("li", {class: "muted", text: "none"}));
  const dev = document.querySelector("#devices tbody");
  clear(dev);
  for (const d of doc.devices || [])
    dev.append(el("tr", {}, el("td", {text: d.device}), el("td", {text: d.reading}),
      el("td", {text: d.step}), el("td", {text: minutes(d.t)})));
  const vol = document.querySelector("#volumes tbody");
  clear(vol);
  for (const [k, x] of Object.entries(s.volumes || {}))
    vol.append(el("tr", {}, el("td", {text: k}), el("td", {text: x.toFixed(0)})));
  const rq = document.querySelector("#requests tbody");
  clear(rq);
  for (const r of (doc.requests || []).slice().reverse())
    rq.append(el("tr", {}, el("td", {text: r.wall}),
      el("td", {text: r.kind + (r.step !== null ? ` step ${r.step}` : "") + (r.detail ? `: ${r.detail}` : "")}),
      el("td", {text: r.who})));
}

function render(update) {
  if (update.error) { say(update.error, true); return; }
  doc = update;
  const s = doc.summary;
  document.title = `mscrobot · ${s.recipe.name || s.id}`;
  document.getElementById("recipe").textContent = s.recipe.name || "";
  const badge = document.getElementById("state");
  badge.textContent = s.pending ? "waiting for the operator" : s.state;
  badge.className = "badge s-" + s.state;
  document.body.dataset.state = s.state;
  document.getElementById("lab").textContent = s.lab || "";
  document.getElementById("labtime").textContent = minutes(s.lab_time_s);
  document.getElementById("live").textContent = s.live ? "executing now" : "no process executing it";
  document.getElementById("reason").textContent = s.reason || "";
  document.getElementById("stop").hidden = !s.live;
  document.getElementById("pause").hidden = !s.live || !!s.pending;
  for (const sp of update.spectra || []) {
    const list = spectra[sp.phase] || (spectra[sp.phase] = []);
    if (list.length && list[list.length - 1].id >= sp.id) continue;
    list.push(sp);
    if (list.length > KEEP) list.shift();
  }
  document.getElementById("nspectra").textContent = String(s.samples ?? "");
  renderQuestion(s);
  drawSpectra("nonpolar");
  drawSpectra("polar");
  drawFractions();
  renderTables(s);
}

for (const [id, what] of [["stop", "stop"], ["pause", "pause"]]) {
  document.getElementById(id).addEventListener("click", async () => {
    const r = await post(`/api/runs/${encodeURIComponent(RUN)}/${what}`, {who: who.value});
    if (r.status === 200) say(`${what} requested: the run ${what}s safely at its next step`);
    else say(r.doc.detail || r.doc.error || `refused (${r.status})`, true);
  });
}
window.addEventListener("resize", () => { if (doc) { drawSpectra("nonpolar"); drawSpectra("polar"); drawFractions(); } });
stream(`/api/runs/${encodeURIComponent(RUN)}/events`, "run", render);
