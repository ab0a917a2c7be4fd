"""A small simulated ``/bin/sh -c`` for commands with shell metacharacters (``"|cat > /dev/null"``).

What it understands: ``$NAME`` and ``${NAME}`` from the environment (not inside single quotes), quoting,
pipelines ``a | b``, lists with ``;``, ``&&`` and ``||``, redirections ``> file``, ``>> file`` and ``< file``
(files live under the host's folder; ``/dev/null`` discards), ``2>&1`` (stdout and stderr are one stream
here anyway), and the built-ins ``exit N``, ``echo`` and ``:``. Anything else (sub-shells, background jobs,
command substitution) is a syntax error with exit status 2, as a shell reports one. A program missing from
the registry gives dash's ``sh: 1: NAME: not found`` and exit status 127 (observed under Postfix 3.7); with
``allow_real_commands`` the whole command goes to the real ``/bin/sh`` instead.

Parameters read: none.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mailsim.da.programs.base import SHELLS, Program, ProgramContext, ProgramResult, Resubmission, run_real

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_STDERR = re.compile(r"\s2>&1|\s2>\s*/dev/null")
_OPERATORS = frozenset({"|", ";", "&&", "||"})
_REDIRECTS = frozenset({">", ">>", "<"})


class ProgramFinder(Protocol):
    """The part of the registry the shell needs."""

    allow_real_commands: bool

    def find(self, name: str) -> Program | None: ...


class ShellSyntaxError(ValueError):
    """A command this shell cannot run; reported like sh's own syntax errors (exit status 2)."""


@dataclass
class _Stage:
    argv: list[str] = field(default_factory=list)
    stdin: str | None = None
    stdout: str | None = None
    append: bool = False


@dataclass
class _Run:
    """Accumulates what the command list produced."""

    output: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the shell's own complaints go to stderr, never redirected
    resubmit: list[Resubmission] = field(default_factory=list)
    duration: float = 0.0
    status: int = 0


def expand_variables(command: str, env: Mapping[str, str]) -> str:
    """``$NAME``/``${NAME}`` replaced from ``env`` (unset: empty), except inside single quotes."""
    out: list[str] = []
    for index, piece in enumerate(re.split(r"('[^']*')", command)):
        quoted = index % 2 == 1
        out.append(piece if quoted else _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), piece))
    return "".join(out)


def parse(command: str) -> list[tuple[str, list[_Stage]]]:
    """The command list as (operator before it, pipeline stages); ShellSyntaxError for what is not modelled."""
    lexer = shlex.shlex(_STDERR.sub("", f" {command}"), posix=True, punctuation_chars="|&;<>()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as error:
        raise ShellSyntaxError(str(error)) from None
    items: list[tuple[str, list[_Stage]]] = []
    joiner, stages, stage = ";", [], _Stage()
    tokens_iter = iter(tokens)
    for token in tokens_iter:
        if token in _REDIRECTS:
            target = next(tokens_iter, None)
            if target is None or target in _OPERATORS or target in _REDIRECTS:
                raise ShellSyntaxError(f'redirection unexpected near "{token}"')
            if token == "<":
                stage.stdin = target
            else:
                stage.stdout, stage.append = target, token == ">>"
        elif token == "|":
            stages.append(_checked(stage))
            stage = _Stage()
        elif token in (";", "&&", "||"):
            stages.append(_checked(stage))
            items.append((joiner, stages))
            joiner, stages, stage = token, [], _Stage()
        elif token and all(char in "|&;<>()" for char in token):
            raise ShellSyntaxError(f'"{token}" unexpected (mailsim\'s shell runs lists, pipelines and redirections)')
        else:
            stage.argv.append(token)
    if stage.argv or stages:
        stages.append(_checked(stage))
        items.append((joiner, stages))
    return items


def _checked(stage: _Stage) -> _Stage:
    if not stage.argv:
        raise ShellSyntaxError("missing command")
    return stage


def run_shell(
    registry: ProgramFinder,
    command: str,
    message: bytes,
    env: Mapping[str, str],
    context: ProgramContext,
    *,
    time_limit: float = 1000.0,
) -> ProgramResult:
    """``/bin/sh -c command`` on the simulated host (see the module docstring)."""
    try:
        items = parse(expand_variables(command, env))
    except ShellSyntaxError as error:
        return ProgramResult(2, f"sh: 1: Syntax error: {error}\n")
    if registry.allow_real_commands and _missing(registry, items):
        return run_real(["/bin/sh", "-c", command], message, env, context, time_limit)
    run = _Run()
    for joiner, stages in items:
        if (joiner == "&&" and run.status != 0) or (joiner == "||" and run.status == 0):
            continue
        if _pipeline(registry, stages, message, env, context, run):
            break
    return ProgramResult(run.status, "".join(run.errors + run.output), tuple(run.resubmit), run.duration)


def _missing(registry: ProgramFinder, items: list[tuple[str, list[_Stage]]]) -> bool:
    names = [stage.argv[0] for _, stages in items for stage in stages]
    return any(name not in ("exit", "echo", ":") and registry.find(name) is None for name in names)


def _pipeline(
    registry: ProgramFinder,
    stages: list[_Stage],
    message: bytes,
    env: Mapping[str, str],
    context: ProgramContext,
    run: _Run,
) -> bool:
    """Run one pipeline; True when ``exit`` ended the whole command."""
    data = message
    for number, stage in enumerate(stages):
        last = number == len(stages) - 1
        stdin = _read(context, stage.stdin) if stage.stdin else data
        result, complaint = _stage(registry, stage, stdin, env, context)
        if complaint:
            run.errors.append(complaint)
        run.duration += result.duration
        run.resubmit.extend(result.resubmit)
        data = result.output.encode("utf-8", "surrogateescape")
        if stage.stdout is not None:
            problem = _write(context, stage.stdout, data, stage.append)
            if problem:
                run.errors.append(problem)
                result = ProgramResult(2)
            data = b""
        elif last:
            run.output.append(data.decode("utf-8", "surrogateescape"))
        if last:
            run.status = result.exit_code
        if stage.argv[0] == "exit":
            return True
    return False


def _stage(
    registry: ProgramFinder, stage: _Stage, stdin: bytes | None, env: Mapping[str, str], context: ProgramContext
) -> tuple[ProgramResult, str]:
    """One command of a pipeline: (its result, the shell's own complaint or "")."""
    name, args = stage.argv[0], stage.argv[1:]
    if stdin is None:
        return ProgramResult(2), f"sh: 1: cannot open {stage.stdin}: No such file\n"
    if name == "exit":
        return ProgramResult(int(args[0]) if args and args[0].isdigit() else 0), ""
    if name == "echo":
        return ProgramResult(0, " ".join(args) + "\n"), ""
    if name == ":":
        return ProgramResult(0), ""
    if name in SHELLS and len(args) >= 2 and args[0] == "-c":
        return run_shell(registry, args[1], stdin, env, context), ""
    program = registry.find(name)
    if program is None:
        return ProgramResult(127), f"sh: 1: {name}: not found\n"
    return program.run(stdin, tuple(stage.argv), env, context), ""


def _read(context: ProgramContext, path: str) -> bytes | None:
    if path == "/dev/null":
        return b""
    try:
        return context.path(path).read_bytes()
    except (OSError, ValueError):
        return None


def _write(context: ProgramContext, path: str, data: bytes, append: bool) -> str:
    """Write a redirection target; the shell's complaint when that is impossible, else ""."""
    if path == "/dev/null":
        return ""
    try:
        target = context.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("ab" if append else "wb") as handle:
            handle.write(data)
    except (OSError, ValueError):
        return f"sh: 1: cannot create {path}: Permission denied\n"
    return ""
