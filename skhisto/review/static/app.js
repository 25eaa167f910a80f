// The review page: one item at a time, every decision POSTed and saved at once.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const HEADERS = { "X-Review-Token": token, "Content-Type": "application/json" };
const $ = (id) => document.getElementById(id);
let state = null;
let current = 0;
let busy = false;

function withToken(url) { return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token); }

async function call(url, body) {
  const response = await fetch(url, body === undefined ? { headers: HEADERS } :
    { method: "POST", headers: HEADERS, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data && data.error ? data.error : response.statusText);
  return data;
}

async function load() {
  state = await call("api/state");
  if (state.first_undecided === null) { current = 0; showSummary(); } else { current = state.first_undecided; showReview(); }
}

function counts() {
  const c = { keep: 0, relabel: 0, unusable: 0, skip: 0, pending: 0 };
  for (const item of state.items) c[item.decision] += 1;
  return c;
}

function renderProgress() {
  const c = counts();
  const done = state.items.length - c.pending;
  $("progress").textContent = `${done} / ${state.items.length} decided` +
    ` (keep ${c.keep}, relabel ${c.relabel}, unusable ${c.unusable}, skip ${c.skip})` +
    ` · item ${current + 1}`;
}

function text(tag, value, cls) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (cls) node.className = cls;
  return node;
}

function render() {
  const item = state.items[current];
  $("image").src = withToken(`image/${item.index}`);
  $("current-path").textContent = item.path;
  const facts = $("facts");
  facts.replaceChildren();
  const rows = [["label", item.label || "(unlabeled)"]];
  if (item.suggested_label) rows.push(["suggested", item.suggested_label]);
  if (item.label_quality !== null) rows.push(["label quality", item.label_quality.toFixed(3)]);
  if (item.score !== null) rows.push(["score", item.score.toFixed(3)]);
  const decided = item.decision === "relabel" ? `relabel → ${item.new_label}` : item.decision;
  rows.push(["decision", decided]);
  for (const [name, value] of rows) {
    facts.append(text("dt", name));
    facts.append(text("dd", value, name === "decision" ? `decision-${item.decision}` : ""));
  }
  facts.lastChild.id = "current-decision";
  const classes = $("classes");
  classes.replaceChildren();
  state.classes.forEach((name, i) => {
    const button = text("button", "");
    button.type = "button";
    button.dataset.relabel = name;
    if (i < 9) button.append(text("kbd", String(i + 1)), " ");
    button.append(name);
    if (item.decision === "relabel" && item.new_label === name) button.classList.add("current");
    button.addEventListener("click", () => decide("relabel", name));
    classes.append(button);
  });
  const neighbors = $("neighbors");
  neighbors.replaceChildren();
  if (item.neighbors) {
    neighbors.append(text("h2", "nearest neighbours of each class"));
    for (const [name, indices] of Object.entries(item.neighbors)) {
      const row = text("div", "", "row");
      row.append(text("span", name));
      for (const j of indices) {
        const img = document.createElement("img");
        img.src = withToken(`neighbor/${j}`);
        img.alt = `a ${name} neighbour`;
        row.append(img);
      }
      neighbors.append(row);
    }
  }
  renderProgress();
}

function nextUndecided(from) {
  const n = state.items.length;
  for (let k = 1; k <= n; k++) {
    const i = (from + k) % n;
    if (state.items[i].decision === "pending") return i;
  }
  return null;
}

async function decide(decision, newLabel) {
  if (busy || $("review").hidden) return;
  busy = true;
  $("message").textContent = "";
  try {
    const item = await call("api/decide", { index: current, decision, new_label: newLabel || "" });
    state.items[item.index] = item;
    const next = nextUndecided(item.index);
    if (next === null) { showSummary(); } else { current = next; render(); }
  } catch (error) {
    $("message").textContent = error.message;
  } finally { busy = false; }
}

async function undo() {
  if (busy) return;
  busy = true;
  $("message").textContent = "";
  try {
    const item = await call("api/undo", {});
    if (item === null) { $("message").textContent = "nothing to undo"; return; }
    state.items[item.index] = item;
    current = item.index;
    showReview();
  } catch (error) {
    $("message").textContent = error.message;
  } finally { busy = false; }
}

function showReview() {
  $("summary").hidden = true;
  $("review").hidden = false;
  render();
}

function table(head, rows) {
  const node = document.createElement("table");
  const tr = document.createElement("tr");
  for (const h of head) tr.append(text("th", h));
  node.append(tr);
  for (const row of rows) {
    const r = document.createElement("tr");
    row.forEach((cell, i) => r.append(text("td", String(cell), i === row.length - 1 ? "n" : "")));
    node.append(r);
  }
  return node;
}

function showSummary() {
  $("review").hidden = true;
  const summary = $("summary");
  summary.hidden = false;
  summary.replaceChildren();
  const c = counts();
  const left = c.pending;
  summary.append(text("h2", left ? `${left} items still undecided` : "every item is decided"));
  summary.append(table(["decision", "items"], Object.entries(c)));
  const changes = {};
  for (const item of state.items) {
    if (item.decision === "relabel" || item.decision === "unusable") {
      const key = `${item.label || "(unlabeled)"}\u0000${item.decision === "relabel" ? item.new_label : "(unusable)"}`;
      changes[key] = (changes[key] || 0) + 1;
    }
  }
  const rows = Object.entries(changes).sort().map(([key, n]) => [...key.split("\u0000"), n]);
  summary.append(text("h2", "changes per class"));
  summary.append(rows.length ? table(["label", "becomes", "items"], rows) : text("p", "no label changed"));
  summary.append(text("p", `decisions are saved in ${state.decisions_file}; ` +
    "export the corrected labels with skhisto review INPUT --export"));
  summary.id = "summary";
  renderProgress();
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || !state) return;
  const key = event.key;
  let handled = true;
  if (key === "k" || key === "Enter") decide("keep");
  else if (key === "u") decide("unusable");
  else if (key === "s") decide("skip");
  else if (key === "z" || key === "Backspace") undo();
  else if (key === "g") ($("summary").hidden ? showSummary() : showReview());
  else if (key === "ArrowRight" && !$("review").hidden) { current = (current + 1) % state.items.length; render(); }
  else if (key === "ArrowLeft" && !$("review").hidden) { current = (current - 1 + state.items.length) % state.items.length; render(); }
  else if (/^[1-9]$/.test(key) && Number(key) <= state.classes.length) decide("relabel", state.classes[Number(key) - 1]);
  else handled = false;
  if (handled) event.preventDefault();
});

document.querySelectorAll("#actions button").forEach((button) => {
  button.addEventListener("click", () => (button.dataset.action === "undo" ? undo() : decide(button.dataset.action)));
});
$("show-summary").addEventListener("click", showSummary);
$("show-review").addEventListener("click", () => { if (state.first_undecided !== null || state.items.length) showReview(); });
window.addEventListener("focus", () => { if (!busy) call("api/state").then((s) => { state = s; if (!$("review").hidden) render(); else showSummary(); }); });
load().catch((error) => { document.body.prepend(text("p", `cannot load the review: ${error.message}`)); });
