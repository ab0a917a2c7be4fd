import pytest

from mailsim.core.units import format_duration, parse_bandwidth, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("300s", 300),
        ("300", 300),
        ("5d", 432000),
        ("1h", 3600),
        ("4000s", 4000),
        ("10ms", 0.01),
        ("2w", 1209600),
        (7, 7),
    ],
)
def test_postfix_time_units(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_bare_number_takes_the_parameters_default_unit():
    assert parse_duration("5", default_unit="d") == 432000


@pytest.mark.parametrize("bad", ["5x", "", "d5", "five", True])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes_and_bandwidths_and_rates():
    assert parse_size("10240000") == 10240000
    assert parse_size("64KiB") == 65536
    assert parse_size("1MB") == 1_000_000
    assert parse_bandwidth("100Mbit") == 12_500_000
    assert parse_bandwidth("10MB/s") == 10_000_000
    assert parse_rate("120/h") == pytest.approx(1 / 30)
    assert parse_rate("2") == 2.0
    with pytest.raises(ValueError):
        parse_rate("3/fortnight")


def test_format_duration():
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"
