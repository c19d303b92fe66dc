"""Fast JSON for the hot paths (decoding every stream message, writing JSON cells), behaving like
the standard library wherever it matters.

A rebuild decodes every event and writes its payload back as JSON cells; `json` spent ~10 % of a
rebuild there, `orjson` is 3–9× faster. Why the swap is safe:

- `loads` returns what `json.loads` returns for every document Parley writes (RFC 8785 canonical
  JSON: no NaN/Infinity, integers within IEEE doubles). What orjson refuses (a lone surrogate
  escape, an integer beyond 64 bits) falls back to `json`, with one deliberate difference:
  `NaN`/`Infinity` tokens are refused (`ValueError`) instead of becoming floats. No Parley writer
  can produce them (canonical JSON has no such numbers), so a message holding one is not a
  Parley event — and refusing it here keeps non-finite floats out of every value derived from
  events, which `dumps_text` relies on.
- `dumps_text` returns compact JSON text. Cells are read back by value (the read-model digest
  renders JSON canonically), so the spacing does not matter. orjson would write a non-finite
  float as `null`; none can reach a cell (see above: cells hold event payloads and states folded
  from them). Values orjson refuses (integers beyond 64 bits, unusual subclasses) go to `json`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number Parley writes")


_std_loads = json.JSONDecoder(parse_constant=_refuse_constant).decode
_std_dumps = json.JSONEncoder().encode


def loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _std_loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)


def dumps_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return _std_dumps(value)
