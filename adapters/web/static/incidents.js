/* Incidents: the filtered list, the report / own-account form, and the detail page (accounts side
   by side with differences marked, clarifications, timeline, the lifecycle actions this user may take). */
"use strict";
(function () {
  const { api, el, when, words, showErrors, clearErrors, problemText, newKey, flash } = window.Parley;
  const page = document.body.dataset.page;

  // ---- the account form -------------------------------------------------------------------------

  const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);
  const num = (text) => { const t = (text || "").trim(); if (!t) return undefined; const n = Number(t); return isNaN(n) ? t : n; };
  const utc = (local) => (local ? (local.length === 16 ? local + ":00Z" : local + "Z") : undefined);
  const local = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16) : "");

  function accountFrom(form) {
    const v = (id) => form.querySelector("#" + id).value;
    const account = {
      kind: v("kind"), severity: num(v("severity")), started_at: utc(v("started_at")), ended_at: utc(v("ended_at")),
      initiator: v("initiator").trim() || "unknown", units: list(v("units")), sources: list(v("sources")),
      narrative: v("narrative"),
    };
    const place = v("place").trim(); if (place) account.place = place;
    const lat = num(v("lat")), lon = num(v("lon"));
    if (lat !== undefined || lon !== undefined) account.position = { lat, lon };
    const cpa = num(v("cpa_m")); if (cpa !== undefined) account.cpa_m = cpa;
    const casualties = num(v("casualties")); if (casualties !== undefined) account.casualties = casualties;
    for (const k of Object.keys(account)) if (account[k] === undefined) delete account[k];
    return account;
  }

  function fillForm(form, a) {
    const set = (id, value) => { const n = form.querySelector("#" + id); if (n) n.value = value == null ? "" : value; };
    set("kind", a.kind); set("severity", a.severity); set("started_at", local(a.started_at)); set("ended_at", local(a.ended_at));
    set("place", a.place); set("lat", a.position && a.position.lat); set("lon", a.position && a.position.lon);
    set("initiator", a.initiator); set("cpa_m", a.cpa_m); set("units", (a.units || []).join(", "));
    set("casualties", a.casualties); set("narrative", a.narrative); set("sources", (a.sources || []).join(", "));
  }

  /** A field path of a 422 problem → the id of the form field that shows it. */
  function fieldFor(path) {
    const parts = path.split(".").filter((p) => !/^\d+$/.test(p));
    if (parts.includes("position")) return "position";
    if (parts[0] === "parties") return "parties";
    return parts[parts.length - 1];
  }

  /** Rules of the domain come back as one sentence: put the known ones next to their field. */
  const DOMAIN_FIELDS = [
    [/ends .* before it starts|cannot end in the future/, "ended_at"],
    [/position \(lat\/lon\) or a place/, "place"],
    [/initiator/, "initiator"],
    [/unknown part(y|ies)/, "parties"],
  ];

  function withFieldErrors(result) {
    const d = result.data || {};
    if (result.status === 422 && !(d.errors && d.errors.length)) {
      const hit = DOMAIN_FIELDS.find(([re]) => re.test(d.detail || ""));
      if (hit) return Object.assign({}, result, { data: Object.assign({}, d, { errors: [{ field: hit[1], message: d.detail }] }) });
    }
    return result;
  }

  function setupAccountForm(form, submit) {
    const start = form.querySelector("#started_at");
    if (start && !start.value) {
      const now = new Date(Date.now() - 3600e3); now.setUTCSeconds(0, 0);
      start.value = local(now.toISOString()); form.querySelector("#ended_at").value = local(new Date(now.getTime() + 600e3).toISOString());
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        clearErrors(form, "form-error");
        const result = await submit(accountFrom(form));
        if (!result.ok) showErrors(form, withFieldErrors(result), "form-error", fieldFor);
      } finally { button.disabled = false; }
    });
  }

  async function formPage() {
    const who = await window.Parley.ready;
    const form = document.getElementById("account-form");
    if (who.role !== "officer") {
      const box = document.getElementById("form-error");
      box.textContent = `Only officers file reports; you are signed in as ${who.role}.`; box.hidden = false;
    }
    const parties = await api("/api/v1/parties");  // suggestions for the party codes
    const codes = el("datalist", { id: "party-codes" }, ((parties.ok && parties.data.items) || [])
      .filter((p) => p.code !== who.party).map((p) => el("option", { value: p.code, text: p.name })));
    form.append(codes);
    form.querySelector("#parties").setAttribute("list", "party-codes");
    form.querySelector("#initiator").setAttribute("list", "party-codes");
    setupAccountForm(form, async (account) => {
      const others = list(form.querySelector("#parties").value).map((p) => p.toUpperCase());
      const r = await api("/api/v1/incidents", { method: "POST", body: { parties: others, account },
        headers: { "Idempotency-Key": form.dataset.key || (form.dataset.key = newKey()) } });
      if (r.status !== 422 && r.status !== 400) delete form.dataset.key;
      if (r.ok) location.href = `/incidents/${encodeURIComponent(r.data.id)}?min_seq=${r.data.version}`;
      return r;
    });
  }

  // ---- the list ---------------------------------------------------------------------------------

  async function listPage() {
    await window.Parley.ready;
    const form = document.getElementById("filters"), ul = document.getElementById("incident-list");
    const status = document.getElementById("list-status"), more = document.getElementById("more");
    const params = new URLSearchParams(location.search);
    const parties = await api("/api/v1/parties");
    const partySelect = document.getElementById("f-party");
    for (const p of (parties.data && parties.data.items) || []) partySelect.append(el("option", { value: p.code, text: `${p.code} — ${p.name}` }));
    for (const name of ["party", "kind", "status", "since", "until"]) if (params.get(name)) form.elements[name].value = params.get(name);
    let cursor = null;

    async function load(append) {
      const q = new URLSearchParams();
      for (const name of ["party", "kind", "status"]) if (form.elements[name].value) q.set(name, form.elements[name].value);
      if (form.elements.since.value) q.set("since", form.elements.since.value + "T00:00:00Z");
      if (form.elements.until.value) q.set("until", form.elements.until.value + "T23:59:59Z");
      if (append && cursor) q.set("cursor", cursor);
      q.set("limit", "25");
      status.textContent = "Loading…";
      const r = await api("/api/v1/incidents?" + q);
      if (!r.ok) { status.textContent = problemText(r); return; }
      if (!append) ul.replaceChildren();
      for (const i of r.data.items) ul.append(item(i));
      cursor = r.data.next_cursor; more.hidden = !cursor;
      status.textContent = ul.children.length ? `${ul.children.length} incident(s)${cursor ? ", more available" : ""}` : "No incidents match.";
    }

    function item(i) {
      return el("li", { class: "incident" },
        el("a", { class: "title", href: `/incidents/${encodeURIComponent(i.id)}`, text: `${words(i.kind)} — severity ${i.severity}` }), " ",
        el("span", { class: `badge ${i.status}`, text: words(i.status) }),
        el("div", { class: "meta" }, el("span", { text: `parties ${i.parties.join(" · ")}` }), el("span", { text: `reported by ${i.reporter}` }),
          el("span", { text: `started ${when(i.started_at)}` }), el("code", { text: i.id })));
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const name of ["party", "kind", "status", "since", "until"]) if (form.elements[name].value) q.set(name, form.elements[name].value);
      history.replaceState(null, "", "?" + q);
      load(false);
    });
    form.addEventListener("reset", () => setTimeout(() => { history.replaceState(null, "", location.pathname); load(false); }, 0));
    more.addEventListener("click", () => load(true));
    load(false);
  }

  // ---- the detail page --------------------------------------------------------------------------

  const ROWS = [
    ["kind", "Kind", (a) => words(a.kind)],
    ["time", "Time (UTC)", (a) => `${when(a.started_at)} – ${when(a.ended_at)}`],
    ["position", "Where", (a) => [a.place, a.position ? `${a.position.lat}, ${a.position.lon} (±${a.position.uncertainty_m} m)` : null].filter(Boolean).join(" · ") || "—"],
    ["initiator", "Initiated by", (a) => a.initiator],
    ["units", "Units", (a) => (a.units || []).join(", ") || "—"],
    ["cpa", "Closest approach", (a) => (a.cpa_m == null ? "—" : `${a.cpa_m} m`)],
    ["severity", "Severity", (a) => String(a.severity)],
    ["casualties", "Casualties", (a) => (a.casualties == null ? "unknown" : String(a.casualties))],
    ["narrative", "Narrative", (a) => a.narrative || "—"],
    ["sources", "Sources", (a) => (a.sources || []).join(", ") || "—"],
    ["version", "Account version", (a) => `v${a.version}, filed ${when(a.filed_at)}${a.amended_at ? `, amended ${when(a.amended_at)}: ${a.amendment_reason}` : ""}`],
  ];

  function renderAccounts(table, incident) {
    const accounts = incident.accounts;
    table.querySelectorAll("thead, tbody").forEach((n) => n.remove());
    const head = el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Field" }),
      ...accounts.map((a) => el("th", { scope: "col", class: "party-col", text: `${a.party}${a.party === incident.reporter ? " (reporter)" : ""}` }))));
    const body = el("tbody");
    for (const [key, label, show] of ROWS) {
      const values = accounts.map(show);
      const differs = key !== "version" && accounts.length > 1 && new Set(values).size > 1;
      body.append(el("tr", { dataset: { field: key } }, el("th", { scope: "row", text: label }),
        ...values.map((v) => el("td", { class: differs ? "differs" : null, title: differs ? "the accounts differ here" : null, text: v }))));
    }
    table.append(head, body);
    if (accounts.length < 2) body.append(el("tr", {}, el("td", { colspan: String(accounts.length + 1), class: "muted",
      text: "Only one account so far: the other side has not filed its own." })));
  }

  function allowed(incident, who) {
    if (!(who.role === "officer") || !incident.parties.includes(who.party)) return [];
    const me = who.party, s = incident.status, terminal = s === "resolved" || s === "retracted";
    const mine = incident.accounts.some((a) => a.party === me);
    const acts = [];
    if (terminal) return acts;
    if (me !== incident.reporter && !(me in incident.acknowledged)) acts.push("acknowledge");
    if (!mine && me in incident.acknowledged && s !== "reconciled" && s !== "under_review") acts.push("counter-account");
    if (mine && s !== "reconciled" && s !== "under_review") acts.push("amend");
    if (s === "counter_account_filed" && mine && !(me in incident.reconciliation)) acts.push("reconcile");
    if (s === "counter_account_filed") acts.push("dispute");
    if (s === "disputed") acts.push("review");
    if (s === "under_review") acts.push("resolve");
    acts.push("clarification");
    if (me === incident.reporter) acts.push("retract");
    return acts;
  }

  const ASK = {
    retract: ["Retract the incident", "reason", "Why is it retracted?"],
    dispute: ["Dispute the accounts", "statement", "Your statement"],
    review: ["Refer to review", "forum", "Review forum (e.g. joint commission)"],
    resolve: ["Record the finding", "finding", "The review's finding"],
    reconcile: ["Agree the accounts are reconciled", "note", "Note (optional)"],
    clarification: ["Ask for a clarification", "question", "Your question"],
  };

  async function detailPage() {
    const who = await window.Parley.ready;
    const id = document.getElementById("incident-id").dataset.id;
    let minSeq = new URLSearchParams(location.search).get("min_seq");
    let incident = null;
    const actionError = document.getElementById("action-error");

    async function load() {
      const q = minSeq ? `?min_seq=${minSeq}` : "";
      const [r, t] = await Promise.all([api(`/api/v1/incidents/${encodeURIComponent(id)}${q}`),
        api(`/api/v1/incidents/${encodeURIComponent(id)}/timeline${q}`)]);
      if (!r.ok) { flash(problemText(r)); document.getElementById("actions").replaceChildren(); return; }
      incident = r.data;
      const s = document.getElementById("incident-status");
      s.textContent = words(incident.status); s.className = `badge ${incident.status}`;
      document.getElementById("incident-summary").textContent =
        `${words(incident.kind)}, severity ${incident.severity} · parties ${incident.parties.join(", ")} · reported by ${incident.reporter} at ${when(incident.reported_at)}` +
        (incident.dispute_statement ? ` · disputed by ${incident.disputed_by}: “${incident.dispute_statement}”` : "") +
        (incident.review_forum ? ` · under review by ${incident.review_forum}` : "") + (incident.finding ? ` · finding: ${incident.finding}` : "") +
        (incident.retraction_reason ? ` · retracted: ${incident.retraction_reason}` : "");
      renderAccounts(document.getElementById("accounts"), incident);
      renderActions();
      const clar = document.getElementById("clarifications");
      clar.replaceChildren(...incident.clarifications.map((c) => el("li", { class: "card" },
        el("div", { class: "meta", text: `${c.from_party} → ${c.to_party}, ${when(c.asked_at)}` }), el("p", { text: c.question }),
        c.answer ? el("p", {}, el("strong", { text: "Answer: " }), c.answer) :
          (c.to_party === who.party && who.role === "officer" ? answerForm(c) : el("p", { class: "muted", text: "not answered yet" })))));
      if (!incident.clarifications.length) clar.append(el("li", { class: "muted", text: "None." }));
      if (t.ok) document.getElementById("timeline").replaceChildren(...t.data.items.map((e) =>
        el("li", {}, el("strong", { text: when(e.time) }), " ", el("span", { class: "badge", text: e.party }), " ", e.summary || words(e.type))));
    }

    async function act(path, body) {
      actionError.hidden = true;
      const r = await api(`/api/v1/incidents/${encodeURIComponent(id)}/${path}`, { method: "POST", body: body || {},
        headers: { "If-Match": `"${incident.last_seq}"`, "Idempotency-Key": newKey() } });
      if (r.ok) { minSeq = r.data.version; await load(); }
      else if (r.status === 409 && r.data && r.data.type && r.data.type.endsWith("/conflict")) {
        actionError.textContent = "Someone else changed this incident meanwhile; the page now shows the latest state. Check it and try again.";
        actionError.hidden = false; minSeq = r.data.current_version; await load();
      }
      return r;
    }

    function answerForm(c) {
      const input = el("textarea", { rows: "2", "aria-label": "Your answer" });
      return el("form", { class: "form", onsubmit: async (ev) => {
        ev.preventDefault();
        const r = await act(`clarifications/${encodeURIComponent(c.id)}/answer`, { answer: input.value });
        if (!r.ok) { actionError.textContent = problemText(r); actionError.hidden = false; }
      } }, input, el("button", { type: "submit", text: "Answer" }));
    }

    function askFor(action) {
      const [title, name, label] = ASK[action];
      const bar = document.getElementById("actions");
      const input = el("textarea", { id: "ask-input", rows: "3" });
      const extra = action === "clarification"
        ? el("select", { id: "ask-party", "aria-label": "Ask which party" }, ...incident.parties.filter((p) => p !== who.party).map((p) => el("option", { value: p, text: p })))
        : null;
      const form = el("form", { class: "form card", onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { [name]: input.value };
        if (action === "clarification") body.to_party = extra.value;
        const r = await act(action === "clarification" ? "clarifications" : action, body);
        if (!r.ok) { actionError.textContent = problemText(r); actionError.hidden = false; }
      } }, el("label", { for: "ask-input", text: `${title}: ${label}` }), extra, input,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: title }),
          el("button", { type: "button", class: "link", onclick: renderActions, text: "Cancel" })));
      bar.replaceChildren(form); input.focus();
    }

    function renderActions() {
      const bar = document.getElementById("actions");
      const acts = allowed(incident, who);
      const section = document.getElementById("counter-section");
      section.hidden = true;
      const buttons = acts.map((a) => {
        const label = { acknowledge: "Acknowledge receipt", "counter-account": "File our account", amend: "Amend our account",
          reconcile: "Agree (reconcile)", dispute: "Dispute", review: "Refer to review", resolve: "Resolve",
          clarification: "Ask a clarification", retract: "Retract" }[a];
        return el("button", { type: "button", id: `act-${a}`, class: a === "acknowledge" || a === "counter-account" ? "primary" : null, text: label,
          onclick: async () => {
            if (a === "acknowledge") {
              const r = await act("acknowledge");
              if (!r.ok) { actionError.textContent = problemText(r); actionError.hidden = false; }
            } else if (a === "counter-account" || a === "amend") openAccount(a);
            else askFor(a);
          } });
      });
      bar.replaceChildren(...(buttons.length ? buttons : [el("span", { class: "muted",
        text: who.role === "officer" ? "No action is open to your party at this stage." : `Read only: you are ${who.role}.` })]));
    }

    function openAccount(mode) {
      const section = document.getElementById("counter-section");
      const form = document.getElementById("account-form");
      section.hidden = false;
      document.getElementById("counter-h").textContent = mode === "amend" ? "Amend your party's account" : "Your party's account";
      document.getElementById("submit-account").textContent = mode === "amend" ? "Amend our account" : "File our account";
      let reason = form.querySelector("#reason");
      if (mode === "amend") {
        fillForm(form, incident.accounts.find((a) => a.party === who.party));
        if (!reason) {
          reason = el("div", { class: "field" }, el("label", { for: "reason", text: "Reason for the amendment" }),
            el("input", { id: "reason", "aria-describedby": "reason-error" }), el("p", { class: "error", id: "reason-error", hidden: true }));
          form.querySelector(".actions").before(reason);
        }
      } else if (reason) reason.remove();
      form.dataset.mode = mode;
      form.querySelector("#kind").focus();
      section.scrollIntoView({ block: "start" });
    }

    const form = document.getElementById("account-form");
    setupAccountForm(form, async (account) => {
      const mode = form.dataset.mode;
      const body = mode === "amend" ? { account, reason: form.querySelector("#reason").value } : { account };
      const r = await act(mode === "amend" ? "amend" : "counter-account", body);
      if (r.ok) document.getElementById("counter-section").hidden = true;
      return r;
    });
    await load();
  }

  if (page === "incidents") listPage();
  else if (page === "incident-form") formPage();
  else if (page === "incident") detailPage();
})();
