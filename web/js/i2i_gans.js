// comfyui-i2i-gans frontend extension: shared workflows keep what they need to get and run their model.
//
// 1. Each loader (and StarGAN Edit) saves, in its node's properties["i2i_gans"], the chosen model key,
//    the names of the model's own widgets (CycleGAN direction, StarGAN sliders) and where the model comes
//    from (a catalog model, this pack, or the Hub repo it was published to), asked from the server at
//    /i2i_gans/sources. The server reads it back to say how to get a missing model.
// 2. A workflow whose model is not installed still loads with every value where it was saved: ComfyUI's
//    DynamicCombo creates no child widgets for an unknown option, which would shift the sliders' values
//    into the widgets after them. Their values are kept in placeholder widgets (same names), a toast names
//    the missing model and how to get it, and running the workflow fails with that message.
// 3. The frontend shows no tooltip for a DynamicCombo's child widgets (measured with frontend 1.35.9): we
//    copy each child's tooltip from the node definition onto the widget, where the canvas looks first.
// 4. Workflows saved before the pix2pix loader had a "Hub repo…" entry typed the repo into a hub_repo
//    widget: such a value is moved into the Hub entry's repo_id.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const HUB_OPTION = "Hub repo…";
const NODES = {
  I2I_LoadPix2Pix: { family: "pix2pix", widget: "model_name" },
  I2I_LoadCycleGAN: { family: "cyclegan", widget: "model" },
  I2I_StarGANEdit: { family: "stargan", widget: "model" },
};
let SOURCES = {};
const missing = [];

async function refreshSources() {
  try {
    const r = await api.fetchApi("/i2i_gans/sources");
    if (r.ok) SOURCES = await r.json();
  } catch (e) {
    console.warn("i2i_gans: no model sources", e);
  }
}

function childSpecs(nodeData, wname) {
  const spec = { ...(nodeData.input?.required || {}), ...(nodeData.input?.optional || {}) }[wname];
  if (!spec || spec[0] !== "COMFY_DYNAMICCOMBO_V3") return null;
  const out = {};
  for (const o of spec[1].options || []) out[o.key] = { ...(o.inputs?.required || {}), ...(o.inputs?.optional || {}) };
  return out;
}

function setTooltips(node, wname, specs) {
  const model = node.widgets?.find((w) => w.name === wname);
  const children = specs?.[model?.value];
  for (const w of node.widgets || []) {
    if (!w.name.startsWith(wname + ".")) continue;
    const tip = children?.[w.name.slice(wname.length + 1)]?.[1]?.tooltip;
    if (tip) w.tooltip = tip;
  }
}

function keepSavedValues(node, wname, names, values, key) {
  const at = node.widgets.findIndex((w) => w.name === wname) + 1;
  const made = values.map((v, i) => {
    const child = names?.[i] ?? `value ${i + 1}`;
    const type = typeof v === "number" ? "number" : typeof v === "boolean" ? "toggle" : "text";
    const opts = type === "number" ? { min: -1e6, max: 1e6, step2: 0.05, precision: 2 } : {};
    const w = node.addWidget(type, `${wname}.${child}`, v, () => {}, opts);
    w.label = child;
    w.tooltip = `Saved for the model ${key}, which is not installed: kept so that the workflow keeps it. ` +
      `Install the model and reload the workflow to use it.`;
    return w;
  });
  node.widgets.splice(node.widgets.length - made.length, made.length);
  node.widgets.splice(at, 0, ...made);
}

// The frontend (1.35.9) loses a DynamicCombo's STRING child values (e.g. repo_id of "Hub repo…") when it
// loads a workflow (its configure even shortens widgets_values): put every saved value back onto the
// widget it was saved from, in order.
function restoreValues(node, values) {
  const apply = () => {
    let n = 0;
    for (const w of node.widgets || []) {
      if (w.serialize === false) continue;
      if (n >= values.length) break;
      const v = values[n++];
      if (w.value !== v && typeof v === typeof w.value) w.value = v;
    }
  };
  apply();
  setTimeout(apply, 0);
}

function howToGet(meta) {
  const s = meta?.source || {};
  if (s.repo_id) return `Hub repo ${s.repo_id}${s.revision ? "@" + s.revision : ""} (choose "${HUB_OPTION}")`;
  if (s.pack) return `ships with the comfyui-i2i-gans pack: update it`;
  if (s.url) return s.url;
  return "ask whoever shared the workflow";
}

app.registerExtension({
  name: "comfyui-i2i-gans.models",
  async setup() {
    await refreshSources();
    api.addEventListener("reconnected", refreshSources);
  },
  async refreshComboInNodes() {
    await refreshSources();
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const cfg = NODES[nodeData.name];
    if (!cfg) return;
    const wname = cfg.widget;
    const specs = childSpecs(nodeData, wname);
    if (!specs) return;

    const configure = nodeType.prototype.configure;
    nodeType.prototype.configure = function (info) {
      let pending = null;
      const values = Array.isArray(info?.widgets_values) ? [...info.widgets_values] : null;
      if (values && this.widgets) {
        const serial = this.widgets.filter((w) => w.serialize !== false);
        const idx = serial.findIndex((w) => w.name === wname);
        const statics = serial.filter((w) => !w.name.startsWith(wname + ".")).length;
        const saved = values[idx];
        if (nodeData.name === "I2I_LoadPix2Pix" && idx === 0 && values.length === 2 && typeof values[1] === "string"
            && !("repo_id" in (specs[saved] || {}))) {
          // [model_name, hub_repo] from before the model list had a Hub entry
          if (values[1].trim()) values.splice(0, 2, HUB_OPTION, values[1].trim());
          else values.splice(1, 1);
          info = { ...info, widgets_values: values };
        } else if (idx >= 0 && typeof saved === "string" && !(saved in specs)) {
          const n = values.length - statics;
          if (n > 0) {
            const names = info.properties?.i2i_gans?.model === saved ? info.properties.i2i_gans.children : null;
            pending = { names, values: values.slice(idx + 1, idx + 1 + n), key: saved };
            values.splice(idx + 1, n);
            info = { ...info, widgets_values: values };
          }
        }
      }
      const intended = Array.isArray(info?.widgets_values) ? [...info.widgets_values] : null;
      const r = configure?.apply(this, [info]);
      if (pending) keepSavedValues(this, wname, pending.names, pending.values, pending.key);
      if (intended) restoreValues(this, intended);
      setTooltips(this, wname, specs);
      return r;
    };

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      const model = this.widgets?.find((w) => w.name === wname);
      if (model) {
        const cb = model.callback;
        const node = this;
        model.callback = function () {
          const out = cb?.apply(this, arguments);
          setTooltips(node, wname, specs);
          return out;
        };
      }
      setTooltips(this, wname, specs);
      return r;
    };

    const onSerialize = nodeType.prototype.onSerialize;
    nodeType.prototype.onSerialize = function (o) {
      onSerialize?.apply(this, arguments);
      const key = this.widgets?.find((w) => w.name === wname)?.value;
      if (typeof key !== "string" || key === HUB_OPTION) {
        if (o.properties) delete o.properties.i2i_gans;
        return;
      }
      const before = this.properties?.i2i_gans;
      const children = (this.widgets || []).filter((w) => w.name.startsWith(wname + ".")).map((w) => w.name.slice(wname.length + 1));
      const source = SOURCES[cfg.family]?.[key] ?? (before?.model === key ? before.source : undefined);
      o.properties = o.properties || {};
      o.properties.i2i_gans = { model: key, family: cfg.family, children, ...(source ? { source } : {}) };
      this.properties.i2i_gans = o.properties.i2i_gans;
    };
  },
  loadedGraphNode(node) {
    const cfg = NODES[node.type];
    if (!cfg) return;
    const w = node.widgets?.find((x) => x.name === cfg.widget);
    const options = w?.options?.values;
    if (w && Array.isArray(options) && typeof w.value === "string" && !options.includes(w.value)) {
      missing.push({ key: w.value, family: cfg.family, meta: node.properties?.i2i_gans });
    }
  },
  async afterConfigureGraph() {
    if (!missing.length) return;
    const lines = missing.splice(0).map((m) => `${m.family} model "${m.key}": ${howToGet(m.meta)}`);
    const detail = "Not in models/i2i_gans — " + lines.join("; ") + ". The workflow keeps its values; it runs once the model is installed.";
    console.warn("i2i_gans: missing models:", detail);
    app.extensionManager?.toast?.add({ severity: "warn", summary: "Missing i2i_gans model(s)", detail, life: 30000 });
  },
});
