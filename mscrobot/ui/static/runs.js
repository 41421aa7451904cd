"use strict";

let latest = [];
const chosen = new Set();

function updateCompare() {
  const link = document.getElementById("compare");
  link.hidden = chosen.size < 2;
  link.href = "/compare?" + [...chosen].map((id) => "run=" + encodeURIComponent(id)).join("&");
}

function render() {
  const filter = document.getElementById("filter").value;
  const body = document.querySelector("#runs tbody");
  clear(body);
  const shown = latest.filter((r) => !filter || (filter === "waiting" ? r.waiting : r.state === filter));
  for (const r of shown.slice().reverse()) {
    const state = el("td", {}, el("span", {class: "badge s-" + r.state, text: r.state}));
    if (r.waiting) state.append(" ", el("span", {class: "badge waits", text: "waits for you"}));
    if (r.live) state.append(" ", el("span", {class: "muted", text: "(executing)"}));
    const box = el("input", {type: "checkbox", class: "choose", checked: chosen.has(r.id)});
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(r.id); else chosen.delete(r.id);
      updateCompare();
    });
    body.append(el("tr", {class: r.waiting ? "waiting" : null, "data-run": r.id},
      el("td", {}, box),
      el("td", {class: "mono"}, el("a", {href: "/run/" + encodeURIComponent(r.id), text: r.id})),
      state,
      el("td", {text: r.recipe || ""}),
      el("td", {text: r.lab || ""}),
      el("td", {text: r.verdict || ""}),
      el("td", {text: minutes(r.lab_time_s)})));
  }
  document.getElementById("count").textContent = shown.length + " of " + latest.length + " runs";
  document.getElementById("empty").hidden = latest.length > 0;
}

document.getElementById("filter").addEventListener("change", render);
let campaigns = [];

function renderCampaigns() {
  const body = document.querySelector("#campaigns tbody");
  clear(body);
  document.getElementById("campaigns-box").hidden = campaigns.length === 0;
  for (const c of campaigns.slice().reverse()) {
    const states = Object.entries(c.states).map(([k, n]) => `${n} ${k}`).join(", ");
    const cell = el("td", {text: states});
    if (c.waiting) cell.append(" ", el("span", {class: "badge waits", text: "waits for you"}));
    body.append(el("tr", {class: c.waiting ? "waiting" : null, "data-campaign": c.id},
      el("td", {class: "mono"}, el("a", {href: "/campaign/" + encodeURIComponent(c.id), text: c.id})),
      el("td", {text: c.name || c.error || ""}), el("td", {text: c.lab || ""}),
      el("td", {text: c.runs}), cell, el("td", {text: minutes(c.makespan_s)})));
  }
}

stream("/api/events", "runs", (doc) => {
  latest = doc.runs;
  campaigns = doc.campaigns || [];
  render();
  renderCampaigns();
});
