"""`oscbot check`: every problem in app.yaml and the environment, printed with file:line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from bot.config.check import Online, check_config


def check_command(path: Path, *, env: Mapping[str, str], strict: bool = False,
                  console: Console | None = None, online: Online | None = None) -> int:
    """Print every problem; 1 when there are errors (or warnings with `strict`), else 0."""
    console = console or Console()
    problems = check_config(path, env=env, online=online)
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    for problem in errors:
        console.print(f"[red]✗[/] {problem}", highlight=False, soft_wrap=True)
    for problem in warnings:
        console.print(f"[yellow]![/] {problem}", highlight=False, soft_wrap=True)
    if errors or (strict and warnings):
        console.print(f"[red]{count(len(errors), 'error')}, {count(len(warnings), 'warning')}"
                      f"[/] in {path}", highlight=False)
        return 1
    console.print(f"[green]✓[/] {path} is valid ({count(len(warnings), 'warning')})",
                  highlight=False)
    return 0


def count(n: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
