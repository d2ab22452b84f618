// The six motion sliders and a live preview of the camera path (CONTRACT 4.2): the outline is
// the camera's frame over the scene. x > 0 travels right (x % of the width per second), y > 0
// travels up, z > 0 zooms in by (1 + z %) per second, r > 0 rolls clockwise r degrees per
// second; bg_x_pan / bg_y_pan move only the far background (the dashed layer), opposite way.
import { h, $ } from "./dom.js";

export const AXES = [
  ["x", "Travel right"], ["y", "Travel up"], ["z", "Zoom in"],
  ["r", "Roll clockwise"], ["bg_x_pan", "Pan background"], ["bg_y_pan", "Tilt background"],
];
const W = 160;
const H = 90;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export function motionValues() {
  const out = {};
  for (const [axis] of AXES) out[axis] = Number($(`f-motion-${axis}`).value);
  return out;
}

// Where the camera is after t seconds, in scene units.
export function cameraAt(m, t) {
  return {
    dx: m.x * 0.01 * W * t,
    dy: -m.y * 0.01 * H * t,
    scale: Math.pow(1 + m.z * 0.01, t),
    angle: m.r * t,
    bx: -m.bg_x_pan * 0.01 * W * t,
    by: m.bg_y_pan * 0.01 * H * t,
  };
}

export function setupMotion(secondsInput) {
  const box = $("f-motion");
  for (const [axis, text] of AXES) {
    const id = `f-motion-${axis}`;
    const output = h("output", { for: id, id: `${id}-value` }, "0");
    const input = h("input", {
      id, type: "range", min: -10, max: 10, step: 0.1, value: 0, "aria-describedby": "err-motion",
      oninput: () => { output.textContent = Number(input.value).toFixed(1); },
    });
    box.append(h("div", { class: "slider" }, h("label", { for: id }, `${text} (${axis})`), input, output));
  }
  const preview = $("motion-preview");
  const far = svg("rect", { class: "scene-far", x: -60, y: -40, width: W + 120, height: H + 80 });
  const scene = svg("rect", { class: "scene", x: 0, y: 0, width: W, height: H });
  const path = svg("polyline", { class: "path", points: "" });
  const frame = svg("rect", { class: "frame", x: 0, y: 0, width: W, height: H });
  preview.append(far, scene, path, frame);

  const started = performance.now();
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  function draw(now) {
    const m = motionValues();
    const seconds = Math.max(1, Number(secondsInput.value) || 5);
    const t = reduced ? seconds : ((now - started) / 1000) % seconds;
    const points = [];
    for (let s = 0; s <= seconds; s += seconds / 24) {
      const c = cameraAt(m, s);
      points.push(`${(W / 2 + c.dx).toFixed(1)},${(H / 2 + c.dy).toFixed(1)}`);
    }
    path.setAttribute("points", points.join(" "));
    const c = cameraAt(m, t);
    const cx = W / 2 + c.dx;
    const cy = H / 2 + c.dy;
    frame.setAttribute("transform",
      `translate(${cx} ${cy}) rotate(${c.angle}) scale(${1 / c.scale}) translate(${-W / 2} ${-H / 2})`);
    far.setAttribute("transform", `translate(${c.bx} ${c.by})`);
    if (!reduced) requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
  if (reduced) box.addEventListener("input", () => requestAnimationFrame(draw));
}
