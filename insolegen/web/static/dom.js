// The two DOM helpers the workbench's modules share: find one element, make one element.
export const $ = (sel) => document.querySelector(sel);
export const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const kid of kids) node.append(kid);
  return node;
};
