"""A minimal HTTP/1.1 client for load generators: one keep-alive connection, nothing else.

The load test's clients run on the same cores as the servers they measure, so what the client
costs is taken from the servers. httpx spends 3–5 ms of CPU per request (its transport stack,
header models, event hooks); this client writes the request bytes and parses the status line,
the headers and a `Content-Length` (or chunked) body: ~0.1 ms. The latency it measures is still
the whole round trip of a real request over a real TCP connection: the server cannot tell the
difference. It understands exactly what Parley's API answers with, and fails loudly otherwise.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class RawHttpError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as expected (a transport error)."""


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


@dataclass
class RawHttp:
    """`async with RawHttp("http://127.0.0.1:8080") as http: r = await http.post(path, json=…)`.
    Requests on one instance are sequential (one connection); reconnects after `Connection: close`."""

    base_url: str
    timeout: float = 30.0
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"RawHttp speaks plain http only, not {self.base_url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._host_header = f"Host: {parts.netloc}\r\n".encode()

    async def __aenter__(self) -> "RawHttp":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> RawResponse:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> RawResponse:
        return await self.request("POST", path, headers=headers, body=jsonlib.dumps(json).encode())

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes | None = None) -> RawResponse:
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers or {}, body), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as error:
            await self.close()
            raise RawHttpError(f"{method} {path}: {type(error).__name__}: {error}") from error

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> RawResponse:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host_header]
        head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()]
        if body is not None:
            head.append(b"Content-Type: application/json\r\n")
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        writer.write(b"".join(head) + (body or b""))
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {status_line!r}")
        answer_headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        if "content-length" in answer_headers:
            content = await reader.readexactly(int(answer_headers["content-length"]))
        elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
            content = await _chunked(reader)
        else:
            raise ValueError(f"an answer without Content-Length or chunked encoding: {status_line!r}")
        if answer_headers.get("connection", "").lower() == "close":
            await self.close()
        return RawResponse(status_code=int(rest[:3]), headers=answer_headers, content=content)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected: the empty line
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
