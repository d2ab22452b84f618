// The console: sign in, create, library, task page, operate. Hash routes (#/create, ...).
import { api, ApiError, session, TERMINAL, watchTask } from "./api.js";
import { $, h, setText, when } from "./dom.js";
import { setupMotion, motionValues } from "./motion.js";
import { curlCommands, requestAsSent } from "./curl.js";
import { clearOperate, setupOperate, showOperate } from "./operate.js";

const RATIOS = [["16:9", 32, 18], ["9:16", 18, 32], ["1:1", 24, 24], ["4:3", 28, 21], ["3:4", 21, 28], ["21:9", 36, 15]];
const FIELDS = ["prompt", "model", "ratio", "seconds", "style", "seed", "image", "callback_url"];
const PAGE_SIZE = 24;
let models = [];
let image = null; // a data: URI
let current = null; // AbortController of the view on screen
let me = null; // the signed-in key: GET /admin/me (owner id, admin or not, limits)

function views() { return document.querySelectorAll(".view"); }

function show(name) {
  for (const view of views()) view.hidden = view.id !== `view-${name}`;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("nav").hidden = name === "signin";
}

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  if (!session.key) return show("signin");
  try {
    if (name === "task" && arg) return await showTask(decodeURIComponent(arg), signal);
    if (name === "library") return await showLibrary(signal, true);
    if (name === "operate") { show("operate"); return await showOperate(signal, me || await loadMe()); }
    show("create");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut();
    if (signal.aborted) return;
    // Another key's task is "not found" like an unknown one.
    show("task");
    setText("task-title", error.status === 404 ? "Video not found" : "Something went wrong");
    setText("task-error", error.message);
  }
}

function signOut() {
  session.clear();
  me = null;
  $("nav-operate").hidden = true;
  clearOperate();
  location.hash = "#/signin";
  show("signin");
}

// -- sign in -------------------------------------------------------------------------------
async function signIn(event) {
  event.preventDefault();
  const key = $("signin-key").value.trim();
  setText("signin-key-error", "");
  if (!key) return setText("signin-key-error", "Enter an API key.");
  session.set(key);
  try {
    await loadMe();
  } catch (error) {
    session.clear();
    return setText("signin-key-error", error.status === 401 ? "This key is not valid." : error.message);
  }
  $("signin-key").value = "";
  await loadModels();
  location.hash = "#/create";
  route();
}

// Who the key is; the Operate link is shown to admin keys only.
async function loadMe() {
  me = await api("/admin/me");
  $("nav-operate").hidden = !me.admin;
  return me;
}

async function loadModels() {
  const ready = await fetch("/readyz").then((r) => r.json()).catch(() => ({ models: [] }));
  models = ready.models || [];
  const select = $("f-model");
  select.replaceChildren(...models.map((m) => h("option", { value: m }, m)));
  const filter = $("filter-model");
  filter.replaceChildren(h("option", { value: "" }, "Any"), ...models.map((m) => h("option", { value: m }, m)));
}

// -- create --------------------------------------------------------------------------------
function setupCreate() {
  $("f-ratios").append(...RATIOS.map(([ratio, w, hgt], i) => h("label", { class: "ratio" },
    h("input", { type: "radio", name: "ratio", value: ratio, checked: i === 0 }),
    h("span", { class: "shape", "data-w": w, "data-h": hgt }),
    ratio)));
  // Shapes are sized here, not with inline style attributes (the CSP allows none).
  for (const shape of document.querySelectorAll(".ratio .shape")) {
    shape.style.width = `${shape.dataset.w}px`;
    shape.style.height = `${shape.dataset.h}px`;
  }
  setupMotion($("f-seconds"));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) readImage(e.dataTransfer.files[0]);
  });
  $("f-image").addEventListener("change", (e) => { if (e.target.files[0]) readImage(e.target.files[0]); });
  $("drop-clear").addEventListener("click", () => setImage(null));
  $("create-form").addEventListener("submit", submit);
}

function readImage(file) {
  setText("err-image", "");
  if (!file.type.startsWith("image/")) return setText("err-image", "Choose an image file (PNG, JPEG or WebP).");
  if (file.size > 700_000) return setText("err-image", "The image must be under 700 KB.");
  const reader = new FileReader();
  reader.onload = () => setImage(String(reader.result));
  reader.readAsDataURL(file);
}

function setImage(uri) {
  image = uri;
  $("drop-preview").hidden = !uri;
  $("drop-clear").hidden = !uri;
  if (uri) $("drop-preview").src = uri; else $("drop-preview").removeAttribute("src");
  if (!uri) $("f-image").value = "";
}

function fieldOf(message) {
  const match = /^([a-z_]+)(\.[a-z_]+)*\b/.exec(message);
  const name = match ? match[1] : "";
  if (name === "motion") return "motion";
  return FIELDS.includes(name) ? name : "form";
}

async function submit(event) {
  event.preventDefault();
  for (const name of [...FIELDS, "motion", "form"]) setText(`err-${name}`, "");
  const form = event.target;
  const seed = $("f-seed").value.trim();
  const callback = $("f-callback").value.trim();
  const body = {
    prompt: $("f-prompt").value,
    model: $("f-model").value,
    ratio: form.querySelector("input[name=ratio]:checked").value,
    seconds: Number($("f-seconds").value),
    style: $("f-style").value || "none",
    motion: motionValues(),
  };
  if (seed) body.seed = Number(seed);
  if (callback) body.callback_url = callback;
  if (image) { body.image = image; body.image_as_end_frame = $("f-end-frame").checked; }
  $("create-submit").disabled = true;
  try {
    const task = await api("/admin/tasks", { method: "POST", body });
    location.hash = `#/task/${task.id}`;
  } catch (error) {
    const field = fieldOf(error.message);
    setText(`err-${field}`, error.message);
    const input = form.querySelector(`[aria-describedby~="err-${field}"]`);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  } finally {
    $("create-submit").disabled = false;
  }
}

// -- library -------------------------------------------------------------------------------
let cursor = null;

async function showLibrary(signal, fresh) {
  show("library");
  if (fresh) { cursor = null; $("grid").replaceChildren(); }
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set("after", cursor);
  if ($("filter-status").value) query.set("status", $("filter-status").value);
  if ($("filter-model").value) query.set("model", $("filter-model").value);
  const page = await api(`/admin/tasks?${query}`, { signal });
  $("grid").append(...page.data.map(card));
  cursor = page.data.length === PAGE_SIZE ? page.data[page.data.length - 1].id : null;
  $("more").hidden = !cursor;
  $("library-empty").hidden = $("grid").children.length > 0;
}

function card(task) {
  const thumb = task.poster_url
    ? h("img", { class: "thumb", src: task.poster_url, alt: "", loading: "lazy" })
    : h("div", { class: "thumb", "aria-hidden": "true" });
  return h("li", {}, h("a", { href: `#/task/${task.id}` }, thumb, h("div", { class: "meta" },
    h("span", { class: "prompt" }, task.prompt),
    h("span", { class: `badge ${task.status}` }, task.status), " ",
    `${task.model} · ${task.seconds} s`)));
}

// -- one task ------------------------------------------------------------------------------
async function showTask(id, signal) {
  show("task");
  for (const el of ["task-failure", "task-error", "curl-copied", "task-request", "task-curl"]) setText(el, "");
  $("task-timings").replaceChildren();
  $("task-deliveries").replaceChildren();
  $("curl-tabs").replaceChildren();
  $("player").hidden = true;
  $("player").removeAttribute("src");
  $("task-download").hidden = true;
  const task = await api(`/admin/tasks/${encodeURIComponent(id)}`, { signal });
  setText("task-title", task.prompt);
  setText("task-request", JSON.stringify(requestAsSent(task), null, 2));
  const commands = curlCommands(task, location.origin);
  const tabs = $("curl-tabs");
  const pick = (name) => {
    for (const b of tabs.children) b.setAttribute("aria-pressed", String(b.textContent === name));
    setText("task-curl", commands[name]);
  };
  tabs.replaceChildren(...Object.keys(commands).map((name) => h("button", {
    type: "button", class: "secondary", "aria-pressed": "false", onclick: () => pick(name),
  }, name)));
  pick(Object.keys(commands)[0]);
  $("curl-copy").onclick = async () => {
    try { await navigator.clipboard.writeText($("task-curl").textContent); setText("curl-copied", "Copied."); }
    catch { setText("curl-copied", "Select the command and copy it."); }
  };
  $("task-cancel").onclick = () => act(() => api(`/admin/tasks/${task.id}/cancel`, { method: "POST" }));
  $("task-delete").onclick = () => act(async () => {
    await api(`/admin/tasks/${task.id}`, { method: "DELETE" });
    location.hash = "#/library";
  });
  render(task);
  await loadDeliveries(task.id, signal);
  if (!TERMINAL.has(task.status)) {
    await watchTask(task.id, render, signal);
    if (!signal.aborted) await loadDeliveries(task.id, signal);
  }
}

async function act(action) {
  setText("task-error", "");
  try { await action(); } catch (error) { setText("task-error", error.message); }
}

function render(task) {
  const status = $("task-status");
  status.textContent = task.status;
  status.className = `badge ${task.status}`;
  $("task-progress").value = task.percent;
  setText("task-percent", `${task.percent} %`);
  setText("task-failure", task.failure && task.status !== "cancelled" ? task.failure : "");
  $("task-cancel").disabled = TERMINAL.has(task.status);
  if (task.video_url && $("player").getAttribute("src") !== task.video_url) {
    $("player").poster = task.poster_url || "";
    $("player").src = task.video_url;
    $("player").hidden = false;
    $("task-download").href = task.video_url;
    $("task-download").hidden = false;
  }
  const queued = task.started_at ? task.started_at - task.created_at : null;
  const ran = task.finished_at && task.started_at ? task.finished_at - task.started_at : null;
  const rows = [
    ["Created", when(task.created_at)], ["Started", when(task.started_at)],
    ["Finished", when(task.finished_at)],
    ["Waited", queued === null ? "—" : `${queued.toFixed(1)} s`],
    ["Rendered in", ran === null ? "—" : `${ran.toFixed(1)} s`],
    ["Attempts", String(task.attempt)], ["Dialect", task.dialect],
  ];
  $("task-timings").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

const DELIVERIES_REFRESH_MS = 2000;
let deliveriesTimer;

async function loadDeliveries(id, signal) {
  const log = await api(`/admin/tasks/${encodeURIComponent(id)}/deliveries`, { signal });
  const box = $("task-deliveries");
  if (!log.events.length) {
    return box.replaceChildren(h("p", { class: "hint" }, "No webhook events (no callback URL, or not finished)."));
  }
  const redeliver = (event) => act(async () => {
    await api(`/admin/tasks/${id}/deliveries/${event.id}/redeliver`, { method: "POST" });
    await loadDeliveries(id, signal);
  });
  const head = h("thead", {}, h("tr", {}, ["#", "When", "HTTP", "ms", "Error"].map((t) => h("th", { scope: "col" }, t))));
  const row = (a) => h("tr", {},
    h("td", {}, a.attempt), h("td", {}, when(a.started_at)), h("td", {}, a.status_code ?? "—"),
    h("td", {}, a.latency_ms), h("td", {}, a.error ?? ""));
  box.replaceChildren(...log.events.map((event) => h("div", { class: "table-wrap" },
    h("p", {}, `${event.event_type} → ${event.url} · ${event.state} · ${event.attempts} attempt(s) `,
      h("button", { type: "button", class: "secondary", onclick: () => redeliver(event) }, "Redeliver")),
    h("table", {}, head, h("tbody", {}, event.log.map(row))))));
  // A pending event is still being delivered: look again until every event has settled.
  clearTimeout(deliveriesTimer);
  if (log.events.some((event) => event.state === "pending") && !signal.aborted) {
    deliveriesTimer = setTimeout(() => {
      if (!signal.aborted) loadDeliveries(id, signal).catch(() => {});
    }, DELIVERIES_REFRESH_MS);
  }
}

// -- start ---------------------------------------------------------------------------------
function start() {
  setupCreate();
  setupOperate();
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("more").addEventListener("click", () => showLibrary(current.signal, false));
  for (const id of ["filter-status", "filter-model"]) $(id).addEventListener("change", () => showLibrary(current.signal, true));
  window.addEventListener("hashchange", route);
  if (session.key) {
    loadModels();
    loadMe().catch(() => {}); // an invalid key is signed out by route()
  }
  route();
}

start();
