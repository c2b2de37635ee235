// insolegen workbench: the New-order form drawn from /api/schema, the live preview it asks
// for (drawn by viewer.js), orders and batches.
import { $, el } from "./dom.js";
import { draw, show, unpack } from "./viewer.js";

let schema = null;
let profile = null;
let previewSeq = 0;
let previewAbort = null;
let previewTimer = null;
let uploadedScan = "";

function say(text, kind = "error") {
  const box = $("#message");
  box.textContent = text || "";
  box.className = text ? kind : "";
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let text = `${response.status} ${response.statusText}`;
    try { text = (await response.json()).error || text; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

// ---- the form ----------------------------------------------------------------------------
function fieldInput(spec) {
  const id = `f-${spec.name}`;
  let input;
  if (spec.widget === "select") {
    input = el("select", { id, name: spec.name });
    for (const c of spec.choices) input.append(el("option", { value: c, text: c || "(detect)" }));
    if (spec.default) input.value = spec.default;
    if (spec.name === "side") input.value = "both";
  } else if (spec.widget === "flag") {
    input = el("input", { id, name: spec.name, type: "checkbox" });
  } else if (spec.widget === "checkboxes") {
    input = el("span", { id });
    for (const c of spec.choices) {
      const box = el("input", { type: "checkbox", name: spec.name, value: c });
      if (c === "stl") box.checked = true;
      input.append(el("label", {}, box, ` ${c} `));
    }
  } else if (spec.widget === "scan") {
    input = el("input", { id, name: spec.name, type: "file", accept: ".stl,.obj,.ply,.xyz" });
    input.addEventListener("change", uploadScan);
  } else if (spec.widget === "number") {
    input = el("input", { id, name: spec.name, type: "number", step: spec.step ?? "any",
      min: spec.low ?? undefined, max: spec.high ?? undefined, placeholder: spec.default ?? "" });
  } else {
    input = el("input", { id, name: spec.name, type: "text", pattern: spec.pattern,
      placeholder: spec.help ?? "" });
  }
  const label = spec.unit ? `${spec.name} (${spec.unit})` : spec.name;
  return el("label", { for: id }, label, input);
}

function buildForm() {
  for (const name of schema.ticket) {
    $("#ticket-fields").append(fieldInput({ name, widget: name === "due_date" ? "date" : "text" }));
    if (name === "due_date") $(`#f-${name}`).type = "date";
  }
  const groups = { foot: "#foot-fields", making: "#making-fields", other: "#other-fields" };
  for (const spec of schema.fields) {
    if (["conditions", "parameters"].includes(spec.widget)) continue;
    if (spec.name === "order_id") { $("#ticket-fields").prepend(fieldInput(spec)); continue; }
    $(groups[spec.group]).append(fieldInput(spec));
    if (spec.group === "other") $("#sec-other").hidden = false;
  }
  $("#f-foot_length_mm").value = "265";
  for (const c of schema.conditions) {
    const box = el("input", { type: "checkbox", name: "conditions", value: c.name, id: `c-${c.name}` });
    if (c.name === "flat_feet") box.checked = true;
    $("#conditions").append(el("label", { title: c.title }, box, ` ${c.name}`));
  }
  const body = $("#params tbody");
  for (const p of schema.parameters) {
    let input;
    if (p.kind === "number") {
      input = el("input", { type: "number", step: "any", min: p.low, max: p.high, name: `set.${p.name}`,
        id: `p-${p.name}`, title: p.doc });
    } else {
      input = el("select", { name: `set.${p.name}`, id: `p-${p.name}`, title: p.doc });
      input.append(el("option", { value: "", text: "(profile)" }));
      for (const c of (p.kind === "flag" ? ["true", "false"] : p.choices)) input.append(el("option", { value: c, text: c }));
    }
    const range = p.kind === "number" ? `${p.low} to ${p.high}` : p.accepted;
    body.append(el("tr", { "data-param": p.name }, el("td", { title: p.doc, text: p.name }), el("td", {}, input),
      el("td", { text: p.unit }), el("td", { text: range }), el("td", { class: "profile" }), el("td", { class: "from" })));
  }
  $("#order-form").addEventListener("input", (ev) => {
    if (ev.target.name === "conditions" || ev.target.name === "base") loadProfile();
    if (ev.target.name && ev.target.name.startsWith("set.")) markOverride(ev.target);
    schedulePreview();
  });
  $("#order-form").addEventListener("change", (ev) => {
    if (ev.target.name === "conditions" || ev.target.name === "base") loadProfile();
    if (ev.target.type === "checkbox" || ev.target.tagName === "SELECT") schedulePreview();
  });
  $("#make").addEventListener("click", makeOrder);
}

// The "from" column says where the value in force comes from: this order, or the profiles.
function markOverride(input) {
  const row = input.closest("tr");
  const info = profile && profile.parameters[input.name.slice(4)];
  row.querySelector(".from").textContent = input.value !== "" ? "this order (override)"
    : info ? info.from.join(", ") : "";
}

function conditions() {
  return [...document.querySelectorAll("input[name=conditions]:checked")].map((b) => b.value);
}

async function loadProfile() {
  const names = conditions();
  if (!names.length) return;
  try {
    const base = document.querySelector("#f-base")?.value || "";
    const query = `conditions=${encodeURIComponent(names.join(","))}` +
      (base ? `&base=${encodeURIComponent(base)}` : "");
    profile = await (await api(`/api/profile?${query}`)).json();
  } catch (e) { say(e.message); return; }
  for (const [name, info] of Object.entries(profile.parameters)) {
    const row = document.querySelector(`tr[data-param="${name}"]`);
    if (!row) continue;
    row.querySelector(".profile").textContent = String(info.value);
    row.querySelector(".from").textContent = info.from.join(", ");
    const input = row.querySelector("input");
    if (input) input.placeholder = String(info.value);
    markOverride(row.querySelector("input, select"));
  }
  $("#sources").textContent = profile.sources.length ? `Sources: ${profile.sources.join("; ")}` : "";
}

// The first out-of-range or malformed value, as the server would word it.
function invalidField() {
  for (const input of document.querySelectorAll("#order-form input, #order-form select")) {
    if (input.checkValidity()) continue;
    const name = input.name.startsWith("set.") ? `--set ${input.name.slice(4)}` : input.name;
    if (input.validity.rangeUnderflow || input.validity.rangeOverflow) {
      return `${name} = '${input.value}': out of range, expected a number from ${input.min} to ${input.max}`;
    }
    return `${name}: ${input.validationMessage}`;
  }
  return null;
}

function orderFields() {
  const fields = {};
  const set = {};
  for (const input of document.querySelectorAll("#order-form input, #order-form select")) {
    const name = input.name;
    if (!name || name === "conditions" || name === "formats" || input.type === "file") continue;
    if (input.type === "checkbox") { if (input.checked) fields[name] = true; continue; }
    if (input.value === "") continue;
    if (name.startsWith("set.")) set[name.slice(4)] = input.value; else fields[name] = input.value;
  }
  fields.conditions = conditions().join(",");
  fields.formats = [...document.querySelectorAll("input[name=formats]:checked")].map((b) => b.value);
  if (uploadedScan) {
    fields.scan = uploadedScan;
    for (const m of ["foot_length_mm", "ball_width_mm", "heel_width_mm", "navicular_height_mm", "plantar_arch_height_mm", "ball_length_mm", "shoe_size"]) delete fields[m];
  }
  fields.set = set;
  return fields;
}

function fillForm(fields) {
  for (const input of document.querySelectorAll("#order-form input, #order-form select")) {
    if (!input.name || input.type === "file") continue;
    if (input.name === "conditions" || input.name === "formats") {
      const given = fields[input.name];
      const list = Array.isArray(given) ? given : String(given ?? "").split(/[,;]/).map((s) => s.trim());
      input.checked = list.includes(input.value) || (input.name === "formats" && !given && input.value === "stl");
      continue;
    }
    const key = input.name.startsWith("set.") ? input.name.slice(4) : input.name;
    const value = input.name.startsWith("set.") ? (fields.set || {})[key] ?? fields[input.name] : fields[key];
    if (input.type === "checkbox") input.checked = value === true || String(value).toLowerCase() === "true";
    else input.value = value ?? (input.name === "side" ? "both" : "");
  }
  uploadedScan = fields.scan || "";
  loadProfile();
  schedulePreview();
}

async function uploadScan(ev) {
  const file = ev.target.files[0];
  if (!file) { uploadedScan = ""; return; }
  say(`uploading ${file.name} ...`, "ok");
  try {
    const r = await api(`/api/scans?filename=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
    uploadedScan = (await r.json()).scan;
    say(`scan ${file.name} uploaded`, "ok");
    schedulePreview();
  } catch (e) { uploadedScan = ""; say(e.message); }
}

async function makeOrder() {
  const bad = invalidField();
  if (bad) { say(bad); return; }
  $("#made").textContent = "making ...";
  try {
    const r = await api("/api/orders", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(orderFields()) });
    const made = await r.json();
    say(`order ${made.order_id} made (${made.id})`, "ok");
    const links = el("div", { id: "made-files" }, `Order ${made.id}: `);
    for (const name of made.files) {
      links.append(el("a", { href: `/api/orders/${made.id}/files/${encodeURIComponent(name)}`, download: name, text: name }));
    }
    $("#made").replaceChildren(links);
  } catch (e) { $("#made").textContent = ""; say(e.message); }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 60);
}

async function preview() {
  const bad = invalidField();
  if (bad) { say(bad); return; }
  if (!conditions().length) { say("conditions: missing; give one or more condition names"); return; }
  if (previewAbort) previewAbort.abort();
  previewAbort = new AbortController();
  const seq = ++previewSeq;
  const t0 = performance.now();
  $("#view-status").textContent = "updating ...";
  try {
    const r = await api("/api/preview", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(orderFields()), signal: previewAbort.signal });
    const buffer = await r.arrayBuffer();
    if (seq !== previewSeq) return;
    show(unpack(buffer));
    say("");
    const ms = performance.now() - t0;
    $("#view-status").textContent = `updated in ${ms.toFixed(0)} ms`;
    const canvas = $("#view3d");  // read by the browser tests and the benchmark
    canvas.dataset.seq = String(seq);
    canvas.dataset.ms = ms.toFixed(1);
  } catch (e) {
    if (e.name === "AbortError") return;
    $("#view-status").textContent = "";
    say(e.message);
  }
}

// ---- orders and batches ------------------------------------------------------------------
async function findOrders() {
  try {
    const list = await (await api(`/api/orders?patient_ref=${encodeURIComponent($("#find-ref").value)}`)).json();
    const body = $("#order-list tbody");
    body.replaceChildren();
    for (const o of list) {
      const actions = el("td", {});
      const open = async (how) => {
        const rec = await (await api(`/api/orders/${o.id}`)).json();
        const fields = { ...rec.fields };
        if (how === "other") {
          fields.side = fields.side === "left" ? "right" : fields.side === "right" ? "left" : "both";
          fields.order_id = `${rec.order_id}-${fields.side}`;
        } else if (how === "remake") fields.order_id = `${rec.order_id}-R`;
        switchPage("new");
        fillForm(fields);
      };
      for (const [how, text] of [["open", "reopen"], ["other", "other foot"], ["remake", "remake"]]) {
        const b = el("button", { type: "button", text });
        b.addEventListener("click", () => open(how).catch((e) => say(e.message)));
        actions.append(b);
      }
      const t = o.ticket || {};
      body.append(el("tr", {}, el("td", { text: o.made_utc }), el("td", { text: o.order_id }),
        el("td", { text: t.patient_ref || "" }), el("td", { text: t.clinic || "" }),
        el("td", { text: String(o.conditions || "") }), actions));
    }
  } catch (e) { say(e.message); }
}

async function startBatch() {
  const file = $("#batch-file").files[0];
  if (!file) { say("orders: choose a .csv or .jsonl file first"); return; }
  try {
    const r = await api(`/api/batches?filename=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
    pollBatch((await r.json()).id);
  } catch (e) { say(e.message); }
}

async function pollBatch(id) {
  let state;
  try { state = await (await api(`/api/batches/${id}`)).json(); } catch (e) { say(e.message); return; }
  const n = state.done + state.failed + state.skipped;
  $("#batch-status").textContent = `batch ${id}: ${state.status}; ${n}${state.total ? ` of ${state.total}` : ""} orders ` +
    `(${state.done} done, ${state.failed} failed, ${state.skipped} skipped)` + (state.error ? `: ${state.error}` : "");
  const body = $("#batch-list tbody");
  body.replaceChildren();
  for (const o of state.orders) {
    const files = el("td", {});
    for (const f of o.files || []) {
      files.append(el("a", { href: `/api/batches/${id}/orders/${o.order_id}/files/${encodeURIComponent(f)}`, download: f, text: f }));
    }
    body.append(el("tr", { class: o.status }, el("td", { text: o.line ?? "" }), el("td", { text: o.order_id ?? "" }),
      el("td", { text: o.status }), el("td", { text: o.error || o.reason || "" }), files));
  }
  if (state.status === "running") setTimeout(() => pollBatch(id), 500);
}

function switchPage(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.page === name);
  for (const page of document.querySelectorAll(".page")) page.hidden = page.id !== `page-${name}`;
  if (name === "new") draw();
  if (name === "orders") findOrders();
}

for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => switchPage(tab.dataset.page));
$("#find").addEventListener("click", findOrders);
$("#batch-start").addEventListener("click", startBatch);

schema = await (await api("/api/schema")).json();
buildForm();
await loadProfile();
if (location.pathname === "/orders") switchPage("orders");
if (location.pathname === "/batches") switchPage("batches");
preview();
window.insolegen = { preview, orderFields, ready: true };
