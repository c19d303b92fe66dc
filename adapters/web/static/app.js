/* Parley web interface: what every page shares — the token, API calls, the identity header,
   small DOM helpers and the mapping of problem+json errors to form fields. Plain ES2020. */
"use strict";
(function () {
  const TOKEN = "parley.token", WHO = "parley.who";

  function token() { return sessionStorage.getItem(TOKEN); }

  function signOut() {
    sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(WHO);
    location.href = "/signin";
  }

  function toSignin() {
    if (document.body.dataset.page === "signin") return;
    location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
  }

  /** Call the JSON API with the tab's token. Resolves to {ok, status, data, headers}; never throws on HTTP errors. */
  async function api(path, options = {}) {
    const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
    const t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    let body = options.body;
    if (body !== undefined && typeof body !== "string") { body = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
    let response;
    try {
      response = await fetch(path, { method: options.method || "GET", headers, body });
    } catch (err) {
      return { ok: false, status: 0, data: { title: "Network error", detail: "Parley cannot be reached; check the link and retry." }, headers: new Headers() };
    }
    if (response.status === 401 && !options.noRedirect) { sessionStorage.removeItem(TOKEN); toSignin(); }
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) { try { data = await response.json(); } catch (e) { data = null; } }
    else if (options.text) { data = await response.text(); }
    return { ok: response.ok, status: response.status, data, headers: response.headers, response };
  }

  /** A route that does not exist yet answers 404 with a problem whose detail is the router's "Not Found". */
  function missingRoute(result) {
    return result.status === 404 && result.data && /^not found$/i.test(result.data.detail || "");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toISOString().replace("T", " ").slice(0, 16) + "Z";
  }

  function words(value) { return String(value == null ? "" : value).replace(/_/g, " "); }

  function flash(message) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message; box.hidden = !message;
  }

  function problemText(result) {
    const d = result.data || {};
    return d.detail || d.title || ("HTTP " + result.status);
  }

  /** Show a 422 problem's `errors` next to the fields of `form` (ids `<name>-error`); the rest in `#<formErrorId>`. */
  function showErrors(form, result, formErrorId, fieldFor) {
    clearErrors(form, formErrorId);
    const left = [];
    const errors = (result.data && result.data.errors) || [];
    const mapped = fieldFor || ((f) => f.split(".").filter((p) => !/^\d+$/.test(p)).pop());
    for (const e of errors) {
      const name = mapped(e.field);
      const slot = name && form.querySelector("#" + CSS.escape(name) + "-error");
      if (slot) {
        slot.textContent = (slot.textContent ? slot.textContent + " " : "") + e.message;
        slot.hidden = false;
        const input = form.querySelector("#" + CSS.escape(slot.id.replace(/-error$/, ""))) ||
          form.querySelector("[aria-describedby~='" + slot.id + "']");
        if (input) input.setAttribute("aria-invalid", "true");
      } else left.push(e.field + ": " + e.message);
    }
    if (!errors.length) left.push(problemText(result));
    const box = document.getElementById(formErrorId);
    if (box && left.length) { box.textContent = left.join("; "); box.hidden = false; }
    const first = form.querySelector("[aria-invalid='true']") || box;
    if (first && first.focus) first.focus();
  }

  function clearErrors(form, formErrorId) {
    form.querySelectorAll(".error").forEach((n) => { n.textContent = ""; n.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    const box = document.getElementById(formErrorId);
    if (box) { box.textContent = ""; box.hidden = true; }
  }

  function newKey() { return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()); }

  async function whoami() {
    const cached = sessionStorage.getItem(WHO);
    if (cached) return JSON.parse(cached);
    const r = await api("/api/v1/whoami");
    if (!r.ok) return null;
    sessionStorage.setItem(WHO, JSON.stringify(r.data));
    return r.data;
  }

  function renderWho(who) {
    const box = document.getElementById("who");
    if (!box || !who) return;
    box.replaceChildren(...[
      who.party ? el("span", { class: "party", title: "Your party", text: who.party }) : null,
      el("span", { class: "role", title: "Your role", text: who.role }),
      who.officer_id ? el("span", { class: "officer", text: who.officer_name || who.officer_id }) : null,
      el("button", { type: "button", onclick: signOut, text: "Sign out" }),
    ].filter(Boolean));
  }

  async function signinPage() {
    const form = document.getElementById("signin-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = document.getElementById("token"), err = document.getElementById("token-error");
      const value = input.value.trim();
      if (!value) { err.textContent = "Paste your token."; err.hidden = false; input.setAttribute("aria-invalid", "true"); return; }
      sessionStorage.setItem(TOKEN, value); sessionStorage.removeItem(WHO);
      const r = await api("/api/v1/whoami", { noRedirect: true });
      if (!r.ok) {
        sessionStorage.removeItem(TOKEN);
        err.textContent = r.status === 401 ? "This token is unknown, expired or revoked." : problemText(r);
        err.hidden = false; input.setAttribute("aria-invalid", "true"); input.focus();
        return;
      }
      sessionStorage.setItem(WHO, JSON.stringify(r.data));
      const next = new URLSearchParams(location.search).get("next");
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/incidents";
    });
    document.getElementById("token").focus();
  }

  const ready = (async () => {
    if (document.body.dataset.page === "signin") { signinPage(); return null; }
    if (!token()) { toSignin(); return new Promise(() => {}); }
    const who = await whoami();
    if (!who) { toSignin(); return new Promise(() => {}); }
    renderWho(who);
    return who;
  })();

  window.Parley = { api, el, svg, when, words, flash, showErrors, clearErrors, problemText, missingRoute, newKey, token, ready };
})();
