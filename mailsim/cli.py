"""``mailsim``: run, validate and inspect scenarios; Postfix's admin tools over scenario hosts.

Every user mistake reaches the user as one line per problem and exit code 2 (never a traceback);
the trace is the only observation channel, so this module is the one place that prints.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mailsim.core.errors import MailsimError
from mailsim.core.units import parse_duration

EXIT_USAGE = 2


def default_scenario() -> Path:
    """scenarios/default in the working tree, else beside the package (an editable install)."""
    here = Path("scenarios/default")
    if (here / "scenario.toml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "scenarios" / "default"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a duration like 300s, 2h or 5d, found {text!r}") from exc


def _cmd_validate(args: argparse.Namespace) -> int:
    from mailsim.scenario.loader import load
    from mailsim.scenario.runner import role_builders
    from mailsim.scenario.world import check_world

    spec = load(args.scenario)
    notes = check_world(spec, role_builders())
    for note in notes:
        print(note)
    print(f"{args.scenario}: ok ({len(spec.hosts)} hosts, {len(spec.links)} links, {len(spec.messages)} messages)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from mailsim.api import run, run_streamed
    from mailsim.scenario.loader import load

    spec = load(args.scenario or default_scenario())
    out = Path(args.out) if args.out else Path("out") / spec.name
    files = out / "files"
    if files.exists():
        shutil.rmtree(files)
    if args.stream:
        streamed = run_streamed(spec, out, seed=args.seed, until=args.until, fidelity=args.fidelity,
                                progress=not args.quiet, files=files)  # fmt: skip
        if not args.quiet:
            print(streamed.summary())
            print(f"\nwrote {len(streamed.written)} files to {out}/ while running (CSV; no trace table kept) and the "
                  f"hosts' mailboxes under {files}/ (trace digest {streamed.digest[:16]})")  # fmt: skip
        return 0
    result = run(spec, seed=args.seed, until=args.until, fidelity=args.fidelity, progress=not args.quiet,
                 files=files)  # fmt: skip
    written = result.write(out)
    if not args.quiet:
        print(result.summary())
        print(
            f"\nwrote {len(written)} files to {out}/ and the hosts' mailboxes under {files}/ "
            f"(trace digest {result.digest[:16]})"
        )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import datetime

    from mailsim.core.trace import TraceRecord
    from mailsim.live.serve_world import serve_world

    def announce(line: str) -> None:
        print(line, flush=True)

    def log(record: TraceRecord, epoch: datetime) -> None:
        from mailsim.analysis.maillog import maillog_line

        line = maillog_line(record, epoch)
        if line is not None:
            print(line, file=sys.stderr, flush=True)

    try:
        asyncio.run(serve_world(args.scenario, hosts=args.host, services=args.service, until=args.until,
                                client=args.client, announce=announce, log=None if args.quiet else log))  # fmt: skip
    except KeyboardInterrupt:
        return 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsim",
        description="A discrete-event simulator of Internet mail: user, submission, transfer, delivery and access "
        "agents (Postfix-style) over a modelled network with DNS, in virtual time or on live sockets.",
        epilog="Start with `mailsim run` (the built-in default scenario), then look in out/default/. "
        "Postfix's tools take Postfix's options over a scenario's host at a simulated time: "
        "mailsim mailq|postqueue|postsuper|postcat|qshape -c SCENARIO [--host HOST] [--at TIME], "
        "mailsim postconf|postmap|postalias -c DIR ...; "
        "the seed's /bin/mail against a running `mailsim serve`: mailsim mail -s SUBJECT RCPT < body, "
        "mailsim mail -u USER [N]; a real message's Received chain as a scenario: mailsim replay MESSAGE.eml; capacity sweeps with "
        "confidence intervals: mailsim sweep SWEEP.toml [--dask ADDRESS].",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario in virtual time and write the trace, frames, maillog and plots")
    run.add_argument("scenario", nargs="?", help="scenario folder (default: scenarios/default)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--until", type=_duration, help="virtual time to run, e.g. 2h or 1d (default: the scenario's)")
    run.add_argument("--fidelity", choices=("wire", "fast"), help="override the scenario's fidelity")
    run.add_argument("--out", help="output folder (default: out/SCENARIO-NAME)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument("--stream", action="store_true",
                     help="for long runs: keep no trace in memory; write the messages, deliveries, queues and "
                     "utilisation tables (CSV) and the maillog while running (no trace/sessions/dns/net tables)")  # fmt: skip
    run.set_defaults(func=_cmd_run)

    serve = sub.add_parser(
        "serve",
        help="run a scenario in real time with its services bound on 127.0.0.1 ports for real clients",
        description="Binds each chosen service (smtp, submission) of each chosen host on a free 127.0.0.1 port, "
        "prints one line per service (HOST SERVICE 127.0.0.1:PORT) and runs the simulated world in real time "
        "until interrupted (Ctrl-C). Mail a real client submits enters the simulated world.",
    )
    serve.add_argument("scenario", nargs="?", help="scenario folder (default: scenarios/default)")
    serve.add_argument("--host", action="append", help="only this host (repeatable; default: every mail host)")
    serve.add_argument("--service", action="append", help="only this service: smtp, submission (repeatable)")
    serve.add_argument("--until", type=_duration, help="stop after this much time (default: until interrupted)")
    serve.add_argument("--client", help="scenario host a live client is seen as (default: the first host with role ua)")
    serve.add_argument("-q", "--quiet", action="store_true", help="do not print the maillog to stderr as it happens")
    serve.set_defaults(func=_cmd_serve)

    validate = sub.add_parser("validate", help="check a scenario folder and report every problem")
    validate.add_argument("scenario", help="scenario folder")
    validate.set_defaults(func=_cmd_validate)
    return parser


def tool_commands() -> dict[str, Callable[[list[str]], int]]:
    """Postfix's own tools (mailq, postqueue, postsuper, postcat, qshape, postconf, postmap, postalias)."""
    from mailsim.commands import COMMANDS

    return {**COMMANDS, "mail": _mail, "replay": _replay, "sweep": _sweep}  # mailsim-ua-reader: `mailsim mail`


def _sweep_parser() -> argparse.ArgumentParser:
    from mailsim.scenario.sweep import DEFAULT_WORKERS

    parser = argparse.ArgumentParser(
        prog="mailsim sweep",
        description="Run a sweep file: every arm (combination of parameter values) replicated, in parallel "
        "processes or on a Dask cluster; writes one row per run and the 95 % confidence intervals per arm.",
    )
    parser.add_argument("sweepfile", help="the sweep file (TOML; see mailsim.scenario.sweep)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS (tcp://host:8786)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="local processes (0: in this process)")
    parser.add_argument("--out", help="folder for runs.csv and summary.csv (default: out/sweep-NAME)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary table")
    return parser


def _sweep(argv: Sequence[str]) -> int:
    """``mailsim sweep SWEEP.toml [--dask ADDRESS] [--workers N] [--out DIR] [-q]``: arms x replications, CIs."""
    from mailsim.analysis.sweeps import measure_for
    from mailsim.scenario.sweep import load_sweep, run_sweep

    args = _sweep_parser().parse_args(list(argv))
    spec = load_sweep(args.sweepfile)
    result = run_sweep(spec, measure_for(spec), client=args.dask, workers=args.workers, progress=not args.quiet)
    out = Path(args.out) if args.out else Path("out") / f"sweep-{Path(args.sweepfile).stem}"
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    result.runs.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    if not args.quiet:
        print(summary.to_string(index=False))
        print(
            f"\n{len(result.runs)} runs in {result.wall.sum():.1f} s of worker time; wrote {out}/runs.csv, summary.csv"
        )
    return 0


def _replay(argv: Sequence[str]) -> int:
    """``mailsim replay MESSAGE.eml``: the Received chain as a hop list, a scenario folder, where auth broke."""
    from mailsim.analysis.replay import run_replay_cli

    return run_replay_cli(list(argv))


# -- mailsim-ua-reader: `mailsim mail`, the seed's /bin/mail against a running `mailsim serve` (mailsim.ua.mailcmd)
def _mail(argv: Sequence[str]) -> int:
    from mailsim.ua.mailcmd import run_mail_cli

    return run_mail_cli(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: Postfix-style tools take their own argv; the rest go through argparse."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        tools = tool_commands()
        if argv and argv[0] in tools:
            return tools[argv[0]](list(argv[1:]))
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args))
    except MailsimError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
