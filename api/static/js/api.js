// The pages' only way to the server: the public /v1 API, with the page's bearer key.
// The key arrives in the launch answer's <script id="rl-boot"> block (never in a URL)
// and is kept in sessionStorage so a reload of /student or /teacher keeps working.

const BOOT_KEY = (role) => `readloom.boot.${role}`;

export function loadBoot(role) {
  const el = document.getElementById("rl-boot");
  let boot = null;
  const text = el ? el.textContent.trim() : "";
  if (text) {
    boot = JSON.parse(text);
    el.textContent = "";
    if (boot.role === role) {
      sessionStorage.setItem(BOOT_KEY(role), JSON.stringify(boot));
      if (location.pathname !== `/${role}`) history.replaceState(null, "", `/${role}`);
    } else {
      boot = null;
    }
  } else {
    const saved = sessionStorage.getItem(BOOT_KEY(role));
    boot = saved ? JSON.parse(saved) : null;
  }
  if (boot && boot.expires_at && Date.parse(boot.expires_at) <= Date.now()) {
    sessionStorage.removeItem(BOOT_KEY(role));
    return { expired: true };
  }
  return boot;
}

export function forgetBoot(role) {
  sessionStorage.removeItem(BOOT_KEY(role));
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // A sentence a child or a teacher can act on.
  friendly() {
    if (this.status === 0) return "We can't reach readloom right now. Check the connection and try again.";
    if (this.status === 401) return "Your sign-in has ended. Please open readloom again from your class page.";
    if (this.status === 403) return "You don't have access to this.";
    if (this.status === 429) return "Lots of messages at once! Wait a few seconds and try again.";
    if (this.status === 503) return "The tutor is getting ready. Try again in a moment.";
    return "Something went wrong. Please try again.";
  }
}

export function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class Api {
  constructor(key, { onUnauthorized } = {}) {
    this.key = key;
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, Accept: "application/json", ...extra };
  }

  async request(method, path, { json, idempotent = false, signal } = {}) {
    const headers = this.headers();
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (idempotent) headers["Idempotency-Key"] = newId();
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, signal, body: json === undefined ? undefined : JSON.stringify(json),
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, null);
    }
    return this.#read(resp);
  }

  get(path, opts) { return this.request("GET", path, opts); }
  post(path, json, opts = {}) { return this.request("POST", path, { ...opts, json }); }

  async #read(resp) {
    const type = resp.headers.get("content-type") || "";
    const body = type.includes("json") ? await resp.json().catch(() => null) : null;
    if (!resp.ok) {
      if (resp.status === 401) this.onUnauthorized();
      throw new ApiError(resp.status, body);
    }
    return { status: resp.status, body, headers: resp.headers };
  }

  // POST that answers with Server-Sent Events; yields {event, data} as they arrive.
  async *stream(path, json) {
    let resp;
    try {
      resp = await fetch(path, {
        method: "POST",
        headers: this.headers({
          Accept: "text/event-stream", "Content-Type": "application/json", "Idempotency-Key": newId(),
        }),
        body: JSON.stringify(json),
      });
    } catch {
      throw new ApiError(0, null);
    }
    if (!resp.ok || !(resp.headers.get("content-type") || "").includes("text/event-stream")) {
      await this.#read(resp);
      throw new ApiError(resp.status, null);
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r?\n\r?\n/);
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        const ev = parseEvent(block);
        if (ev) yield ev;
      }
      if (done) return;
    }
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const raw = data.join("\n");
  try {
    return { event, data: JSON.parse(raw) };
  } catch {
    return { event, data: raw };
  }
}

// Tiny DOM builder: el("p", {class: "x"}, "text", child). Text is always text, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function passageParagraphs(text) {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const lines = p.split("\n");
      const node = el("p");
      lines.forEach((line, i) => {
        if (i) node.append(el("br"));
        node.append(document.createTextNode(line));
      });
      return node;
    });
}

export function showSignedOut(message) {
  const main = document.querySelector("main");
  const box = document.getElementById("signed-out");
  if (box) {
    box.querySelector("[data-message]").textContent = message;
    box.hidden = false;
    if (main) main.hidden = true;
    box.querySelector("h1, h2").focus();
    offerDemo();
  }
}

// On `readloom serve --demo`, a page opened directly (a bookmark, a typed address) is no
// dead end: point back to the demo's start page, which signs the browser in.
async function offerDemo() {
  const hint = document.getElementById("signed-out-demo");
  if (!hint) return;
  try {
    const status = await (await fetch("/web/status", { headers: { Accept: "application/json" } })).json();
    hint.hidden = !status.demo;
  } catch {
    hint.hidden = true;
  }
}
