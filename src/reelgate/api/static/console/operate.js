// The operator's view: models and which of them no live worker serves.
import { h } from "./dom.js";

export async function showOperate(box, signal) {
  const ready = await fetch("/readyz", { signal }).then((r) => r.json());
  const idle = new Set(ready.models_without_workers || []);
  box.replaceChildren(
    h("h2", {}, "Models"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Worker"))),
      h("tbody", {}, (ready.models || []).map((m) => h("tr", {},
        h("td", {}, m), h("td", {}, idle.has(m) ? "none live" : "served")))))),
    h("h2", {}, "Checks"),
    h("dl", { class: "timings" }, Object.entries(ready.checks || {}).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  );
}
