// The page of `matdiff serve`: every result comes from the JSON API (docs/serve.md).
"use strict";

const EXAMPLES = [
  { name: "⟨A, X⟩ (the seminar's table)", f: "<A, X>", let: "A: matrix(m, n); X: matrix(m, n)", wrt: "X" },
  { name: "x'Ax (the seminar's table)", f: "x'*A*x", let: "A: matrix(n, n)", wrt: "x" },
  { name: "det(X) (the seminar's table)", f: "det(X)", let: "X: matrix(n, n)", wrt: "X" },
  { name: "inv(X) (the seminar's table)", f: "inv(X)", let: "X: matrix(n, n)", wrt: "X" },
  { name: "linear regression", f: "1/N*norm2(X*w - y)^2", let: "X: matrix(N, d)", wrt: "w" },
  { name: "ridge regression", f: "1/N*norm2(X*w - y)^2 + lambda*norm2(w)^2", let: "X: matrix(N, d)", wrt: "w" },
  { name: "logistic regression", f: "1/N*sum(log(1 + exp(-y .* (X*w))))", let: "X: matrix(N, d)", wrt: "w" },
  { name: "Gaussian negative log-likelihood", f: "1/2*logdet(S) + 1/2*(x - mu)'*inv(S)*(x - mu)", let: "S: spd(n); mu: vector(n)", wrt: "mu" },
  { name: "softmax cross-entropy", f: "-y'*log(softmax(W*x))", let: "W: matrix(k, d)", wrt: "W" },
];

// Variables offered first when the URL names none.
const PREFERRED = ["w", "x", "theta", "beta", "W", "X"];
const HEADERS = { gradient: "\\nabla f", jacobian: "J", differential: "df", hessian: "H" };

const $ = (id) => document.getElementById(id);
const state = { f: "", let: "", wrt: "", order: "1", steps: true };
const results = { numpy: "", rust: "", latex: "" };
let tab = "numpy";
let generation = 0;
let timer = null;
let plotTimer = null;
let lastPlotKey = "";

function tex(element, source, display = true) {
  if (window.katex) {
    katex.render(source, element, { displayMode: display, throwOnError: false });
  } else {
    element.textContent = source;
  }
}

async function api(endpoint, body) {
  const response = await fetch("/api/" + endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: { message: "the server sent no JSON", rendered: "", places: [] } }));
  return { ok: response.ok, data };
}

// ---- the state in the URL -------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(location.search);
  state.f = q.get("f") ?? state.f;
  state.let = q.get("let") ?? "";
  state.wrt = q.get("wrt") ?? "";
  state.order = q.get("order") === "2" ? "2" : "1";
  state.steps = q.get("steps") !== "0";
}

function writeUrl(push) {
  const q = new URLSearchParams();
  q.set("f", state.f);
  if (state.let) q.set("let", state.let);
  if (state.wrt) q.set("wrt", state.wrt);
  q.set("order", state.order);
  if (!state.steps) q.set("steps", "0");
  const url = "?" + q.toString();
  if (url === location.search) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function showState() {
  $("expr").value = state.f;
  $("decls").value = state.let;
  $("order").value = state.order;
  $("steps").checked = state.steps;
  mark("expr", []);
  mark("decls", []);
}

// ---- errors and marks -------------------------------------------------------------

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// Marks character ranges of a box's text (a point gets one character's width).
function mark(box, ranges) {
  const text = $(box).value;
  const chars = Array.from(text);
  let html = "";
  let at = 0;
  const sorted = ranges.slice().sort((a, b) => a.start - b.start);
  for (const r of sorted) {
    const start = Math.max(r.start, at);
    const end = Math.max(r.end, start + 1);
    html += escapeHtml(chars.slice(at, start).join(""));
    const inside = chars.slice(start, end).join("");
    html += "<mark>" + (inside.length && inside !== "\n" ? escapeHtml(inside) : "&nbsp;") + "</mark>";
    at = Math.min(end, chars.length);
  }
  html += escapeHtml(chars.slice(at).join("")) + "\n";
  $(box + "-backdrop").innerHTML = html;
  $(box + "-box").classList.toggle("bad", ranges.length > 0);
}

function showError(error) {
  const box = $("error");
  box.hidden = false;
  box.textContent = error.rendered || error.message;
  const places = error.places || [];
  mark("expr", places.filter((p) => p.source === "<expr>"));
  mark("decls", places.filter((p) => p.source === "<decls>"));
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
  mark("expr", []);
  mark("decls", []);
}

function clearResults() {
  for (const id of ["function", "result", "meta", "check", "derivation", "code"]) $(id).textContent = "";
  $("check").className = "check";
  results.numpy = results.rust = results.latex = "";
}

// ---- the computation -----------------------------------------------------------

function schedule(push) {
  clearTimeout(timer);
  timer = setTimeout(() => update(push), 150);
}

function shapeText(shape) {
  return shape.join(" × ");
}

function fillVariables(variables) {
  const select = $("wrt");
  const names = variables.map((v) => v.name);
  if (!names.includes(state.wrt)) {
    state.wrt = PREFERRED.find((n) => names.includes(n)) ?? names[names.length - 1] ?? "";
  }
  select.innerHTML = "";
  for (const v of variables) {
    const option = document.createElement("option");
    option.value = v.name;
    option.textContent = v.declaration;
    select.appendChild(option);
  }
  select.value = state.wrt;
  $("variables").innerHTML = variables
    .map((v) => `<code>${escapeHtml(v.declaration)}</code>`)
    .join(" · ");
}

async function update(push) {
  const mine = ++generation;
  const current = () => mine === generation;
  if (!state.f.trim()) {
    clearError();
    clearResults();
    return;
  }
  const parsed = await api("parse", { f: state.f, let: state.let });
  if (!current()) return;
  if (!parsed.ok) {
    clearResults();
    showError(parsed.data.error);
    $("picture").innerHTML = "";
    $("picture-lines").textContent = "";
    return;
  }
  clearError();
  fillVariables(parsed.data.variables);
  writeUrl(push);
  tex($("function"), "f = " + parsed.data.latex);
  if (!state.wrt) {
    clearResults();
    return;
  }
  const request = { f: state.f, let: state.let, wrt: state.wrt, order: Number(state.order) };
  const derive = api("derive", { ...request, steps: state.steps });
  const check = api("check", request);
  if (parsed.data.type === "scalar") {
    schedulePlot(0);
  } else {
    $("picture").innerHTML = `<p class="note">Pictures are drawn for a scalar function; this one is ${escapeHtml(parsed.data.type)}.</p>`;
    $("picture-lines").textContent = "";
    lastPlotKey = "";
  }
  const d = await derive;
  if (!current()) return;
  if (!d.ok) {
    clearResults();
    showError(d.data.error);
    return;
  }
  showDerivative(d.data);
  const c = await check;
  if (!current()) return;
  showCheck(c);
}

function showDerivative(d) {
  const header = HEADERS[d.kind] ?? d.kind;
  tex($("result"), header + " = " + d.latex);
  $("meta").textContent = `${d.kind} with respect to ${d.variable ?? state.wrt}, shape ${shapeText(d.shape)}`;
  $("steps-panel").hidden = !state.steps || d.steps.length === 0;
  if (state.steps && d.steps.length) {
    // KaTeX typesets the align block; its equation number is left out.
    tex($("derivation"), d.derivation.replace(/\\label\{[^}]*\}/g, "").replace(/\\begin\{align\}/, "\\begin{align*}").replace(/\\end\{align\}/, "\\end{align*}"));
  } else {
    $("derivation").textContent = "";
  }
  results.numpy = d.numpy ?? `# ${d.code_error}`;
  results.rust = d.rust ?? `// ${d.code_error}`;
  results.latex = d.derivation;
  showCode();
}

function showCheck(c) {
  const box = $("check");
  if (!c.ok) {
    box.className = "check failed";
    box.textContent = "check: " + c.data.error.message;
    return;
  }
  const r = c.data;
  const worst = Math.max(...r.errors);
  const sizes = r.sizes.map(([name, n]) => `${name} = ${n}`).join(", ");
  box.className = "check " + (r.passed ? "passed" : "failed");
  box.textContent = `${r.passed ? "✓ check passed" : "✗ check failed"}: largest relative error ${worst.toExponential(2)} (tolerance ${r.tol}) against finite differences, ${r.errors.length} random instances` + (sizes ? ` with ${sizes}` : "");
}

function showCode() {
  for (const button of document.querySelectorAll(".tabs [data-tab]")) {
    button.classList.toggle("active", button.dataset.tab === tab);
  }
  $("code").textContent = results[tab];
}

// ---- the picture -----------------------------------------------------------------

function learningRate() {
  return Number(Math.pow(10, Number($("lr").value)).toPrecision(2));
}

function schedulePlot(delay) {
  clearTimeout(plotTimer);
  plotTimer = setTimeout(plot, delay);
}

async function plot() {
  const lr = learningRate();
  $("lr-value").textContent = String(lr);
  const coords = $("coords").value.split(",").map((s) => Number(s.trim()));
  const request = { f: state.f, let: state.let, wrt: state.wrt, lr };
  if (coords.length === 2 && coords.every((c) => Number.isInteger(c) && c >= 0)) request.coords = coords;
  const key = JSON.stringify(request);
  if (key === lastPlotKey) return;
  lastPlotKey = key;
  const answer = await api("plot", request);
  if (key !== lastPlotKey) return;
  const lines = $("picture-lines");
  if (!answer.ok) {
    $("picture").innerHTML = `<p class="note">${escapeHtml(answer.data.error.message)}</p>`;
    lines.textContent = "";
    return;
  }
  $("picture").innerHTML = answer.data.svg;
  $("picture").dataset.kind = answer.data.kind;
  $("picture-controls").classList.toggle("tangent", answer.data.kind === "tangent");
  lines.textContent = answer.data.lines.join("\n") + (answer.data.diverged ? "\ndiverged: the learning rate is too large for this loss" : "");
  lines.classList.toggle("diverged", answer.data.diverged);
}

// ---- wiring ------------------------------------------------------------------------

function init() {
  const examples = $("examples");
  EXAMPLES.forEach((e, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = e.name;
    examples.appendChild(option);
  });
  examples.addEventListener("change", () => {
    const e = EXAMPLES[Number(examples.value)];
    if (!e) return;
    Object.assign(state, { f: e.f, let: e.let, wrt: e.wrt });
    showState();
    schedule(true);
  });
  $("expr").addEventListener("input", () => { state.f = $("expr").value; mark("expr", []); schedule(false); });
  $("decls").addEventListener("input", () => { state.let = $("decls").value; mark("decls", []); schedule(false); });
  for (const id of ["expr", "decls"]) {
    $(id).addEventListener("scroll", () => { $(id + "-backdrop").scrollTop = $(id).scrollTop; });
    $(id).addEventListener("change", () => writeUrl(true));
  }
  $("wrt").addEventListener("change", () => { state.wrt = $("wrt").value; schedule(true); });
  $("order").addEventListener("change", () => { state.order = $("order").value; schedule(true); });
  $("steps").addEventListener("change", () => { state.steps = $("steps").checked; schedule(true); });
  $("lr").addEventListener("input", () => { $("lr-value").textContent = String(learningRate()); schedulePlot(120); });
  $("coords").addEventListener("input", () => schedulePlot(300));
  for (const button of document.querySelectorAll(".tabs [data-tab]")) {
    button.addEventListener("click", () => { tab = button.dataset.tab; showCode(); });
  }
  $("copy").addEventListener("click", async () => {
    const text = results[tab];
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    $("copy").textContent = "Copied";
    setTimeout(() => { $("copy").textContent = "Copy"; }, 1200);
  });
  window.addEventListener("popstate", () => { readUrl(); showState(); lastPlotKey = ""; update(false); });
  if (location.search) {
    readUrl();
  } else {
    Object.assign(state, { f: EXAMPLES[1].f, let: EXAMPLES[1].let, wrt: EXAMPLES[1].wrt });
  }
  showState();
  update(false);
}

document.addEventListener("DOMContentLoaded", init);
