/* Metrics dashboard: the consistency index and its components for a party (or a dyad), monthly
   series with the detected behaviour shifts, drill-down to the records behind a month, CSV export. */
"use strict";
(function () {
  const { api, el, words, problemText, missingRoute } = window.Parley;
  const SERIES = [
    ["consistency_index", "Consistency index", "number"], ["ack_rate", "Acknowledged in time", "rate"],
    ["check_call_availability", "Check calls answered", "rate"], ["reporting_timeliness", "Reports on time", "rate"],
    ["counterparty_responsiveness", "Responds to reports", "rate"], ["account_agreement", "Accounts agree", "rate"],
    ["ack_latency_p50", "Median time to acknowledge", "seconds"], ["incident_count", "Incidents", "number"],
  ];
  const INCIDENT_METRICS = new Set(["reporting_timeliness", "counterparty_responsiveness", "incident_count", "account_agreement"]);
  let who = null;

  function notAvailable(text) {
    const box = document.getElementById("unavailable");
    box.textContent = text; box.hidden = false;
  }

  function query(extra) {
    const form = readForm();
    const q = new URLSearchParams(Object.assign({ window: form.window }, extra || {}));
    return q;
  }

  function readForm() {
    return { party: document.getElementById("d-party").value, counterpart: document.getElementById("d-counterpart").value,
      window: document.getElementById("d-window").value, from: document.getElementById("d-from").value };
  }

  function kpi(label, value, note) {
    return el("div", { class: "kpi" }, el("div", { class: "muted", text: label }), el("div", { class: "value", text: value }), note ? el("div", { class: "help", text: note }) : null);
  }

  const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);
  const score = (v) => (v === null || v === undefined ? "—" : (Math.round(v * 10) / 10).toString());

  function renderComponents(report) {
    const table = document.getElementById("rates");
    const index = report.consistency_index;
    const rows = Object.entries(report.rates).map(([name, r]) => {
      const comp = index && index.components.find((c) => c.metric === name);
      const bar = el("div", { class: "bar" }, el("span"));
      if (r.value !== null && r.value !== undefined) bar.firstChild.style.width = `${Math.round(r.value * 100)}%`;
      return el("tr", {}, el("th", { scope: "row", text: words(name) }), el("td", { text: pct(r.value) }),
        el("td", {}, bar), el("td", { text: `${r.numerator ?? "—"} / ${r.denominator ?? "—"}` }),
        el("td", { text: comp ? `weight ${comp.weight}${comp.used ? "" : " (no data)"}` : "" }));
    });
    table.replaceChildren(el("thead", {}, el("tr", {}, ...["Component", "Value", "", "Met / counted", "In the index"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
  }

  async function drill(metric, month) {
    const box = document.getElementById("drill");
    const f = readForm();
    box.hidden = false; box.replaceChildren(el("p", { text: `Loading ${words(metric)} for ${month}…` }));
    const path = f.counterpart ? `/api/v1/metrics/dyads/${f.party}/${f.counterpart}` : `/api/v1/metrics/parties/${f.party}`;
    const r = await api(`${path}?window=${month}`);
    if (!r.ok) { box.replaceChildren(el("p", { class: "error", text: problemText(r) })); return; }
    const report = f.counterpart ? r.data.p_to_q : r.data;
    const rate = report.rates && report.rates[metric];
    const ids = rate ? rate.records.breaches : metric === "incident_count" ? (r.data.incident_counts || {}).ids || [] : [];
    const link = (id) => (INCIDENT_METRICS.has(metric) ? el("a", { href: `/incidents/${encodeURIComponent(id)}`, text: id }) : el("code", { text: id }));
    box.replaceChildren(el("h3", { text: `${words(metric)} — ${month}` }),
      rate ? el("p", { text: `${pct(rate.value)}: ${rate.numerator} of ${rate.denominator} met; ${rate.records.breaches.length} breach(es):` }) :
        el("p", { text: metric === "incident_count" ? `${ids.length} incident(s):` : "The records behind this month:" }),
      el("ul", { class: "plain" }, ids.slice(0, 50).map((id) => el("li", {}, link(id)))),
      ids.length > 50 ? el("p", { class: "muted", text: `… and ${ids.length - 50} more (see the CSV export)` }) : null);
    box.scrollIntoView({ block: "nearest" });
  }

  async function show() {
    const f = readForm();
    if (!f.party) return;
    const ci = document.getElementById("consistency"), charts = document.getElementById("charts");
    ci.replaceChildren(el("p", { class: "muted", text: "Loading…" })); charts.replaceChildren();
    document.getElementById("drill").hidden = true;
    const path = f.counterpart ? `/api/v1/metrics/dyads/${f.party}/${f.counterpart}` : `/api/v1/metrics/parties/${f.party}`;
    const r = await api(`${path}?${query()}`);
    if (missingRoute(r)) { notAvailable("Metrics are not available yet on this server."); ci.replaceChildren(); return; }
    if (!r.ok) { ci.replaceChildren(el("p", { class: "error", text: problemText(r) })); return; }
    if (f.counterpart) {
      const c = r.data.consistency;
      ci.replaceChildren(kpi(`Consistency ${f.party}`, score(c.p && c.p.value)), kpi(`Consistency ${f.counterpart}`, score(c.q && c.q.value)),
        kpi("Asymmetry |Cp − Cq|", score(c.asymmetry)), kpi("Accounts agree (mean)", pct(r.data.account_agreement.mean_score), `${r.data.account_agreement.count} pair(s) of accounts`));
      renderComponents(r.data.p_to_q);
    } else {
      const index = r.data.consistency_index;
      ci.replaceChildren(kpi(`Consistency index ${f.party}`, score(index && index.value), "0–100, weighted components below"),
        kpi("Incidents", String(r.data.incident_counts.total)), kpi("Check-call missed streak", String(r.data.check_call_streaks.current), `longest ${r.data.check_call_streaks.longest}`),
        kpi("Accounts agree (mean)", pct(r.data.account_agreement.mean_score)));
      renderComponents(r.data);
    }
    const from = f.from || defaultFrom();
    // two at a time: on a poor link the first charts appear while the others load
    const queue = SERIES.slice();
    async function worker() {
      while (queue.length) {
        const [metric, title, unit] = queue.shift();
        const q = new URLSearchParams({ party: f.party, from });
        if (f.counterpart) q.set("counterpart", f.counterpart);
        const s = await api(`/api/v1/metrics/series/${metric}?${q}`);
        if (!s.ok) { charts.append(el("p", { class: "error", text: `${title}: ${problemText(s)}` })); continue; }
        charts.append(window.ParleyCharts.lineChart({ title, points: s.data.points, shifts: s.data.shifts, unit,
          onSelect: (p) => drill(metric, p.month) }));
      }
    }
    await Promise.all([worker(), worker()]);
    const order = SERIES.map((s) => s[1]);
    [...charts.children].sort((a, b) => order.indexOf(a.dataset.metric) - order.indexOf(b.dataset.metric)).forEach((n) => charts.append(n));
  }

  function defaultFrom() {
    const d = new Date(); d.setUTCMonth(d.getUTCMonth() - 11);
    return d.toISOString().slice(0, 7);
  }

  async function csv(ev) {
    ev.preventDefault();
    const f = readForm();
    const path = f.counterpart ? `/api/v1/metrics/dyads/${f.party}/${f.counterpart}` : `/api/v1/metrics/parties/${f.party}`;
    const r = await fetch(`${path}?${query({ format: "csv" })}`, { headers: { Authorization: `Bearer ${window.Parley.token()}` } });
    if (!r.ok) { window.Parley.flash(`CSV export failed (HTTP ${r.status})`); return; }
    const blob = await r.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: `metrics-${f.party}${f.counterpart ? "-" + f.counterpart : ""}-${f.window}.csv` });
    document.body.append(a); a.click(); a.remove();
  }

  (async function main() {
    who = await window.Parley.ready;
    const parties = await api("/api/v1/parties");
    const codes = ((parties.ok && parties.data.items) || []).map((p) => p.code);
    const partySel = document.getElementById("d-party"), other = document.getElementById("d-counterpart");
    const mine = who.role === "auditor" ? codes : [who.party].filter(Boolean);
    partySel.replaceChildren(...mine.map((c) => el("option", { value: c, text: c })));
    const describe = await api("/api/v1/metrics");
    if (missingRoute(describe)) { notAvailable("Metrics are not available yet on this server."); return; }
    if (!["officer", "observer", "auditor"].includes(who.role)) { notAvailable(`Metrics are for officers, observers and auditors; you are ${who.role}.`); return; }
    // counterparts: the parties the chosen one shares an agreement with
    const agreements = await api("/api/v1/agreements");
    function fillOthers() {
      const p = partySel.value;
      const peers = new Set();
      for (const a of (agreements.ok && agreements.data.items) || []) if ((a.parties || []).includes(p)) a.parties.forEach((x) => x !== p && peers.add(x));
      other.replaceChildren(el("option", { value: "", text: "all" }), ...[...peers].sort().map((c) => el("option", { value: c, text: c })));
    }
    if (who.role === "auditor") {  // start with a party that has a hotline partner, not an alphabetical one
      const first = ((agreements.ok && agreements.data.items) || []).find((a) => (a.parties || []).length);
      if (first) partySel.value = first.parties[0];
    }
    partySel.addEventListener("change", fillOthers); fillOthers();
    document.getElementById("d-from").value = defaultFrom();
    document.getElementById("metric-form").addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
    document.getElementById("csv").addEventListener("click", csv);
    show();
  })();
})();
