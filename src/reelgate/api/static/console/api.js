// The API as the console uses it: the key from this tab's sessionStorage in an Authorization
// header (never a cookie), JSON errors as ApiError, and a task's event stream with reconnects
// and a polling fallback.
const KEY = "reelgate.key";
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return data;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

function parseBlock(block) {
  const event = {};
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const name = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    event[name] = name === "data" && event.data !== undefined ? `${event.data}\n${value}` : value;
  }
  return event;
}

// Calls onState(task) for every state until a terminal one. Uses the event stream (fetch, so
// the key goes in a header), resuming with Last-Event-ID; after three failed connections in a
// row it polls the task instead.
export async function watchTask(id, onState, signal) {
  let lastId = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const headers = { Authorization: `Bearer ${session.key}`, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(`/admin/tasks/${encodeURIComponent(id)}/events`, { headers, signal });
      if (response.status === 204) return;
      if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.data === undefined) continue;
          if (event.id) lastId = event.id;
          failures = 0;
          const task = JSON.parse(event.data);
          onState(task);
          if (TERMINAL.has(task.status)) return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) throw error;
      failures += 1;
      if (failures >= 3) return pollTask(id, onState, signal);
      await sleep(500 * failures, signal);
    }
  }
}

export async function pollTask(id, onState, signal, everyMs = 1000) {
  while (!signal.aborted) {
    const task = await api(`/admin/tasks/${encodeURIComponent(id)}`, { signal });
    onState(task);
    if (TERMINAL.has(task.status)) return;
    await sleep(everyMs, signal);
  }
}
