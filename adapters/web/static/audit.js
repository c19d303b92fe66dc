/* Audit page: verify the log in the browser (event hashes recomputed from RFC 8785 canonical JSON,
   Merkle inclusion of those events in the latest signed checkpoint, consistency between
   checkpoints; RFC 6962/9162 hashing with WebCrypto), download evidence bundles, and the figures as
   they stood at a past moment. */
"use strict";
(function () {
  const { api, el, when, problemText, missingRoute, flash } = window.Parley;
  let who = null;

  function notAvailable(text) { const box = document.getElementById("unavailable"); box.textContent = text; box.hidden = false; }

  // ---- hashing ----------------------------------------------------------------------------------
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const fromHex = (h) => Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16)));
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  async function sha256(...parts) {
    const total = parts.reduce((n, p) => n + p.length, 0), buf = new Uint8Array(total);
    let at = 0; for (const p of parts) { buf.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }
  const node = (l, r) => sha256(Uint8Array.of(1), l, r);

  /** RFC 8785 (JCS): keys sorted by UTF-16 code units, ECMAScript number and string serialisation. */
  function canonical(v) {
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }

  async function eventHash(event) {
    const copy = Object.assign({}, event); delete copy.hash; delete copy.signature;
    return hex(await sha256(enc.encode(canonical(copy))));
  }

  async function eventLeaf(seq, hashHex) {
    const s = new Uint8Array(8); new DataView(s.buffer).setBigUint64(0, BigInt(seq));
    return sha256(Uint8Array.of(0), s, fromHex(hashHex));
  }

  async function rootFromInclusion(index, size, leaf, proof) {
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else r = await node(r, p);
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("proof too short");
    return r;
  }

  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (first === second) return proof.length === 0 && same(firstRoot, secondRoot);
    if (first === 0) return true;
    let path = proof.slice();
    if ((first & (first - 1)) === 0) path = [firstRoot, ...path];
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await node(c, fr); sr = await node(c, sr);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else sr = await node(sr, c);
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(fr, firstRoot) && same(sr, secondRoot);
  }

  function parseNote(note) {
    const lines = note.split("\n");
    return { origin: lines[0], size: parseInt(lines[1], 10), root: b64(lines[2].trim()) };
  }

  // ---- verify -----------------------------------------------------------------------------------
  async function verify() {
    const out = document.getElementById("verify-result");
    const lines = [];
    const say = (ok, text) => { lines.push(el("li", { class: ok ? "ok" : "bad", text: `${ok ? "✓" : "✗"} ${text}` })); out.replaceChildren(el("ul", { class: "plain" }, lines)); };
    out.replaceChildren(el("p", { class: "muted", text: "Verifying…" }));
    if (!window.crypto || !crypto.subtle) { say(false, "this browser offers no WebCrypto here (open the page over https or localhost)"); return; }
    const cp = await api("/api/v1/audit/checkpoint", { text: true });
    if (missingRoute(cp)) { notAvailable("Audit routes are not available yet on this server."); out.replaceChildren(); return; }
    if (!cp.ok) { say(false, problemText(cp)); return; }
    document.getElementById("checkpoint").textContent = cp.data;
    const { size, root, origin } = parseNote(cp.data);
    say(true, `latest checkpoint of ${origin}: ${size} events (signature: check offline with \`parley verify\`)`);
    // events: auditors and admins read them and we recompute their hashes; others check the proofs alone
    const sample = [];
    const after = Math.max(0, size - 50);
    const ev = ["auditor", "admin"].includes(who.role) ? await api(`/api/v1/events?after=${after}&limit=50`) : { ok: false };
    if (ev.ok) {
      let bad = 0;
      for (const item of ev.data.items) {
        if (item.seq > size) continue;
        const h = await eventHash(item.event);
        if (h !== item.event.hash) { bad++; say(false, `event ${item.seq}: its hash does not match its content`); }
        sample.push({ seq: item.seq, leaf: await eventLeaf(item.seq, item.event.hash) });
      }
      say(bad === 0, `${sample.length} most recent events: content hashes recomputed (RFC 8785 + SHA-256), ${bad} mismatch(es)`);
    } else {
      for (const seq of [1, Math.ceil(size / 2), size]) sample.push({ seq, leaf: null });
      say(true, "events are readable by auditors and admins only: checking inclusion proofs of the server's leaf hashes");
    }
    const picks = sample.length > 5 ? [sample[0], sample[Math.floor(sample.length / 2)], sample[sample.length - 1]] : sample;
    for (const s of picks) {
      const p = await api(`/api/v1/audit/proofs/inclusion?seq=${s.seq}&size=${size}`);
      if (!p.ok) { say(false, `inclusion of ${s.seq}: ${problemText(p)}`); continue; }
      const leaf = s.leaf || b64(p.data.leaf_hash);
      try {
        const computed = await rootFromInclusion(s.seq - 1, size, leaf, p.data.hashes.map(b64));
        say(same(computed, root), `event ${s.seq} is included in the checkpoint's tree (${p.data.hashes.length} proof hashes)`);
      } catch (e) { say(false, `event ${s.seq}: ${e.message}`); }
    }
    const all = await api("/api/v1/audit/checkpoints");
    if (all.ok) {
      const notes = all.data.items.filter((i) => i.kind === "checkpoint").map((i) => parseNote(i.note));
      const pairs = notes.slice(-4).map((n, i, arr) => [arr[i - 1], n]).slice(1);
      for (const [a, b] of pairs) {
        const c = await api(`/api/v1/audit/proofs/consistency?first=${a.size}&second=${b.size}`);
        if (!c.ok) { say(false, `consistency ${a.size} → ${b.size}: ${problemText(c)}`); continue; }
        const ok = await verifyConsistency(a.size, b.size, a.root, b.root, c.data.hashes.map(b64));
        say(ok, `checkpoint of ${b.size} events extends the one of ${a.size} (consistency proof)`);
      }
      const cosigned = all.data.items.filter((i) => i.kind === "cosigned").length;
      say(true, `${notes.length} checkpoint(s) published, ${cosigned} witness co-signature(s)`);
    }
  }

  // ---- evidence -----------------------------------------------------------------------------------
  async function evidence(ev) {
    ev.preventDefault();
    const id = document.getElementById("e-incident").value.trim();
    const out = document.getElementById("evidence-result");
    if (!id) return;
    out.textContent = "Building the bundle…";
    const r = await fetch(`/api/v1/audit/evidence/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${window.Parley.token()}` } });
    if (!r.ok) {
      let detail = `HTTP ${r.status}`;
      try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
      out.textContent = r.status === 404 && /^not found$/i.test(detail) ? "Evidence bundles are not available yet on this server." : detail;
      return;
    }
    const blob = await r.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: `evidence-${id}.zip` });
    document.body.append(a); a.click(); a.remove();
    out.textContent = `Downloaded evidence-${id}.zip (${Math.round(blob.size / 1024)} KiB); check it with \`parley verify-bundle\`.`;
  }

  // ---- replay as of a date ------------------------------------------------------------------------
  async function replay(ev) {
    ev.preventDefault();
    const at = document.getElementById("r-at").value;
    const out = document.getElementById("replay-result");
    if (!at) return;
    const moment = `${at.length === 16 ? at + ":00" : at}Z`;
    out.replaceChildren(el("p", { class: "muted", text: "Replaying…" }));
    const parties = await api("/api/v1/parties");
    const codes = who.role === "auditor" ? ((parties.ok && parties.data.items) || []).map((p) => p.code) : [who.party].filter(Boolean);
    const rows = [];
    for (const code of codes) {
      const r = await api(`/api/v1/metrics/parties/${code}?as_of=${encodeURIComponent(moment)}&window=365d`);
      if (missingRoute(r)) { out.replaceChildren(el("p", { class: "muted", text: "Metrics are not available yet on this server." })); return; }
      if (!r.ok) { rows.push(el("tr", {}, el("th", { scope: "row", text: code }), el("td", { colspan: "3", class: "muted", text: problemText(r) }))); continue; }
      const ci = r.data.consistency_index;
      rows.push(el("tr", {}, el("th", { scope: "row", text: code }), el("td", { text: ci && ci.value !== null ? (Math.round(ci.value * 10) / 10).toString() : "—" }),
        el("td", { text: String(r.data.incident_counts.total) }), el("td", { text: r.data.rates.ack_rate.value === null ? "—" : `${Math.round(r.data.rates.ack_rate.value * 100)}%` })));
    }
    out.replaceChildren(el("p", { text: `As of ${when(moment)} (the year before it):` }),
      el("div", { class: "table-wrap" }, el("table", { class: "list" },
        el("thead", {}, el("tr", {}, ...["Party", "Consistency index", "Incidents", "Acknowledged in time"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows))),
      el("p", { class: "help", text: "A full rebuild of every read model as of a moment: parley replay --until TIME --database-url URL." }));
  }

  (async function main() {
    who = await window.Parley.ready;
    document.getElementById("verify").addEventListener("click", verify);
    document.getElementById("evidence-form").addEventListener("submit", evidence);
    document.getElementById("replay-form").addEventListener("submit", replay);
    const d = new Date(Date.now() - 90 * 86400e3); document.getElementById("r-at").value = d.toISOString().slice(0, 16);
    if (!["auditor", "admin"].includes(who.role)) document.getElementById("evidence-result").textContent = "Evidence bundles are for auditors and admins.";
    const cp = await api("/api/v1/audit/checkpoint", { text: true });
    if (missingRoute(cp)) notAvailable("Audit routes are not available yet on this server.");
    else if (cp.ok) document.getElementById("checkpoint").textContent = cp.data;
  })();
})();
