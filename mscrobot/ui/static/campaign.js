"use strict";

const CAMPAIGN = decodeURIComponent(location.pathname.split("/").pop());
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
document.getElementById("campaign-id").textContent = CAMPAIGN;

function drawGantt(canvas, intervals) {
  const rows = [...new Set(intervals.map((i) => i.resource))].sort((a, b) => {
    const rank = (r) => r.startsWith("position") ? 0 : r === "robot" ? 1 : 2;
    return rank(a) - rank(b) || a.localeCompare(b, undefined, {numeric: true});
  });
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
  const pad = {l: 96, r: 10, t: 8, b: 30};
  const end = Math.max(1, ...intervals.map((i) => i.end));
  const X = (t) => pad.l + t / end * (w - pad.l - pad.r);
  const rowH = (h - pad.t - pad.b) / Math.max(1, rows.length);
  g.font = "11px sans-serif"; g.textBaseline = "middle"; g.textAlign = "right";
  rows.forEach((r, k) => {
    g.fillStyle = "#333";
    g.fillText(r === "spectrometer" ? "flow cell" : r.replace("position:", "position "), pad.l - 6, pad.t + (k + 0.5) * rowH);
    g.strokeStyle = "#eee"; g.beginPath(); g.moveTo(pad.l, pad.t + (k + 1) * rowH); g.lineTo(w - pad.r, pad.t + (k + 1) * rowH); g.stroke();
  });
  for (const i of intervals) {
    const k = rows.indexOf(i.resource);
    g.fillStyle = COLOURS[i.run % COLOURS.length];
    g.fillRect(X(i.start), pad.t + k * rowH + 2, Math.max(1, X(i.end) - X(i.start)), rowH - 4);
  }
  g.fillStyle = "#444"; g.textAlign = "center"; g.textBaseline = "top";
  for (const t of niceTicks(0, end / 60, 10)) g.fillText(t + " min", X(t * 60), h - pad.b + 6);
  canvas.dataset.count = String(intervals.length);
}

function render(doc) {
  if (doc.error) { document.getElementById("name").textContent = doc.error; return; }
  document.getElementById("name").textContent = doc.name || doc.id;
  document.getElementById("lab").textContent = doc.lab || "";
  document.getElementById("positions").textContent = String(doc.positions ?? "");
  document.getElementById("makespan").textContent = minutes(doc.makespan_s);
  document.getElementById("unfinished").textContent = doc.unfinished.length ? `${doc.unfinished.length} runs not ended` : "every run ended";
  drawGantt(document.getElementById("gantt"), doc.intervals);
  const body = document.querySelector("#runs tbody");
  clear(body);
  for (const r of doc.runs) {
    const sw = el("span", {text: "■ "});
    sw.style.color = COLOURS[r.index % COLOURS.length];
    body.append(el("tr", {class: r.state === "awaiting_operator" ? "waiting" : null, "data-run": r.id},
      el("td", {}, sw, String(r.index)),
      el("td", {class: "mono"}, el("a", {href: "/run/" + encodeURIComponent(r.ref), text: r.id})),
      el("td", {text: r.recipe || ""}), el("td", {text: r.position ?? ""}),
      el("td", {}, el("span", {class: "badge s-" + r.state, text: r.state || ""})),
      el("td", {text: r.forward || ""}), el("td", {text: r.back || ""}),
      el("td", {text: minutes(r.transfer_s)}), el("td", {text: minutes(r.lab_time_s)})));
  }
  const st = document.querySelector("#stocks tbody");
  clear(st);
  for (const s of doc.stocks) st.append(el("tr", {class: s.short ? "v-stalled" : null},
    el("td", {text: s.position}), el("td", {text: s.contents}), el("td", {text: s.worst_case_ul}),
    el("td", {text: s.deck_holds_ul}), el("td", {text: s.weigh || ""})));
  const tp = document.querySelector("#tips tbody");
  clear(tp);
  for (const t of doc.tips) tp.append(el("tr", {}, ...Object.values(t).map((v) => el("td", {text: typeof v === "object" ? JSON.stringify(v) : v}))));
  if (!doc.tips.length) tp.append(el("tr", {}, el("td", {class: "muted", text: "no tips used"})));
}

stream(`/api/campaigns/${encodeURIComponent(CAMPAIGN)}/events`, "campaign", render);
