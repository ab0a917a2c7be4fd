"""The command line: user mistakes are one line each naming file, place and expectation, exit code 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailsim.cli import main

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "default"


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    """A private copy of the default scenario to break."""
    target = tmp_path / "broken"
    shutil.copytree(DEFAULT, target)
    return target


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "scenario.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no error message"
    for needle in needles:
        assert any(needle in line for line in lines), (needle, lines)


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "validate", "serve"):
        assert command in out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "usage: mailsim" in out


def test_the_default_scenario_validates(capsys):
    code, out, _ = run_cli(capsys, "validate", str(DEFAULT))
    assert code == 0 and "ok" in out


def test_missing_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err, "nowhere", "expected a scenario folder holding scenario.toml")


def test_bad_toml(capsys, scenario):
    edit(scenario, 'name = "default"', 'name = "default')
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "scenario.toml:5: TOML syntax error")


def test_unknown_key(capsys, scenario):
    edit(scenario, 'seed = 7', 'seed = 7\ncolour = "blue"')
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "scenario.toml:8: colour: expected one of the known keys")


def test_wrong_type(capsys, scenario):
    edit(scenario, 'until = "1h"', "until = true")
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "scenario.toml:8: until: expected a duration")


def test_dangling_link(capsys, scenario):
    edit(scenario, '{ a = "mx.example.net", b = "internet"', '{ a = "mx9.example.net", b = "internet"')
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "links[2].a: expected the name of a host or router, found 'mx9.example.net'")


def test_zone_file_syntax_error(capsys, scenario):
    zone = scenario / "zones" / "example.net.zone"
    zone.write_text(zone.read_text() + "www IN A not-an-address\n")
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "example.net.zone:7")


def test_main_cf_bad_value(capsys, scenario):
    main_cf = scenario / "hosts" / "mx.example.net" / "main.cf"
    main_cf.write_text(main_cf.read_text() + "maximal_queue_lifetime = forever\n")
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "main.cf", "maximal_queue_lifetime")


def test_missing_lookup_table(capsys, scenario):
    main_cf = scenario / "hosts" / "mx.example.net" / "main.cf"
    main_cf.write_text(main_cf.read_text() + "transport_maps = hash:/etc/postfix/transport\n")
    code, _, err = run_cli(capsys, "validate", str(scenario))
    assert_one_line_error(code, err, "transport")


def test_a_bad_option_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["run", str(DEFAULT), "--until", "soon"])
    assert caught.value.code == 2
    assert "expected a duration like 300s, 2h or 5d, found 'soon'" in capsys.readouterr().err


def test_the_console_script_exits_2_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mailsim.cli", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "scenario.toml" in proc.stderr
