"""Malformed scenarios: every problem is one line naming file, place and expectation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailsim.core.errors import ScenarioError
from mailsim.scenario.loader import ScenarioErrors, load

GOOD = """
seed = 3
until = "1h"
hosts = [
  { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["mta"] },
  { name = "laptop.example.org", addresses = ["192.0.2.50"], roles = ["ua"] },
]
routers = [ { name = "internet" } ]
links = [
  { a = "laptop.example.org", b = "internet", latency = "10ms", bandwidth = "100Mbit" },
  { a = "internet", b = "mail.example.org", latency = "5ms" },
]
users = [ { address = "alice@example.org", password = "pw", host = "laptop.example.org" } ]
"""


def write(tmp_path: Path, text: str, **files: str) -> Path:
    (tmp_path / "scenario.toml").write_text(textwrap.dedent(text))
    for name, body in files.items():
        target = tmp_path / name.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    return tmp_path


def problems(tmp_path: Path, text: str, **files: str) -> list[str]:
    with pytest.raises((ScenarioErrors, ScenarioError)) as caught:
        load(write(tmp_path, text, **files))
    err = caught.value
    return [str(e) for e in err.errors] if isinstance(err, ScenarioErrors) else [str(err)]


def test_a_good_scenario_loads_with_converted_quantities(tmp_path):
    spec = load(write(tmp_path, GOOD))
    assert spec.seed == 3 and spec.until == 3600
    assert spec.links[0].latency == pytest.approx(0.010) and spec.links[0].bandwidth == 12_500_000
    assert spec.host("mail.example.org").roles == ("mta",)
    assert spec.name == tmp_path.name


def test_missing_folder(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path / "nope")
    assert str(caught.value).endswith("nope: expected a scenario folder holding scenario.toml, found no such file")


def test_bad_toml_names_the_line(tmp_path):
    [line] = problems(tmp_path, 'seed = 3\nuntil = "1h\n')
    assert line.startswith(f"{tmp_path / 'scenario.toml'}:2: TOML syntax error")
    assert line.endswith("expected valid TOML, found 'until = \"1h'")  # the offending line itself


def test_unknown_key_is_an_error_not_ignored(tmp_path):
    [line] = problems(tmp_path, GOOD + 'colour = "blue"\n')
    assert ":14: colour: expected one of the known keys (description, dns," in line
    assert line.endswith("found 'colour'")


def test_wrong_type_names_key_path_and_line(tmp_path):
    text = GOOD.replace('latency = "5ms"', 'latency = "fast"')
    [line] = problems(tmp_path, text)
    assert ":11: links[1].latency: expected a duration like" in line and "found 'fast'" in line


def test_dangling_link_to_a_missing_host(tmp_path):
    text = GOOD.replace('b = "mail.example.org"', 'b = "mx9.example.org"')
    [line] = problems(tmp_path, text)
    assert ":11: links[1].b: expected the name of a host or router, found 'mx9.example.org'" in line


def test_missing_zone_file_and_missing_required_key(tmp_path):
    text = GOOD + '[dns]\nzones = ["zones/example.org.zone"]\n'
    text = text.replace('{ name = "internet" }', "{ }")
    lines = problems(tmp_path, text)
    assert any("routers[0].name: expected this key" in line for line in lines)


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace('"10ms"', '"10 parsecs"').replace("seed = 3", 'seed = "three"')
    lines = problems(tmp_path, text)
    assert len(lines) == 2
    assert any(":2: seed: expected an integer, found 'three'" in line for line in lines)


def test_duplicate_address_and_bad_address(tmp_path):
    text = GOOD.replace('"192.0.2.50"', '"192.0.2.10"').replace('roles = ["ua"]', 'roles = ["ua", "toaster"]')
    lines = problems(tmp_path, text)
    assert any("hosts[1].roles[1]" in line or "hosts[1].roles" in line for line in lines)


def test_a_bad_hardware_table_names_the_host_line_and_key(tmp_path):
    text = GOOD.replace(
        'roles = ["mta"] }',
        'roles = ["mta"], hardware = { cores = 0, fsync = "quick", cpu = { smtpd = "lots", sendmail = "1ms" } } }',
    )
    lines = problems(tmp_path, text)
    assert any(":5: hosts[0].hardware.cores: expected a whole number of cores, at least 1, found 0" in x for x in lines)
    assert any(":5: hosts[0].hardware.fsync: expected a duration like" in x and "'quick'" in x for x in lines)
    assert any(
        ':5: hosts[0].hardware.cpu.smtpd: expected a CPU cost like "300us + 10us/KB"' in x and "'lots'" in x
        for x in lines
    )
    assert any(":5: hosts[0].hardware.cpu.sendmail: expected one of the known keys (cleanup," in x for x in lines)


def test_hardware_costs_are_per_message_and_per_kb(tmp_path):
    text = GOOD.replace(
        'roles = ["mta"] }', 'roles = ["mta"], cpus = 4, hardware = { cpu = { smtpd = "1ms + 20us/KB" } } }'
    )
    hardware = load(write(tmp_path, text)).host("mail.example.org").hardware
    assert hardware is not None and hardware.cores == 4  # the host's cpus
    assert hardware.cost("smtpd").of(50_000) == pytest.approx(0.001 + 50 * 20e-6)
    assert hardware.cost("cleanup").per_message == pytest.approx(200e-6)  # the default
    assert load(write(tmp_path, GOOD)).host("mail.example.org").hardware is None  # opt-in


def test_hardware_needs_at_least_one_core_from_cpus(tmp_path):
    text = GOOD.replace('roles = ["mta"] }', 'roles = ["mta"], cpus = 0, hardware = {} }')
    [line] = problems(tmp_path, text)
    assert ":5: hosts[0].cpus: expected at least 1 core for the host's hardware, found 0" in line
