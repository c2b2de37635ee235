// insolegen workbench: the live 3D view of the pair (three.js) and the measured features
// beside it, drawn from /api/preview's binary answer (layout: insolegen/web/engine.py).
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { $, el } from "./dom.js";

let fitted = false;

const canvas = $("#view3d");
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setClearColor(0xf4f6f8);
const scene = new THREE.Scene();
const camera = new THREE.PerspectiveCamera(35, 1, 1, 5000);
camera.up.set(0, 0, 1);
camera.position.set(-170, -40, 430);
const controls = new OrbitControls(camera, canvas);
controls.target.set(135, 0, 0);
controls.addEventListener("change", draw);
scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(-200, -300, 600);
scene.add(sun);
const pair = new THREE.Group();
scene.add(pair);
const GAP_MM = 70;

export function draw() {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w || canvas.height !== h) {
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
  }
  renderer.render(scene, camera);
}
new ResizeObserver(draw).observe(canvas);

const RAMP = [[0.19, 0.31, 0.82], [0.19, 0.75, 0.75], [0.38, 0.82, 0.25], [0.94, 0.82, 0.19], [0.88, 0.13, 0.13]];
function ramp(t) {
  const x = Math.min(Math.max(t, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2), f = x - i;
  return RAMP[i].map((c, k) => c + f * (RAMP[i + 1][k] - c));
}

function label(text, color) {
  const c = document.createElement("canvas");
  c.width = 256; c.height = 64;
  const g = c.getContext("2d");
  g.font = "bold 40px sans-serif"; g.fillStyle = color; g.textAlign = "center"; g.textBaseline = "middle";
  g.fillText(text, 128, 32);
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: new THREE.CanvasTexture(c), depthTest: false }));
  sprite.scale.set(64, 16, 1);
  return sprite;
}

export function unpack(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "IGPV") throw new Error("not an insolegen preview");
  const n = view.getUint32(4, true);
  const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, n)));
  const base = 8 + n;
  const sides = {};
  for (const [side, info] of Object.entries(meta.sides)) {
    if (info.mirror_of) continue;
    const positions = new Float32Array(buffer, base + info.positions_offset, 9 * info.faces);
    const thickness = new Float32Array(buffer, base + info.thickness_offset, 3 * info.faces);
    sides[side] = { positions, thickness, info };
  }
  for (const [side, info] of Object.entries(meta.sides)) {
    // the exact mirror of the other insole (Y negated, faces re-wound): its buffers, drawn
    // mirrored (three.js re-winds faces under a negative scale)
    if (info.mirror_of) sides[side] = { ...sides[info.mirror_of], info, mirrored: true };
  }
  return { meta, sides };
}

export function show({ meta, sides }) {
  pair.traverse((o) => {  // free the last pair's GPU buffers
    if (o.geometry) o.geometry.dispose();
    if (o.material) { if (o.material.map) o.material.map.dispose(); o.material.dispose(); }
  });
  pair.clear();
  let lo = Infinity, hi = -Infinity;
  for (const s of Object.values(sides)) for (const t of s.thickness) { if (t < lo) lo = t; if (t > hi) hi = t; }
  const made = new Map();
  for (const [side, s] of Object.entries(sides)) {
    let geometry = made.get(s.positions);
    if (!geometry) {
    geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(s.positions, 3));
    const colors = new Float32Array(s.positions.length);
    for (let i = 0; i < s.thickness.length; i++) colors.set(ramp((s.thickness[i] - lo) / (hi - lo || 1)), 3 * i);
    geometry.setAttribute("color", new THREE.BufferAttribute(colors, 3));
    geometry.computeVertexNormals();
    made.set(s.positions, geometry);
    }
    const group = new THREE.Group();
    group.name = side;
    const mesh = new THREE.Mesh(geometry, new THREE.MeshLambertMaterial({ vertexColors: true }));
    if (s.mirrored) mesh.scale.set(1, -1, 1);
    group.add(mesh);
    const marks = s.info.landmarks;
    for (const [name, [x, y, z]] of Object.entries(marks)) {
      const dot = new THREE.Mesh(new THREE.SphereGeometry(2.6, 12, 8), new THREE.MeshBasicMaterial({ color: 0x111111 }));
      dot.position.set(x, y, z + 1.5);
      dot.name = name;
      group.add(dot);
    }
    const sign = s.info.medial_sign;
    const apex = marks.arch_apex || [0.4 * meta.insole_length_mm, 0, 10];
    const medial = label("medial", "#b0006a");
    medial.position.set(apex[0], apex[1] + sign * 14, 34);
    group.add(medial);
    const name = label(side === "left" ? "L" : "R", "#23404f");
    name.position.set(-25, 0, 10);
    group.add(name);
    // both insoles seen from above, toes up the screen, the right one on the right
    group.position.y = side === "left" ? GAP_MM : -GAP_MM;
    pair.add(group);
  }
  if (!fitted) {  // the first pair fills the view; after that the technician's orbit stays
    const length = meta.insole_length_mm;
    controls.target.set(length / 2, 0, 0);
    camera.position.set(length / 2 - 0.45 * length, 0, 2.0 * length);
    controls.update();
    fitted = true;
  }
  $("#legend-min").textContent = lo.toFixed(1);
  $("#legend-max").textContent = hi.toFixed(1);
  draw();
  showFeatures(meta);
}

const FEATURES = [["heel_cup_depth_mm", "heel cup depth, mm"], ["heel_seat_height_mm", "heel seat height, mm"],
  ["arch_rise_mm", "arch rise over the midline, mm"], ["arch_peak_height_mm", "arch peak, mm"], ["rearfoot_tilt_deg", "rearfoot post (tilt), deg"],
  ["min_thickness_mm", "thinnest point, mm"], ["height_mm", "tallest point, mm"], ["length_mm", "length, mm"],
  ["width_mm", "width, mm"], ["volume_mm3", "volume, mm³"], ["triangles", "triangles"], ["watertight", "watertight"]];

function showFeatures(meta) {
  const sides = Object.keys(meta.sides);
  const table = el("table", {}, el("tr", {}, el("th", { text: "measured on the mesh" }), ...sides.map((s) => el("th", { text: s }))));
  const fmt = (v) => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v);
  const shown = new Set();
  const row = (key, title, get) => table.append(el("tr", { "data-feature": key }, el("td", { text: title }),
    ...sides.map((s) => el("td", { text: fmt(get(meta.sides[s])) }))));
  for (const [key, title] of FEATURES) {
    if (meta.sides[sides[0]].measured[key] === undefined) continue;
    shown.add(key);
    row(key, title, (s) => s.measured[key]);
  }
  for (const key of Object.keys(meta.sides[sides[0]].measured)) {
    if (!shown.has(key) && typeof meta.sides[sides[0]].measured[key] !== "object") row(key, key, (s) => s.measured[key]);
  }
  row("mass_g", "mass, g", (s) => s.mass_g);
  const notes = el("ul", { id: "notes" }, ...meta.notes.map((n) => el("li", { text: `note: ${n}` })),
    ...meta.warnings.map((w) => el("li", { class: "warning", text: `warning: ${w}` })));
  $("#features").replaceChildren(el("h2", { text: `${meta.order_id}: insole ${fmt(meta.insole_length_mm)} mm` }), table,
    el("h2", { text: "Notes and warnings" }), notes);
}

