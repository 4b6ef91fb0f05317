"""The link meter and the choice of frame quality (tuipacs.view.link): pure, no terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.app.app import graphics_config
from tuipacs.view.link import FULL, Level, LinkMeter, choose_level

LEVELS = (FULL, Level("half", 2), Level("quarter", 4))
SIZES = [52_000.0, 16_000.0, 6_000.0]
"""Bytes per Kitty frame of a 512 x 512 CT at each level (measured)."""
HELD_KEY = 1 / 30


def meter_for(rate_bps: float, rtt: float) -> LinkMeter:
    """A meter fed as a link of ``rate_bps`` bits/s and ``rtt`` s would answer."""
    meter = LinkMeter()
    for size in (0, 400, 0, 52_000, 16_000, 52_000, 6_000, 1_000):
        meter.add(size, rtt + size * 8 / rate_bps)
    return meter


@pytest.mark.parametrize(("rate", "rtt"), [(2e6, 0.1), (10e6, 0.05), (100e6, 0.001)])
def test_meter_recovers_rate_and_round_trip(rate: float, rtt: float) -> None:
    meter = meter_for(rate, rtt)
    assert meter.rtt == pytest.approx(rtt, rel=0.05, abs=1e-3)
    assert meter.rate is not None
    assert meter.rate * 8 == pytest.approx(rate, rel=0.05)
    assert "Mbit/s" in meter.describe() and "rtt" in meter.describe()


def test_meter_knows_nothing_before_answers() -> None:
    meter = LinkMeter()
    assert meter.rtt is None and meter.rate is None and meter.describe() == ""
    meter.add(52_000, 0.3)  # a large frame alone bounds the round trip, no rate yet
    assert meter.rtt == pytest.approx(0.3) and meter.rate is None


def test_rest_is_always_full() -> None:
    slow = meter_for(1e6, 0.2)
    for quality in ("auto", "fast", "full"):
        assert choose_level(quality, None, LEVELS, SIZES, slow) == 0


def test_full_never_previews_and_fast_always_does_in_motion() -> None:
    slow = meter_for(1e6, 0.2)
    assert choose_level("full", HELD_KEY, LEVELS, SIZES, slow) == 0
    assert choose_level("fast", HELD_KEY, LEVELS, SIZES, meter_for(1e9, 0.0)) == 1


def test_auto_sends_full_frames_where_the_link_carries_them() -> None:
    local = meter_for(1e9, 0.0005)
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, local) == 0
    # encoding overlaps the transfer: a 60 ms Sixel encode still makes 15 fps locally
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, local, [0.06, 0.02, 0.01]) == 0


def test_auto_previews_only_where_full_frames_do_not_fit() -> None:
    # 10 Mbit/s, 50 ms: full 52 kB frames make 11 fps, half-size ones 16 fps
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, meter_for(10e6, 0.05)) == 1
    # 2 Mbit/s, 100 ms: the round trip caps the rate; quarter frames would barely be faster
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, meter_for(2e6, 0.1)) == 1
    # 0.5 Mbit/s: only the smallest frames keep up
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, meter_for(0.5e6, 0.1)) == 2


def test_slow_motion_gets_full_frames_on_a_slow_link() -> None:
    # cine at 2 fps asks for a frame every 0.5 s: 52 kB at 2 Mbit/s take 0.31 s
    assert choose_level("auto", 0.5, LEVELS, SIZES, meter_for(2e6, 0.1)) == 0


def test_quality_and_frames_in_flight_come_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('quality = "full"\nframes_in_flight = 2\n', encoding="utf-8")
    cfg = config.load(path)
    assert (cfg.quality, cfg.frames_in_flight) == ("full", 2)
    chosen = graphics_config("halfcell", cfg)
    assert (chosen.quality, chosen.frames_in_flight) == ("full", 2)
    assert graphics_config("halfcell", cfg, "fast").quality == "fast", "--quality wins"


@pytest.mark.parametrize(
    ("text", "key"), [('quality = "best"\n', "quality"), ("frames_in_flight = 0\n", "frames")]
)
def test_bad_quality_settings_get_one_line(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert key in str(info.value) and "\n" not in str(info.value)
