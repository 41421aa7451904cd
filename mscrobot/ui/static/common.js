// Shared by the pages: text-only DOM building (run and recipe text is never parsed as HTML),
// the token for POSTs, and an event stream that reconnects and catches up.
"use strict";

const TOKEN = document.querySelector('meta[name="mscrobot-token"]').content;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = String(v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function minutes(s) {
  return (s === null || s === undefined) ? "" : (s / 60).toFixed(1) + " min";
}

function fmt(x) {
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1000 || (Math.abs(x) < 0.01 && x !== 0) ? x.toExponential(2)
    : x.toPrecision(3);
}

function stream(url, event, onData) {
  const conn = document.getElementById("conn");
  let source = null;
  function open() {
    source = new EventSource(url);
    source.addEventListener(event, (e) => {
      conn.textContent = "live";
      conn.className = "conn ok";
      onData(JSON.parse(e.data));
    });
    source.onerror = () => {
      conn.textContent = "reconnecting…";
      conn.className = "conn bad";
      source.close();
      setTimeout(open, 1000);  // the server sends everything again: the page catches up
    };
  }
  open();
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Mscrobot-Token": TOKEN},
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  let doc = {};
  try { doc = await response.json(); } catch (e) { doc = {}; }
  return {status: response.status, doc};
}
