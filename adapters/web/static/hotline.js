/* Hotline inbox: live traffic over Server-Sent Events (a stream ticket stands in for the token, since
   EventSource cannot send headers), visible and audible alerts for FLASH/IMMEDIATE, a countdown to each
   acknowledgement deadline, one-click acknowledge, answer and reply, overdue messages highlighted. */
"use strict";
(function () {
  const { api, el, when, words, showErrors, clearErrors, problemText, newKey, flash } = window.Parley;
  const URGENT = new Set(["FLASH", "IMMEDIATE"]);
  const TYPES = ["message-sent", "message-delivered", "message-acknowledged", "message-answered", "message-escalated",
    "deadline-missed", "call-requested", "call-accepted", "call-declined", "call-held", "call-no-response",
    "explanation-requested", "explanation-replied", "explanation-not-replied", "meeting-requested", "meeting-held",
    "meeting-deadline-missed", "check-call-answered", "check-call-missed"].map((t) => `parley.hotline.${t}.v1`);

  let who = null, box = "inbox", lastSeq = null, source = null, audio = null;
  const messages = new Map(); // id -> message row (with body when known)
  const list = document.getElementById("messages");
  const live = document.getElementById("live-status");

  // ---- sound: a short two-tone beep made with WebAudio (no audio file, works offline) -----------
  function beep() {
    if (!document.getElementById("sound").checked) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      for (const [i, f] of [[0, 880], [1, 660], [2, 880]]) {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = f; g.gain.value = 0.2; o.connect(g); g.connect(audio.destination);
        o.start(now + i * 0.18); o.stop(now + i * 0.18 + 0.15);
      }
    } catch (e) { /* no audio device: the visible alert still shows */ }
  }
  document.addEventListener("click", () => { if (!audio && window.AudioContext) audio = new AudioContext(); }, { once: true });

  function alertFor(m) {
    const box = document.getElementById("alert");
    box.replaceChildren(el("span", { text: `${m.precedence} from ${m.from_party}: ${m.subject}` }), " ",
      el("button", { type: "button", text: "Show", onclick: () => { const li = document.getElementById(`msg-${m.id}`); if (li) li.querySelector("button, a")?.focus(); } }),
      " ", el("button", { type: "button", text: "Dismiss", onclick: () => { box.hidden = true; } }));
    box.hidden = false;
    beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") new Notification(`${m.precedence}: ${m.subject}`);
  }

  // ---- rendering --------------------------------------------------------------------------------
  const isInbox = (m) => m.to_party === who.party || (who.role === "auditor");
  const acked = (m) => !!m.acknowledged_at;
  const overdue = (m) => !acked(m) && (m.ack_missed_at || (m.ack_due && Date.parse(m.ack_due) < Date.now()));

  function countdown(m) {
    if (acked(m)) return el("span", { class: m.ack_late ? "bad" : "ok", text: `acknowledged ${when(m.acknowledged_at)}${m.ack_late ? " (late)" : ""}` });
    return el("span", { class: "countdown", dataset: { due: m.ack_due }, "aria-label": "time left to acknowledge" });
  }

  function tick() {
    for (const node of document.querySelectorAll(".countdown[data-due]")) {
      const left = Math.round((Date.parse(node.dataset.due) - Date.now()) / 1000);
      const abs = Math.abs(left), h = Math.floor(abs / 3600), mm = Math.floor((abs % 3600) / 60), s = abs % 60;
      const text = (h ? `${h}h ` : "") + `${String(mm).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
      node.textContent = left >= 0 ? `ack due in ${text}` : `OVERDUE by ${text}`;
      node.classList.toggle("overdue", left < 0);
      node.closest("li")?.classList.toggle("overdue", left < 0);
    }
  }

  function render(m) {
    const mine = m.to_party === who.party && who.role === "officer";
    const li = el("li", { id: `msg-${m.id}`, class: `message prec-${m.precedence}${overdue(m) ? " overdue" : ""}`, dataset: { id: m.id } },
      el("div", {}, el("span", { class: `badge ${m.precedence}`, text: m.precedence }), " ",
        el("span", { class: "subject", text: m.subject }), " ", el("span", { class: `badge ${m.status}`, text: m.status })),
      el("div", { class: "meta" }, el("span", { text: `${m.from_party} → ${m.to_party}` }), el("span", { text: `sent ${when(m.sent_at)}` }),
        el("span", { text: m.agreement_id }), countdown(m), m.escalated_at ? el("span", { class: "bad", text: `escalated to ${m.escalated_to}` }) : null),
      m.body != null ? el("p", { class: "body", text: m.body }) :
        el("button", { type: "button", class: "link", text: "Read message", onclick: () => refresh(m.id) }),
      m.answer ? el("p", {}, el("strong", { text: "Answer: " }), m.answer) : null);
    const actions = el("div", { class: "actions" });
    if (mine && !acked(m)) actions.append(el("button", { type: "button", class: "primary ack", text: "Acknowledge",
      onclick: (ev) => acknowledge(m, ev.target) }));
    if (mine && acked(m) && m.answer_required && !m.answered_at) actions.append(el("button", { type: "button", text: "Answer",
      onclick: () => answer(m, li) }));
    if (who.role === "officer") actions.append(el("button", { type: "button", class: "link", text: "Reply with a message", onclick: () => reply(m) }));
    li.append(actions);
    return li;
  }

  let shown = 25;
  function draw() {
    // what needs a person first (unacknowledged, newest first), then the rest by recency
    const pending = (m) => (box === "inbox" && !acked(m) ? 1 : 0);
    const rows = [...messages.values()].filter((m) => (box === "inbox" ? m.to_party === who.party || who.role === "auditor" : m.from_party === who.party))
      .filter((m) => !document.getElementById("only-overdue").checked || overdue(m))
      .sort((a, b) => pending(b) - pending(a) || (b.sent_seq || 0) - (a.sent_seq || 0));
    list.replaceChildren(...rows.slice(0, shown).map(render));
    if (!rows.length) list.append(el("li", { class: "muted", text: box === "inbox" ? "No messages." : "Nothing sent." }));
    if (rows.length > shown) list.append(el("li", {}, el("button", { type: "button", text: `Show ${Math.min(25, rows.length - shown)} more of ${rows.length - shown}`,
      onclick: () => { shown += 25; draw(); } })));
    tick();
  }

  function upsert(m, fresh) {
    const before = messages.get(m.id);
    messages.set(m.id, Object.assign({}, before || {}, m));
    draw();
    if (fresh) document.getElementById(`msg-${m.id}`)?.classList.add("fresh");
  }

  async function refresh(id, fresh) {
    const r = await api(`/api/v1/hotline/messages/${encodeURIComponent(id)}`);
    if (r.ok) upsert(r.data, fresh);
    return r;
  }

  async function acknowledge(m, button) {
    button.disabled = true;
    const r = await api(`/api/v1/hotline/messages/${encodeURIComponent(m.id)}/acknowledge`, { method: "POST", body: {}, headers: { "Idempotency-Key": newKey() } });
    if (!r.ok) { flash(problemText(r)); button.disabled = false; return; }
    flash("");
    const again = await api(`/api/v1/hotline/messages/${encodeURIComponent(m.id)}?min_seq=${r.data.version}`);
    if (again.ok) upsert(again.data);
    document.getElementById("alert").hidden = true;
  }

  function answer(m, li) {
    const input = el("textarea", { rows: "3", "aria-label": "Your answer", id: `answer-${m.id}` });
    const form = el("form", { class: "form", onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await api(`/api/v1/hotline/messages/${encodeURIComponent(m.id)}/answer`, { method: "POST", body: { body: input.value }, headers: { "Idempotency-Key": newKey() } });
      if (!r.ok) { flash(problemText(r)); return; }
      await api(`/api/v1/hotline/messages/${encodeURIComponent(m.id)}?min_seq=${r.data.version}`).then((x) => x.ok && upsert(x.data));
    } }, input, el("button", { type: "submit", class: "primary", text: "Send answer" }));
    li.append(form); input.focus();
  }

  function reply(m) {
    const details = document.getElementById("compose-box"); details.open = true;
    document.getElementById("m-agreement").value = m.agreement_id;
    fillParties();
    const other = m.from_party === who.party ? m.to_party : m.from_party;
    document.getElementById("m-to").value = other;
    document.getElementById("m-subject").value = m.subject.startsWith("Re: ") ? m.subject : `Re: ${m.subject}`;
    document.getElementById("m-reply").value = m.id;
    document.getElementById("m-body").focus();
  }

  // ---- compose ----------------------------------------------------------------------------------
  let agreements = [];
  function fillParties() {
    const chosen = agreements.find((a) => a.id === document.getElementById("m-agreement").value);
    const to = document.getElementById("m-to");
    const parties = chosen ? (chosen.parties || []).filter((p) => p !== who.party) : [];
    to.replaceChildren(...parties.map((p) => el("option", { value: p, text: p })));
  }

  async function setupCompose() {
    const r = await api("/api/v1/agreements");
    agreements = (r.ok && r.data.items) || [];
    const sel = document.getElementById("m-agreement");
    sel.replaceChildren(...agreements.map((a) => el("option", { value: a.id, text: `${a.id} — ${a.name || ""}` })));
    sel.addEventListener("change", fillParties); fillParties();
    const form = document.getElementById("compose");
    if (who.role !== "officer") document.getElementById("compose-box").hidden = true;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form, "compose-error");
      const body = { agreement_id: sel.value, to_party: document.getElementById("m-to").value, precedence: document.getElementById("m-precedence").value,
        subject: document.getElementById("m-subject").value, body: document.getElementById("m-body").value };
      const reply = document.getElementById("m-reply").value; if (reply) body.in_reply_to = reply;
      const r = await api("/api/v1/hotline/messages", { method: "POST", body, headers: { "Idempotency-Key": newKey() } });
      if (!r.ok) { showErrors(form, r, "compose-error"); return; }
      form.reset(); document.getElementById("m-reply").value = ""; fillParties();
      document.getElementById("compose-box").open = false;
      await refresh(r.data.id);
    });
  }

  // ---- check calls and requests -----------------------------------------------------------------
  async function checkCalls() {
    const out = document.getElementById("check-calls");
    const parts = [];
    for (const a of agreements) {
      const r = await api(`/api/v1/agreements/${encodeURIComponent(a.id)}/check-calls`);
      if (!r.ok) continue;
      const now = Date.now();
      const open = r.data.upcoming.filter((s) => Date.parse(s.slot_start) <= now && now < Date.parse(s.window_end) && s.expected.includes(who.party));
      const next = r.data.upcoming.find((s) => Date.parse(s.slot_start) > now);
      const streaks = Object.entries(r.data.streaks || {}).map(([p, s]) =>
        el("li", {}, el("strong", { text: p }), ` answered ${s.answered}, missed ${s.missed}; current missed streak `,
          el("span", { class: s.current_missed_streak ? "bad" : "ok", text: String(s.current_missed_streak) }), `, longest ${s.longest_missed_streak}`));
      parts.push(el("div", { class: "card" }, el("h3", { text: a.id }),
        el("ul", { class: "plain" }, streaks.length ? streaks : [el("li", { class: "muted", text: "No check calls recorded." })]),
        next ? el("p", { class: "muted", text: `Next check call ${when(next.slot_start)} (caller ${next.caller})` }) : null,
        ...open.map((s) => el("button", { type: "button", class: "primary", text: `Answer the check call of ${when(s.slot_start)}`, onclick: async (ev) => {
          ev.target.disabled = true;
          const x = await api(`/api/v1/agreements/${encodeURIComponent(a.id)}/check-calls/answer`, { method: "POST", body: { slot_start: s.slot_start }, headers: { "Idempotency-Key": newKey() } });
          flash(x.ok ? "" : problemText(x)); if (x.ok) ev.target.replaceWith(el("span", { class: "ok", text: "answered" }));
        } }))));
    }
    out.replaceChildren(...(parts.length ? parts : [el("p", { class: "muted", text: "No agreement binds your party." })]));
  }

  async function requests() {
    const out = document.getElementById("requests");
    const [calls, expl] = await Promise.all([api("/api/v1/hotline/calls?limit=20"), api("/api/v1/hotline/explanations?limit=20")]);
    const rows = [];
    for (const [kind, r] of [["call", calls], ["explanation", expl]]) {
      for (const q of (r.ok && r.data.items) || []) {
        const toMe = q.to_party === who.party && who.role === "officer";
        const acts = [];
        if (toMe && kind === "call" && q.status === "requested") {
          acts.push(el("button", { type: "button", text: "Accept", onclick: () => post(`calls/${q.id}/accept`, {}) }),
            el("button", { type: "button", text: "Decline", onclick: () => { const reason = prompt("Reason for declining"); if (reason) post(`calls/${q.id}/decline`, { reason }); } }));
        }
        if (toMe && kind === "explanation" && q.status === "requested") {
          acts.push(el("button", { type: "button", text: "Reply", onclick: () => { const text = prompt("Your explanation"); if (text) post(`explanations/${q.id}/reply`, { text }); } }));
        }
        const late = q.due && !q.responded_at && Date.parse(q.due) < Date.now();
        rows.push(el("tr", { class: late ? "overdue" : null }, el("td", { text: kind }), el("td", { text: `${q.from_party} → ${q.to_party}` }),
          el("td", { text: q.subject || "" }), el("td", {}, el("span", { class: `badge ${late ? "overdue" : q.status}`, text: words(q.status) })),
          el("td", { text: q.due ? `due ${when(q.due)}` : "" }), el("td", {}, ...acts)));
      }
    }
    out.replaceChildren(rows.length ? el("div", { class: "table-wrap" }, el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ...["Kind", "Parties", "Subject", "Status", "Due", ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows))) : el("p", { class: "muted", text: "No requests." }));
  }

  async function post(path, body) {
    const r = await api(`/api/v1/hotline/${path}`, { method: "POST", body, headers: { "Idempotency-Key": newKey() } });
    flash(r.ok ? "" : problemText(r));
    if (r.ok) setTimeout(requests, 300);
  }

  // ---- the live stream --------------------------------------------------------------------------
  async function connect() {
    const t = await api("/api/v1/session/stream-ticket", { method: "POST", body: {} });
    if (!t.ok) { live.textContent = "offline"; live.className = "badge overdue"; setTimeout(connect, 3000); return; }
    const q = new URLSearchParams({ ticket: t.data.ticket });
    if (lastSeq !== null) q.set("after", String(lastSeq));
    source = new EventSource(`/api/v1/hotline/stream?${q}`);
    const opened = new Promise((resolve) => source.addEventListener("open", resolve, { once: true }));
    source.addEventListener("open", () => { live.textContent = "live"; live.className = "badge live"; });
    source.addEventListener("error", () => {
      // a ticket lives a minute: reconnect with a fresh one, resuming after the last event seen
      live.textContent = "reconnecting…"; live.className = "badge overdue";
      source.close(); setTimeout(connect, 1000);
    });
    for (const type of TYPES) source.addEventListener(type, onEvent);
    return Promise.race([opened, new Promise((resolve) => setTimeout(resolve, 3000))]);
  }

  let pending = null;
  async function onEvent(ev) {
    lastSeq = Number(ev.lastEventId) || lastSeq;
    const row = JSON.parse(ev.data);
    if (row.aggtype === "message") {
      const fresh = ev.type.endsWith("message-sent.v1");
      const r = await refresh(row.aggregate_id, fresh);
      if (fresh && r.ok && r.data.to_party === who.party) {
        if (URGENT.has(r.data.precedence)) alertFor(r.data);
        if (r.data.status === "sent" && who.role === "officer")  // this client has received it
          api(`/api/v1/hotline/messages/${encodeURIComponent(r.data.id)}/delivered`, { method: "POST", body: {}, headers: { "Idempotency-Key": `delivered-${r.data.id}` } });
      }
      if (row.notify && row.notify.includes && row.notify.includes(who.officer_id)) alertFor(Object.assign({ precedence: "ESCALATED" }, r.data || {}));
    } else {
      clearTimeout(pending);
      pending = setTimeout(() => { requests(); checkCalls(); }, 300);
    }
  }

  async function load() {
    const q = new URLSearchParams({ limit: "100" });
    const r = await api(`/api/v1/hotline/messages?${q}`);
    if (!r.ok) { list.replaceChildren(el("li", { class: "error", text: problemText(r) })); return; }
    for (const m of r.data.items) messages.set(m.id, Object.assign({}, messages.get(m.id) || {}, m));
    draw();
    // bodies of what still needs a person's attention and of the latest few, at once; the rest on demand
    const waiting = r.data.items.filter((m) => m.to_party === who.party && !m.acknowledged_at).slice(0, 20);
    const latest = r.data.items.filter((m) => !waiting.includes(m)).slice(0, 5);
    await Promise.all([...waiting, ...latest].map((m) => refresh(m.id)));
    // this client now holds them: record delivery of what was still only "sent" to us
    if (who.role === "officer") for (const m of waiting.filter((x) => x.status === "sent"))
      api(`/api/v1/hotline/messages/${encodeURIComponent(m.id)}/delivered`, { method: "POST", body: {}, headers: { "Idempotency-Key": `delivered-${m.id}` } });
  }

  (async function main() {
    who = await window.Parley.ready;
    for (const tab of document.querySelectorAll("button[data-box]")) tab.addEventListener("click", () => {
      box = tab.dataset.box; shown = 25;
      document.querySelectorAll("button[data-box]").forEach((t) => t.setAttribute("aria-pressed", String(t === tab)));
      draw();
    });
    document.getElementById("only-overdue").addEventListener("change", draw);
    setInterval(tick, 1000);
    await connect();       // first the stream (from now), then the list: nothing falls in between
    await load();
    await setupCompose();
    checkCalls(); requests();
  })();
})();
