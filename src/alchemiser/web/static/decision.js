// The decision tree: children are built only when a branch is opened, so thousands of nodes stay fast.
"use strict";
(function () {
  const source = document.getElementById("tree-data");
  const holder = document.getElementById("tree");
  if (!source || !holder) return;
  const root = JSON.parse(source.textContent).root;

  // Parent links, and which nodes are on the path taken (expanded by default).
  const parents = new Map();
  (function link() {
    const stack = [root];
    while (stack.length) {
      const n = stack.pop();
      for (const c of n.children) { parents.set(c, n); stack.push(c); }
    }
  })();
  const elementOf = new Map();

  function nodeElement(n) {
    const li = document.createElement("li");
    li.className = (n.taken ? "taken" : "untaken") + " kind-" + n.kind;
    li.dataset.kind = n.kind;
    li.dataset.loc = n.loc;
    const row = document.createElement("div");
    row.className = "row";
    const toggle = document.createElement("span");
    toggle.className = "toggle";
    toggle.textContent = n.children.length ? "▸" : "";
    row.appendChild(toggle);
    if (n.edge) {
      const edge = document.createElement("span");
      edge.className = "edge";
      edge.textContent = n.edge;
      row.appendChild(edge);
    }
    const label = document.createElement("span");
    label.className = "node";
    label.textContent = n.label;
    label.title = "line:col " + n.loc;
    row.appendChild(label);
    for (const s of n.steps) {
      const step = document.createElement("span");
      step.className = s.text === n.label ? "step same" : "step";  // a group's step only repeats its name
      step.textContent = s.text;
      row.appendChild(step);
    }
    li.appendChild(row);
    toggle.addEventListener("click", () => setOpen(n, !li.classList.contains("open")));
    elementOf.set(n, li);
    return li;
  }

  function setOpen(n, open) {
    const li = elementOf.get(n);
    if (!li || !n.children.length) return;
    let ul = li.querySelector(":scope > ul");
    if (open && !ul) {
      ul = document.createElement("ul");
      for (const c of n.children) ul.appendChild(nodeElement(c));
      li.appendChild(ul);
    }
    if (ul) ul.hidden = !open;
    li.classList.toggle("open", open);
    li.querySelector(":scope > .row > .toggle").textContent = open ? "▾" : "▸";
  }

  function showTakenPath() {
    holder.innerHTML = "";
    elementOf.clear();
    const ul = document.createElement("ul");
    ul.appendChild(nodeElement(root));
    holder.appendChild(ul);
    const stack = [root];
    while (stack.length) {
      const n = stack.pop();
      if (!n.taken) continue;
      setOpen(n, true);
      for (const c of n.children) stack.push(c);
    }
  }

  function reveal(n) {
    const chain = [];
    for (let p = parents.get(n); p; p = parents.get(p)) chain.push(p);
    for (const p of chain.reverse()) setOpen(p, true);
    return elementOf.get(n);
  }

  showTakenPath();
  document.getElementById("collapse-untaken").addEventListener("click", showTakenPath);
  document.getElementById("expand-all").addEventListener("click", () => {
    const stack = [root];
    let opened = 0;
    while (stack.length && opened < 5000) {  // beyond this, search is the better tool
      const n = stack.pop();
      reveal(n); setOpen(n, true); opened++;
      for (const c of n.children) stack.push(c);
    }
  });
  const search = document.getElementById("tree-search");
  const result = document.getElementById("search-result");
  const MAX_SHOWN = 200;  // opening more branches than this makes the page the slow part; the count says so
  let shown = [];
  let current = -1;

  function focusHit(k) {
    holder.querySelectorAll(".current-hit").forEach((e) => e.classList.remove("current-hit"));
    if (!shown.length) return;
    current = (k + shown.length) % shown.length;
    const li = elementOf.get(shown[current]);
    if (!li) return;
    li.classList.add("current-hit");
    li.scrollIntoView({ block: "center" });
    result.textContent = result.dataset.total + " match(es)" + (result.dataset.more ? ", first " + MAX_SHOWN + " shown" : "") +
      " · " + (current + 1) + " of " + shown.length + " (Enter: next, Shift+Enter: previous)";
  }

  search.addEventListener("input", () => {
    const term = search.value.trim().toUpperCase();
    showTakenPath();  // each search starts from the taken path: earlier hits' branches close again
    shown = []; current = -1;
    if (!term) { result.textContent = ""; return; }
    const hits = [];
    const stack = [root];
    while (stack.length) {
      const n = stack.pop();
      if (n.label.toUpperCase().split(/[^A-Z0-9.]+/).includes(term)) hits.push(n);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);  // document order
    }
    shown = hits.slice(0, MAX_SHOWN);
    for (const n of shown) { const li = reveal(n); if (li) li.classList.add("hit"); }
    result.dataset.total = String(hits.length);
    result.dataset.more = hits.length > shown.length ? "1" : "";
    result.textContent = hits.length + " match(es)";
    if (shown.length) focusHit(0);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !shown.length) return;
    event.preventDefault();
    focusHit(current + (event.shiftKey ? -1 : 1));
  });
})();
