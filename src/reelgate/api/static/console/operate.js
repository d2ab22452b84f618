// The operator's view. Every key sees the models and which of them no live worker serves (from
// /readyz). An admin key also sees the queue per model, the live workers and the API keys, with
// forms to create a key (its secret shown once), revoke one and set a key's limits; the queue
// and the workers refresh every few seconds while the page is open.
import { api } from "./api.js";
import { $, h, setText, when } from "./dom.js";

const REFRESH_MS = 5000;
let me = null; // the signed-in key (GET /admin/me)
let keys = [];
let defaults = null;

export async function showOperate(signal, who) {
  me = who;
  $("operate-keys").hidden = !me.admin;
  if (!me.admin) return showModels($("operate"), signal);
  hideSecret();
  await Promise.all([showLive($("operate"), signal), loadKeys(signal)]);
  const timer = setInterval(() => {
    if (!signal.aborted) showLive($("operate"), signal).catch(() => {});
  }, REFRESH_MS);
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}

async function readiness(signal) {
  return fetch("/readyz", { signal }).then((r) => r.json());
}

function table(label, headings, rows) {
  return h("div", { class: "table-wrap" }, h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))));
}

function checks(ready) {
  return [
    h("h2", {}, "Checks"),
    h("dl", { class: "timings" }, Object.entries(ready.checks || {}).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  ];
}

// -- every key -----------------------------------------------------------------------------
async function showModels(box, signal) {
  const ready = await readiness(signal);
  const idle = new Set(ready.models_without_workers || []);
  box.replaceChildren(
    h("h2", {}, "Models"),
    table("Models", ["Model", "Worker"], (ready.models || []).map((m) => [m, idle.has(m) ? "none live" : "served"])),
    ...checks(ready),
  );
}

// -- admin keys: the queue and the workers ---------------------------------------------------
async function showLive(box, signal) {
  const [queue, workers, ready] = await Promise.all([
    api("/admin/queue", { signal }), api("/admin/workers", { signal }), readiness(signal),
  ]);
  if (signal.aborted) return;
  const unserved = queue.models_without_workers;
  box.replaceChildren(
    h("h2", {}, "Queue"),
    table("Queue depth per model", ["Model", "Queued", "Running", "Oldest queued", "Live workers"],
      queue.models.map((m) => [m.model, m.queued, m.running, when(m.oldest_queued_at), m.live_workers])),
    h("h2", {}, "Models without a worker"),
    unserved.length
      ? h("ul", { class: "chips", "aria-label": "Models without a live worker" }, unserved.map((m) => h("li", {}, m)))
      : h("p", { class: "hint" }, "Every model has a live worker."),
    h("h2", {}, "Workers"),
    workers.data.length
      ? table("Live workers", ["Worker", "Host", "Device", "Models", "Current task", "Last beat"],
        workers.data.map((w) => [w.id, `${w.hostname} (pid ${w.pid})`, w.device, w.models.join(", "),
          w.current_task_id || "idle", when(w.heartbeat_at)]))
      : h("p", { class: "hint" }, `No live worker (none beat in the last ${workers.live_window_seconds} s).`),
    ...checks(ready),
  );
}

// -- admin keys: API keys --------------------------------------------------------------------
async function loadKeys(signal) {
  const list = await api("/admin/keys", { signal });
  keys = list.data;
  defaults = list.defaults;
  for (const prefix of ["k", "l"]) {
    setText(`${prefix}-max-default`, `(empty: ${defaults.max_active_tasks})`);
    setText(`${prefix}-rate-default`, `(empty: ${defaults.rate_per_minute})`);
  }
  renderKeys();
}

const label = (key) => key.name || key.id;

function renderKeys() {
  // Name, state and actions first: on a phone they fit without scrolling the table.
  const rows = keys.map((key) => [
    label(key), key.revoked_at ? `revoked ${when(key.revoked_at)}` : "active", actions(key),
    key.admin ? "admin" : "key",
    key.max_active_tasks ?? `default (${defaults.max_active_tasks})`,
    key.rate_per_minute ?? `default (${defaults.rate_per_minute})`,
    when(key.created_at), key.id,
  ]);
  $("keys-table").replaceChildren(keys.length
    ? table("API keys", ["Name", "State", "Actions", "Role", "Max active", "Per minute", "Created", "Id"], rows)
    : h("p", { class: "hint" }, "No stored keys (keys from the environment are not listed)."));
  const select = $("l-key");
  const chosen = select.value;
  const active = keys.filter((key) => !key.revoked_at);
  select.replaceChildren(...active.map((key) => h("option", { value: key.id }, `${label(key)} (${key.id})`)));
  if (active.some((key) => key.id === chosen)) select.value = chosen;
  fillLimits();
}

// Revoking takes two steps: the row asks again before the key stops working.
function actions(key) {
  if (key.revoked_at) return "";
  if (me && key.id === me.owner_id) return h("span", { class: "hint" }, "this key");
  const cell = h("span", { class: "row-actions" });
  const ask = () => cell.replaceChildren(
    h("button", { type: "button", class: "danger", "aria-label": `Yes, revoke ${label(key)}`, onclick: () => revoke(key) }, "Yes, revoke"),
    h("button", { type: "button", class: "secondary", "aria-label": `Keep ${label(key)}`, onclick: () => renderKeys() }, "Keep"),
  );
  cell.append(h("button", { type: "button", class: "danger", "aria-label": `Revoke ${label(key)}`, onclick: () => {
    ask();
    cell.querySelector("button").focus();
  } }, "Revoke"));
  return cell;
}

async function revoke(key) {
  setText("keys-error", "");
  try {
    const revoked = await api(`/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" });
    keys = keys.map((k) => (k.id === revoked.id ? revoked : k));
  } catch (error) {
    setText("keys-error", error.message);
  }
  renderKeys();
}

// An empty number field means "the server's setting" (null).
function limitValue(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

async function createKey(event) {
  event.preventDefault();
  setText("key-form-error", "");
  const body = {
    name: $("k-name").value,
    admin: $("k-admin").checked,
    max_active_tasks: limitValue("k-max"),
    rate_per_minute: limitValue("k-rate"),
  };
  try {
    const created = await api("/admin/keys", { method: "POST", body });
    const { key: secret, ...record } = created;
    keys = [...keys, record];
    event.target.reset();
    renderKeys();
    showSecret(secret);
  } catch (error) {
    setText("key-form-error", error.message);
  }
}

function showSecret(secret) {
  setText("new-key-value", secret);
  setText("new-key-copied", "");
  $("new-key").hidden = false;
  $("new-key-value").focus();
}

function hideSecret() {
  setText("new-key-value", "");
  setText("new-key-copied", "");
  $("new-key").hidden = true;
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("new-key-value").textContent);
    setText("new-key-copied", "Copied.");
  } catch {
    setText("new-key-copied", "Select the key and copy it.");
  }
}

function fillLimits() {
  const key = keys.find((k) => k.id === $("l-key").value);
  $("l-max").value = key && key.max_active_tasks !== null ? String(key.max_active_tasks) : "";
  $("l-rate").value = key && key.rate_per_minute !== null ? String(key.rate_per_minute) : "";
  $("limits-form").querySelector("button[type=submit]").disabled = !key;
}

async function saveLimits(event) {
  event.preventDefault();
  setText("limits-form-error", "");
  setText("limits-saved", "");
  const id = $("l-key").value;
  const body = { max_active_tasks: limitValue("l-max"), rate_per_minute: limitValue("l-rate") };
  try {
    const updated = await api(`/admin/keys/${encodeURIComponent(id)}/limits`, { method: "PUT", body });
    keys = keys.map((k) => (k.id === updated.id ? updated : k));
    renderKeys();
    setText("limits-saved", `Saved the limits of ${label(updated)}.`);
  } catch (error) {
    setText("limits-form-error", error.message);
  }
}

export function setupOperate() {
  $("key-form").addEventListener("submit", createKey);
  $("limits-form").addEventListener("submit", saveLimits);
  $("l-key").addEventListener("change", () => { setText("limits-saved", ""); fillLimits(); });
  $("new-key-copy").addEventListener("click", copySecret);
  $("new-key-done").addEventListener("click", () => { hideSecret(); $("k-name").focus(); });
}

// Forget a shown secret and the key list when the operator signs out.
export function clearOperate() {
  hideSecret();
  keys = [];
  me = null;
  $("keys-table").replaceChildren();
  setText("keys-error", "");
  $("l-key").replaceChildren();
  $("operate-keys").hidden = true;
}
