// A small line chart on a canvas (no library, no network): axes with round ticks, lines with
// their own colour, width and opacity, and labelled horizontal rules (a threshold).
"use strict";

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(t);
  return out;
}

function drawChart(canvas, spec) {
  const ratio = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || canvas.width, cssH = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(cssW * ratio)) {
    canvas.width = Math.round(cssW * ratio);
    canvas.height = Math.round(cssH * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  g.fillStyle = "#fff";
  g.fillRect(0, 0, cssW, cssH);
  const pad = {l: 56, r: 14, t: 12, b: 38};
  const w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
  let xs = [], ys = [];
  for (const s of spec.series) {
    for (let i = 0; i < s.x.length; i++) {
      if (s.y[i] === null || !isFinite(s.y[i])) continue;
      xs.push(s.x[i]); ys.push(s.y[i]);
    }
  }
  for (const r of spec.rules || []) ys.push(r.y);
  const xmin = spec.xmin ?? (xs.length ? Math.min(...xs) : 0);
  const xmax = spec.xmax ?? (xs.length ? Math.max(...xs) : 1);
  let ymin = spec.ymin ?? (ys.length ? Math.min(...ys) : 0);
  let ymax = spec.ymax ?? (ys.length ? Math.max(...ys) : 1);
  if (ymax - ymin < 1e-9) { ymin -= 0.5; ymax += 0.5; }
  const margin = spec.ymin === undefined ? 0.05 * (ymax - ymin) : 0;
  ymin -= margin; ymax += spec.ymax === undefined ? 0.05 * (ymax - ymin) : 0;
  const X = (x) => pad.l + (xmax === xmin ? 0.5 : (x - xmin) / (xmax - xmin)) * w;
  const Y = (y) => pad.t + h - (y - ymin) / (ymax - ymin) * h;
  g.strokeStyle = "#ddd"; g.fillStyle = "#444"; g.lineWidth = 1;
  g.font = "11px sans-serif"; g.textAlign = "center"; g.textBaseline = "top";
  for (const t of niceTicks(xmin, xmax, 8)) {
    g.beginPath(); g.moveTo(X(t), pad.t); g.lineTo(X(t), pad.t + h); g.stroke();
    g.fillText(+t.toPrecision(6) + "", X(t), pad.t + h + 4);
  }
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const t of niceTicks(ymin, ymax, 6)) {
    g.beginPath(); g.moveTo(pad.l, Y(t)); g.lineTo(pad.l + w, Y(t)); g.stroke();
    g.fillText(+t.toPrecision(4) + "", pad.l - 4, Y(t));
  }
  g.strokeStyle = "#888"; g.strokeRect(pad.l, pad.t, w, h);
  g.textAlign = "center"; g.textBaseline = "bottom";
  g.fillText(spec.xlabel || "", pad.l + w / 2, cssH - 2);
  g.save(); g.translate(12, pad.t + h / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle";
  g.fillText(spec.ylabel || "", 0, 0); g.restore();
  g.save();
  g.beginPath(); g.rect(pad.l, pad.t, w, h); g.clip();
  for (const r of spec.rules || []) {
    g.strokeStyle = r.color || "#000"; g.setLineDash([6, 4]); g.lineWidth = 1.2;
    g.beginPath(); g.moveTo(pad.l, Y(r.y)); g.lineTo(pad.l + w, Y(r.y)); g.stroke();
    g.setLineDash([]); g.fillStyle = r.color || "#000"; g.textAlign = "right";
    g.textBaseline = "bottom"; g.fillText(r.label || "", pad.l + w - 4, Y(r.y) - 2);
  }
  for (const s of spec.series) {
    g.strokeStyle = s.color; g.globalAlpha = s.alpha ?? 1; g.lineWidth = s.width || 1.5;
    g.beginPath();
    let pen = false;
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      if (y === null || !isFinite(y)) { pen = false; continue; }
      if (pen) g.lineTo(X(s.x[i]), Y(y)); else g.moveTo(X(s.x[i]), Y(y));
      pen = true;
    }
    g.stroke();
    if (s.points) {
      g.fillStyle = s.color;
      for (let i = 0; i < s.x.length; i++) {
        if (s.y[i] === null) continue;
        g.beginPath(); g.arc(X(s.x[i]), Y(s.y[i]), 3, 0, 2 * Math.PI); g.fill();
      }
    }
  }
  g.globalAlpha = 1;
  g.restore();
  let lx = pad.l + 8;
  for (const item of spec.legend || []) {
    g.fillStyle = item.color; g.fillRect(lx, pad.t + 6, 14, 3);
    g.fillStyle = "#222"; g.textAlign = "left"; g.textBaseline = "middle";
    g.fillText(item.label, lx + 18, pad.t + 8);
    lx += 30 + g.measureText(item.label).width;
  }
}
