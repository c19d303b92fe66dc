"""CLI error handling: every failure is one readable line on stderr and a non-zero exit."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, TypeVar

import typer

from adapters.cli import event_loop
from core.errors import ParleyError

T = TypeVar("T")

#: Exit codes: 1 = the request was refused or failed, 2 = usage/configuration problem.
REFUSED = 1
BROKEN = 2


def fail(message: str, *, code: int = REFUSED) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_async(main: Callable[..., Awaitable[T]], *, service: bool = False) -> Callable[..., T]:
    """Run an async command body, turning known failures into one line + exit code.
    `service`: a long-running process (API, projector, notary), run on uvloop (adapters/cli/event_loop.py)."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            if service:
                return event_loop.run(main(*args, **kwargs))  # type: ignore[arg-type]
            return asyncio.run(main(*args, **kwargs))
        except typer.Exit:
            raise
        except ParleyError as error:
            raise fail(error.detail) from None
        except (ConnectionError, OSError, TimeoutError) as error:
            raise fail(f"cannot reach a service: {error}", code=BROKEN) from None
        except ValueError as error:
            raise fail(str(error), code=BROKEN) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper
