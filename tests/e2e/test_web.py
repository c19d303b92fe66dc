"""The web interface in a real browser (Debian's chromium driven by Playwright), against a whole
Parley served by uvicorn in this process: real nats-server, SQLite, the projector running.

Two officers, each in a browser context of their own (separate sessionStorage, as two
machines): A files an incident through the form (after a refused attempt that shows field errors
and appends nothing), B finds it, acknowledges and files its own account, and both accounts show
side by side with the differences marked; a FLASH message A sends appears in B's open inbox
without a reload, B acknowledges it in one click and A sees the acknowledgement. The pages must fit
a 360 px wide screen. On the demo's scripted year the dashboard draws real monthly series with
the detected shifts marked, drills down by keyboard and exports CSV; the inspections board and the
audit page (hashes, inclusion and consistency proofs checked in the browser, an evidence bundle)
are filled. A screenshot of each main page is saved (PARLEY_WEB_ARTIFACTS, default: the test's
temporary directory).

The browser is never downloaded: `executable_path` is the distribution's /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright

from adapters.http.app import create_app
from adapters.http.tickets import StreamTickets
from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, altered

CHROMIUM = Path("/usr/bin/chromium")

TIMEOUT_MS = 10_000


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The browser tests exercise the pages, not SQL: one database (SQLite) keeps them fast."""
    return sqlite_url


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    path = Path(os.environ.get("PARLEY_WEB_ARTIFACTS") or tmp_path / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def served(runtime: Runtime) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                          timeout_graceful_shutdown=2))  # open event streams must not hold the exit
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():  # .ci/run installs it; never let Playwright download a browser
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium", pytrace=False)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in(browser, base: str, headers: dict[str, str]):  # noqa: ANN001, ANN201 - playwright types
    context = await browser.new_context(base_url=base, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto("/incidents")
    await page.wait_for_url("**/signin?next=*")  # no token yet: sent to sign in, then back
    await page.fill("#token", headers["Authorization"].removeprefix("Bearer "))
    await page.press("#token", "Enter")
    await page.wait_for_url("**/incidents")
    return page


async def fill_account(page, *, severity: str, place: str, initiator: str, narrative: str) -> None:  # noqa: ANN001
    await page.select_option("#kind", "unsafe_encounter_sea")
    await page.fill("#severity", severity)
    await page.fill("#place", place)
    await page.fill("#initiator", initiator)
    await page.fill("#cpa_m", "150")
    await page.fill("#narrative", narrative)


async def no_horizontal_scroll(page) -> bool:  # noqa: ANN001
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_whoami_and_stream_tickets(runtime: Runtime, api: httpx.AsyncClient, actors: Actors) -> None:
    r = await api.get("/api/v1/whoami", headers=actors.usa)
    assert r.status_code == 200
    me = r.json()
    assert (me["role"], me["party"], me["officer_id"], me["officer_name"]) == ("officer", "USA", "usa-duty", "USA duty officer")
    assert actors.usa["Authorization"].split()[1] not in r.text  # never the secret
    r = await api.get("/api/v1/whoami")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/api/v1/whoami", headers=actors.auditor)).json()["party"] is None

    async with served(runtime) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.post("/api/v1/session/stream-ticket", headers=actors.rus)
        assert r.status_code == 201
        ticket = r.json()["ticket"]
        admin_ticket = (await client.post("/api/v1/session/stream-ticket", headers=actors.admin)).json()["ticket"]
        for query, status in (({"ticket": "tkt_forged"}, 401), ({}, 401), ({"ticket": admin_ticket}, 403)):
            r = await client.get("/api/v1/hotline/stream", params=query)
            assert r.status_code == status, (query, r.text)
        async with client.stream("GET", "/api/v1/hotline/stream", params={"ticket": ticket}) as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        # the ticket stands for the token: revoking the token ends the ticket too
        token_id = (await api.get("/api/v1/whoami", headers=actors.rus)).json()["token_id"]
        assert (await api.delete(f"/api/v1/tokens/{token_id}", headers=actors.admin)).status_code == 204
        assert (await client.get("/api/v1/hotline/stream", params={"ticket": ticket})).status_code == 401


async def test_stream_tickets_are_shared_never_hold_the_secret_in_the_clear_and_expire(runtime: Runtime) -> None:
    bucket = f"tickets_{uuid.uuid4().hex[:8]}"
    issuer = StreamTickets(runtime.nc, ttl=1, bucket=bucket)
    other = StreamTickets(runtime.nc, ttl=1, bucket=bucket)  # another API process: only the bucket is shared
    ticket = await issuer.issue("prl_secret")
    assert await other.redeem(ticket) == "prl_secret" and await other.redeem(ticket) == "prl_secret"  # reusable
    kv = await runtime.nc.jetstream().key_value(bucket)
    [key] = await kv.keys()
    assert b"prl_secret" not in ((await kv.get(key)).value or b"") and ticket[4:] not in key
    for wrong in (altered(ticket), "tkt_unknown", "tkt_" + "A" * 43, "prl_secret"):
        assert await other.redeem(wrong) is None, wrong
    await asyncio.sleep(1.2)
    assert await other.redeem(ticket) is None


async def test_two_officers_file_both_accounts_and_the_hotline_is_live(
    runtime: Runtime, api: httpx.AsyncClient, actors: Actors, browser, artifacts: Path,  # noqa: ANN001
) -> None:
    r = await api.post("/api/v1/agreements", json={"id": "US-RU", "name": "INCSEA hotline", "parties": ["USA", "RUS"]},
                       headers=actors.admin)
    assert r.status_code == 201, r.text
    async with served(runtime) as base:
        a = await signed_in(browser, base, actors.usa)
        b = await signed_in(browser, base, actors.rus)
        assert (await a.text_content("#who .party")) == "USA" and (await a.text_content("#who .role")) == "officer"
        assert (await b.text_content("#who .party")) == "RUS"

        # A's first attempt is wrong: errors show next to the fields, and nothing is appended
        await a.click("#new-incident")
        await a.wait_for_url("**/incidents/new")
        await a.fill("#parties", "RUS")
        await fill_account(a, severity="9", place="", initiator="RUS", narrative="Shouldered at 150 m.")
        before = await runtime.store.last_seq()
        await a.click("#submit-account")
        await a.wait_for_selector("#severity-error:not([hidden])")
        assert "less than or equal to 5" in (await a.text_content("#severity-error") or "")
        assert await a.get_attribute("#severity", "aria-invalid") == "true"
        await a.fill("#severity", "4")
        await a.click("#submit-account")  # now: no place and no position, a rule of the domain
        await a.wait_for_selector("#place-error:not([hidden])")
        assert "place" in (await a.text_content("#place-error") or "")
        assert await runtime.store.last_seq() == before, "a refused form appended something"
        await a.screenshot(path=str(artifacts / "incident-form-errors.png"), full_page=True)

        await a.fill("#place", "Black Sea, 40 nm south of Sevastopol")
        await a.click("#submit-account")
        await a.wait_for_url("**/incidents/*?min_seq=*")
        incident_id = await a.get_attribute("#incident-id", "data-id")
        assert incident_id and await runtime.store.last_seq() == before + 1
        await a.wait_for_selector("#accounts td")

        # B sees it in its list, acknowledges, and files its own account
        await b.reload()
        link = b.locator(f"a[href='/incidents/{incident_id}']")
        await link.click()
        await b.click("#act-acknowledge")
        await b.click("#act-counter-account")
        await fill_account(b, severity="2", place="Black Sea, international waters", initiator="USA",
                           narrative="Routine shadowing of a warship near our exercise area.")
        await b.click("#submit-account")
        await b.wait_for_selector("#accounts thead th:nth-child(3)")
        heads = await b.locator("#accounts thead th").all_text_contents()
        assert heads == ["Field", "USA (reporter)", "RUS"]
        differing = await b.locator("#accounts tr:has(td.differs)").evaluate_all("rows => rows.map(r => r.dataset.field)")
        assert {"severity", "initiator", "position", "narrative"} <= set(differing)
        assert "kind" not in differing and "cpa" not in differing
        assert await b.text_content("#incident-status") == "counter account filed"

        await a.reload()
        await a.wait_for_selector("#accounts thead th:nth-child(3)")
        assert await a.locator("#accounts td.differs").count() >= 8  # 4+ rows, two accounts each
        await a.screenshot(path=str(artifacts / "incident-detail.png"), full_page=True)

        # the hotline: B's inbox is open; A sends a FLASH; it arrives without a reload
        await b.goto("/hotline")
        await b.wait_for_selector("#live-status.live")
        await a.goto("/hotline")
        await a.wait_for_selector("#live-status.live")
        await a.click("#compose-box summary")
        await a.select_option("#m-precedence", "FLASH")
        await a.fill("#m-subject", "Close approach")
        await a.fill("#m-body", "Your frigate is closing at 20 kn. Alter course to starboard.")
        await a.click("#send")
        sent = time.monotonic()
        message = b.locator("li.message", has_text="Close approach")
        await message.wait_for(timeout=2_000)
        assert time.monotonic() - sent < 2.0
        assert await b.is_visible("#alert") and "FLASH from USA" in (await b.text_content("#alert") or "")
        assert "ack due in" in (await message.locator(".countdown").text_content() or "")
        await b.screenshot(path=str(artifacts / "hotline-flash.png"), full_page=True)
        await message.locator("button.ack").click()
        await message.locator(".ok", has_text="acknowledged").wait_for()
        # A sees the acknowledgement arrive live on its sent box
        await a.click("#tab-outbox")
        await a.locator("li.message", has_text="Close approach").locator(".ok", has_text="acknowledged").wait_for(timeout=3_000)

        # 360 px: every main page fits without horizontal scrolling
        await b.set_viewport_size({"width": 360, "height": 740})
        for path in ("/incidents", f"/incidents/{incident_id}", "/incidents/new", "/hotline", "/inspections", "/dashboard", "/audit"):
            await b.goto(path)
            await b.wait_for_load_state("networkidle") if path != "/hotline" else await b.wait_for_selector("#live-status.live")
            assert await no_horizontal_scroll(b), f"{path} scrolls sideways at 360 px"
            await b.screenshot(path=str(artifacts / f"360{path.replace('/', '-')}.png"), full_page=True)
        assert not a.errors and not b.errors, (a.errors, b.errors)  # type: ignore[attr-defined]


async def test_demo_history_fills_the_dashboard_inspections_and_audit_pages(
    runtime: Runtime, browser, artifacts: Path, tmp_path: Path,  # noqa: ANN001
) -> None:
    from adapters.demo import seed
    from adapters.integrity.wiring import ensure_system_key, open_notary

    now = runtime.app.clock.now()
    seeded = await seed(runtime.app, now=now, home=tmp_path, tokens=runtime.tokens)
    assert seeded is not None and seeded.refused == (), seeded.refused[:3] if seeded else None
    assert seeded.incidents > 100 and seeded.messages > 200 and seeded.events > 2000
    assert await seed(runtime.app, now=now) is None  # only an empty store is seeded
    assert await runtime.projector.wait_for(seeded.events, timeout=60)
    await ensure_system_key(runtime)  # what the notary inside `parley up` does: sign a checkpoint
    notary = open_notary(runtime)
    await notary.start()
    await notary.tree.catch_up()
    await notary.publish()
    tokens = {line.split()[0] + "/" + line.split()[1]: line.split()[-1]
              for line in (tmp_path / "demo-tokens.txt").read_text().splitlines() if not line.startswith("#")}

    async with served(runtime) as base:
        rus = await signed_in(browser, base, {"Authorization": f"Bearer {tokens['RUS/officer']}"})
        await rus.goto("/dashboard")
        charts = rus.locator("#charts figure.chart")
        await charts.nth(7).wait_for()
        assert await charts.count() == 8
        assert await rus.locator("#consistency .kpi .value").first.text_content() not in ("—", None)
        lines = await charts.locator("path.line").evaluate_all("ps => ps.map(p => p.getAttribute('d').split('L').length)")
        assert sum(n >= 6 for n in lines) >= 6, lines  # real monthly series, not flat placeholders
        assert await rus.locator("#charts .shift-line").count() >= 1  # RUS slows down: shifts are found and marked
        await charts.first.locator("circle.pt").last.focus()
        await rus.keyboard.press("Enter")  # drill-down, by keyboard
        await rus.wait_for_selector("#drill:not([hidden]) h3")
        await rus.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
        async with rus.expect_download() as download:
            await rus.click("#csv")
        saved = tmp_path / "metrics.csv"
        await (await download.value).save_as(saved)
        assert saved.read_text().startswith("metric,party,counterpart,window") and "consistency_index" in saved.read_text()

        await rus.goto("/hotline")
        await rus.wait_for_selector("#live-status.live")
        await rus.locator("li.message.overdue").first.wait_for()  # the demo leaves an overdue IMMEDIATE
        await rus.screenshot(path=str(artifacts / "hotline.png"), full_page=True)
        await rus.goto("/incidents")
        await rus.locator("li.incident").nth(20).wait_for()
        incident_id = await rus.locator("li.incident code").first.text_content()
        await rus.screenshot(path=str(artifacts / "incidents.png"), full_page=True)
        await rus.goto("/inspections")
        await rus.locator("#visits tbody tr", has_text="refused").first.wait_for()
        await rus.locator("#quota tbody tr").first.wait_for()
        await rus.screenshot(path=str(artifacts / "inspections.png"), full_page=True)

        auditor = await signed_in(browser, base, {"Authorization": f"Bearer {tokens['-/auditor']}"})
        await auditor.goto("/audit")
        await auditor.click("#verify")
        result = auditor.locator("#verify-result")
        await result.locator("li", has_text="content hashes recomputed").wait_for(timeout=20_000)
        await result.locator("li", has_text="is included in the checkpoint").nth(2).wait_for()
        assert await result.locator("li.bad").count() == 0, await result.text_content()
        await auditor.fill("#e-incident", incident_id or "")
        async with auditor.expect_download() as download:
            await auditor.click("#evidence-form button[type=submit]")
        bundle = tmp_path / "evidence.zip"
        await (await download.value).save_as(bundle)
        assert bundle.read_bytes()[:2] == b"PK"
        await auditor.screenshot(path=str(artifacts / "audit.png"), full_page=True)
        assert not rus.errors and not auditor.errors, (rus.errors, auditor.errors)  # type: ignore[attr-defined]


def test_parley_up_demo_seeds_history_and_serves_the_pages(tmp_path: Path) -> None:
    """`parley up --demo` as a newcomer runs it: history seeded, tokens written 0600, pages served."""
    import signal
    import stat
    import subprocess

    from tests.e2e.cli_process import PARLEY, environment, free_port
    from tests.e2e.test_up import wait_healthy

    port = free_port()
    process = subprocess.Popen([str(PARLEY), "up", "--demo"], cwd=tmp_path, env=environment(PARLEY_HTTP_PORT=str(port)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout=120)
        tokens_file = tmp_path / ".parley" / "demo-tokens.txt"
        assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
        rus = next(line.split()[-1] for line in tokens_file.read_text().splitlines() if line.startswith("RUS "))
        headers = {"Authorization": f"Bearer {rus}"}
        assert httpx.get(f"{url}/api/v1/whoami", headers=headers).json()["party"] == "RUS"
        listed = httpx.get(f"{url}/api/v1/incidents", params={"limit": 200}, headers=headers).json()["items"]
        assert len(listed) > 50 and {"USA", "RUS"} <= set(listed[0]["parties"])
        page = httpx.get(f"{url}/hotline")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "/static/hotline.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert "Demo: " in out and "sign-in tokens in" in out and "refused" not in out, out
