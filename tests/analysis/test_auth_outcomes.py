"""The seed's forwarding story, every variant run through the MTA: the outcome table, asserted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mailsim.analysis.auth_outcomes import auth_outcomes, list_variants, materialize, run_variant, seed_scenario
from mailsim.core.errors import ScenarioError

SEED = seed_scenario()
EXPECTED = [
    # variant            spf    dkim    dmarc   arc     fate
    ("book",             "fail", "none", "none", "none", "spam"),
    ("srs",              "pass", "none", "none", "none", "delivered"),
    ("dkim",             "fail", "pass", "pass", "none", "delivered"),
    ("dkim-footer",      "fail", "fail", "fail", "none", "rejected"),
    ("arc",              "fail", "fail", "fail", "pass", "delivered"),
    ("dmarc-reject-srs", "pass", "none", "fail", "none", "rejected"),
    ("dmarc-quarantine", "fail", "fail", "fail", "none", "held"),
    ("spf-reject",       "fail", "-",    "-",    "-",    "rejected"),
]  # fmt: skip


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return auth_outcomes(SEED, workdir=tmp_path_factory.mktemp("variants"))


def test_the_outcome_table(table: pd.DataFrame) -> None:
    rows = [tuple(row) for row in table[["variant", "spf", "dkim", "dmarc", "arc", "fate"]].itertuples(index=False)]
    assert rows == EXPECTED


def test_the_rejections_say_why(table: pd.DataFrame) -> None:
    replies = dict(zip(table["variant"], table["reply"], strict=True))
    assert replies["dkim-footer"] == "5.7.1 rejected by DMARC policy for schweikert.ch"
    assert replies["spf-reject"].startswith("550 5.7.23 <evi.nemeth@gmail.example>: Recipient address rejected")
    assert table.set_index("variant").loc["book", "spam"].startswith("yes")


def test_where_the_bounce_goes(table: pd.DataFrame) -> None:
    """Without SRS the forwarder bounces to the author; with SRS to its own SRS address, which it reverses."""
    bounces = table.set_index("variant")[["bounce_to", "bounce_delivered_to"]]
    assert tuple(bounces.loc["dkim-footer"]) == (
        "david@schweikert.ch",
        "david@schweikert.ch (sent at mail.schweikert.ch)",
    )
    srs_to, srs_delivered = bounces.loc["dmarc-reject-srs"]
    assert srs_to.startswith("SRS0=") and srs_to.endswith("=schweikert.ch=david@atrust.com")
    assert srs_delivered == "david@schweikert.ch (sent at mail.schweikert.ch)"
    assert tuple(bounces.loc["arc"]) == ("-", "-")


def test_variants_overlay_the_base_along_their_extends_chain(tmp_path: Path) -> None:
    names = [v.name for v in list_variants(SEED)]
    assert names[:2] == ["book", "srs"] and set(names) == {row[0] for row in EXPECTED}
    folder = materialize(SEED, "arc", tmp_path / "arc")
    relay = folder / "hosts" / "mail-relay.atrust.com"
    assert (relay / "disclaimer-milter.conf").is_file()  # from dkim-footer
    assert (folder / "hosts/mail.schweikert.ch/opendkim.conf").is_file()  # from dkim
    assert "inet:localhost:8894" in (relay / "main.cf").read_text()  # arc's own main.cf wins
    assert not (folder / "variants").exists()
    with pytest.raises(ScenarioError, match="variant"):
        materialize(SEED, "no-such-variant", tmp_path / "x")


def test_a_variant_with_signatures_and_seals_runs_the_same_twice(tmp_path: Path) -> None:
    first = run_variant(SEED, "arc", workdir=tmp_path / "one")
    second = run_variant(SEED, "arc", workdir=tmp_path / "two")
    assert first.digest == second.digest
