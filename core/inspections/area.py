"""The area of a visit: a GeoJSON (RFC 7946) Polygon or MultiPolygon, checked for sanity.

Not a GIS: the checks catch what makes an area unusable in a request — wrong type, positions out
of range, rings that do not close or have too few positions — with a message an officer can act
on. A Feature wrapping such a geometry is accepted and unwrapped; the stored area is the geometry.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import Invalid

MAX_POSITIONS = 10_000


def check_area(value: Any) -> dict[str, Any]:
    """The area's geometry (a Polygon or MultiPolygon dict), or Invalid with the reason."""
    if not isinstance(value, dict):
        raise Invalid("the area must be a GeoJSON object (a Polygon or MultiPolygon)")
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise Invalid("the area's Feature has no geometry")
    kind = value.get("type")
    coordinates = value.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise Invalid("a MultiPolygon area needs at least one polygon")
        polygons = coordinates
    else:
        raise Invalid(f"the area must be a GeoJSON Polygon or MultiPolygon, not {kind!r}")
    count = 0
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise Invalid("each polygon of the area needs at least one linear ring")
        for ring in polygon:
            count += _check_ring(ring)
    if count > MAX_POSITIONS:
        raise Invalid(f"the area has {count} positions; at most {MAX_POSITIONS} are accepted")
    return {"type": kind, "coordinates": coordinates}


def _check_ring(ring: Any) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise Invalid("each ring of the area needs at least 4 positions (the first repeated last)")
    for position in ring:
        if (not isinstance(position, list) or len(position) not in (2, 3)
                or not all(isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) for n in position)):
            raise Invalid(f"area position {position!r} must be [longitude, latitude] in degrees")
        lon, lat = position[0], position[1]
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            raise Invalid(f"area position {position!r} is out of range (longitude −180…180, latitude −90…90)")
    if ring[0][:2] != ring[-1][:2]:
        raise Invalid("each ring of the area must close: its last position must repeat its first")
    if len({tuple(p[:2]) for p in ring}) < 3:
        raise Invalid("each ring of the area needs at least 3 distinct positions")
    return len(ring)
