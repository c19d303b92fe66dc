/* Inspections board: requests and visits of your party (replies due highlighted, refusals and
   whether their ground held), one-click accept or refuse for the receiving party, quota use per year. */
"use strict";
(function () {
  const { api, el, when, words, problemText, missingRoute, newKey, flash } = window.Parley;
  const GROUNDS = ["quota_exhausted", "same_requester_cap", "concurrent_visit", "force_majeure", "other"];
  let who = null;

  function notAvailable(text) { const box = document.getElementById("unavailable"); box.textContent = text; box.hidden = false; }

  async function act(id, path, body) {
    const r = await api(`/api/v1/inspections/${encodeURIComponent(id)}/${path}`, { method: "POST", body, headers: { "Idempotency-Key": newKey() } });
    flash(r.ok ? "" : problemText(r));
    if (r.ok) { await visits(r.data.version); await quota(); }
  }

  function actions(v) {
    if (who.role !== "officer" || v.receiving_party !== who.party || v.status !== "requested") return [];
    const ground = el("select", { "aria-label": "Ground for refusal" }, GROUNDS.map((g) => el("option", { value: g, text: words(g) })));
    return [el("button", { type: "button", class: "primary", text: "Accept", onclick: () => act(v.id, "accept", {}) }),
      ground, el("button", { type: "button", text: "Refuse", onclick: () => act(v.id, "refuse", { ground: ground.value }) })];
  }

  async function visits(minSeq) {
    const table = document.getElementById("visits");
    const r = await api(`/api/v1/inspections?limit=100${minSeq ? `&min_seq=${minSeq}` : ""}`);
    if (missingRoute(r)) { notAvailable("Inspections are not available yet on this server."); return; }
    if (!r.ok) { table.replaceChildren(el("caption", { class: "error", text: problemText(r) })); return; }
    const now = Date.now();
    const rows = r.data.items.map((v) => {
      const replyOverdue = v.status === "requested" && v.reply_due && Date.parse(v.reply_due) < now;
      const late = [v.reply_late && "reply late", v.notice_late && "notice late", v.entry_late && "entry late",
        v.entry_missed_at && "entry missed", v.reply_missed_at && "reply missed"].filter(Boolean);
      return el("tr", { class: replyOverdue ? "overdue" : null },
        el("td", { text: words(v.kind) }), el("td", { text: `${v.requesting_party} → ${v.receiving_party}` }),
        el("td", {}, el("span", { class: `badge ${replyOverdue ? "overdue" : v.status}`, text: words(v.status) }),
          v.refusal_ground ? el("div", { class: v.unsubstantiated ? "bad" : "muted", text: `${words(v.refusal_ground)}${v.unsubstantiated ? " — unsubstantiated" : v.ground_held ? " — ground held" : ""}` }) : null),
        el("td", { text: when(v.requested_at) }),
        el("td", {}, v.replied_at ? `replied ${when(v.replied_at)}` : el("strong", { class: replyOverdue ? "bad" : null, text: `due ${when(v.reply_due)}` })),
        el("td", { text: late.join(", ") || "—" }), el("td", {}, ...actions(v)));
    });
    table.replaceChildren(el("thead", {}, el("tr", {}, ...["Kind", "Parties", "Status", "Requested", "Reply", "Clocks", ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No requests." }))]));
    return r.data.items[0];
  }

  async function quota() {
    const out = document.getElementById("quota");
    const party = document.getElementById("q-party").value, year = document.getElementById("q-year").value;
    if (!party || !year) return;
    const r = await api(`/api/v1/quotas/${encodeURIComponent(party)}/${encodeURIComponent(year)}`);
    if (missingRoute(r)) { out.replaceChildren(el("p", { class: "muted", text: "Quotas are not available yet on this server." })); return; }
    if (!r.ok) { out.replaceChildren(el("p", { class: "muted", text: problemText(r) })); return; }
    const rows = r.data.items.filter((q) => q.quota !== 0 || q.used).map((q) => {
      const bar = el("div", { class: `bar${q.quota_exhausted ? " over" : ""}` }, el("span"));
      if (q.quota) bar.firstChild.style.width = `${Math.min(100, Math.round((q.used / q.quota) * 100))}%`;
      return el("tr", {}, el("td", { text: q.agreement_id }), el("td", { text: words(q.kind) }),
        el("td", { text: q.quota === null ? `${q.used} (no quota)` : `${q.used} of ${q.quota}` }), el("td", {}, bar),
        el("td", { text: Object.entries(q.by_requester || {}).map(([p, n]) => `${p} ${n}`).join(", ") || "—" }),
        el("td", { class: q.unsubstantiated_refusals ? "bad" : null, text: `${q.refused} refused${q.unsubstantiated_refusals ? `, ${q.unsubstantiated_refusals} unsubstantiated` : ""}` }));
    });
    out.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ...["Agreement", "Kind", "Used", "", "By requester", "Refusals"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows))));
  }

  (async function main() {
    who = await window.Parley.ready;
    if (!["officer", "observer", "importer", "auditor"].includes(who.role)) { notAvailable(`Inspections are visible to the parties' members and auditors; you are ${who.role}.`); return; }
    const parties = await api("/api/v1/parties");
    const sel = document.getElementById("q-party");
    sel.replaceChildren(...((parties.ok && parties.data.items) || []).map((p) => el("option", { value: p.code, text: p.code })));
    if (who.party) sel.value = who.party;
    document.getElementById("q-year").value = new Date().getUTCFullYear();
    document.getElementById("quota-form").addEventListener("submit", (ev) => { ev.preventDefault(); quota(); });
    const first = await visits();
    if (!who.party && first) sel.value = first.receiving_party;  // auditors: a party with visits
    await quota();
  })();
})();
