"use strict";

const text = document.getElementById("text");
const gutter = document.getElementById("gutter");
let source = "new-recipe.yaml";
let marks = {};
let timer = null;
let asked = 0;

function renderGutter() {
  const n = text.value.split("\n").length;
  clear(gutter);
  for (let i = 1; i <= n; i++) {
    const m = marks[i];
    gutter.append(el("div", {class: m ? "mark " + m.severity : null, "data-line": i,
      title: m ? m.text : null, text: i}));
  }
  gutter.scrollTop = text.scrollTop;
}

function goTo(line) {
  const lines = text.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0);
  text.focus();
  text.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
  text.scrollTop = Math.max(0, (line - 5) * lh);
}

async function check() {
  const mine = ++asked;
  const r = await post("/api/recipe/check", {text: text.value, source});
  if (mine !== asked) return;  // a later keystroke's check is on its way
  const doc = r.doc;
  const list = document.getElementById("problems");
  clear(list);
  marks = {};
  const verdict = document.getElementById("verdict");
  if (r.status !== 200) { verdict.textContent = "not checked"; return; }
  verdict.textContent = doc.valid ? (doc.problems.length ? "valid, with warnings" : "valid") : "invalid";
  verdict.className = "badge " + (doc.valid ? "s-completed" : "s-failed");
  document.body.dataset.valid = String(doc.valid);
  for (const p of doc.problems) {
    if (!marks[p.line] || p.severity === "error") marks[p.line] = p;
    const item = el("li", {class: p.severity, "data-line": p.line},
      el("span", {class: "where mono", text: `line ${p.line}`}), " ", p.text);
    item.addEventListener("click", () => goTo(p.line));
    list.append(item);
  }
  if (!doc.problems.length) list.append(el("li", {class: "muted", text: "no problems"}));
  const am = document.getElementById("amounts");
  clear(am);
  for (const line of doc.amounts || []) am.append(el("li", {text: line}));
  renderGutter();
}

text.addEventListener("input", () => {
  renderGutter();
  clearTimeout(timer);
  timer = setTimeout(check, 250);
});
text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });

(async () => {
  const run = new URLSearchParams(location.search).get("run");
  const r = await fetch("/api/recipe/start" + (run ? "?run=" + encodeURIComponent(run) : ""));
  const doc = await r.json();
  text.value = doc.text || "";
  source = doc.source || source;
  document.getElementById("source").textContent = source;
  renderGutter();
  check();
})();
