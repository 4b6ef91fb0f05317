"""The link meter and the choice of frame quality (tuipacs.view.link): pure, no terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.app.app import graphics_config
from tuipacs.view.link import (
    AUTO_IN_FLIGHT,
    FULL,
    MAX_IN_FLIGHT,
    Level,
    LinkMeter,
    choose_level,
    frame_period,
)

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


def test_frames_in_flight_default_to_auto(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('frames_in_flight = "auto"\n', encoding="utf-8")
    assert config.load(path).frames_in_flight == AUTO_IN_FLIGHT
    assert config.Config().frames_in_flight == AUTO_IN_FLIGHT
    assert graphics_config("halfcell", config.Config()).frames_in_flight == AUTO_IN_FLIGHT


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('quality = "best"\n', "quality"),
        ("frames_in_flight = 0\n", "frames"),
        ("frames_in_flight = 9\n", "frames"),
        ('frames_in_flight = "many"\n', "frames"),
        ("frames_in_flight = 1.5\n", "frames"),
    ],
)
def test_bad_quality_settings_get_one_line(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert key in str(info.value) and "\n" not in str(info.value)


def test_auto_in_flight_lets_more_frames_only_within_one_round_trip() -> None:
    # 10 Mbit/s x 50 ms = 62.5 kB on the link per round trip
    meter = meter_for(10e6, 0.05)
    assert meter.in_flight(16_000) == MAX_IN_FLIGHT  # 16 kB frames: 3 (capped)
    assert meter.in_flight(26_000) == 3  # 1 + 62.5 // 26
    assert meter.in_flight(52_000) == 2
    assert meter.in_flight(70_000) == 1  # bigger than a round trip's worth: one at a time
    # 2 Mbit/s x 100 ms = 25 kB: a 26 kB preview goes one at a time
    assert meter_for(2e6, 0.1).in_flight(26_000) == 1
    # nothing measured yet: one
    assert LinkMeter().in_flight(1_000) == 1
    only_round_trips = LinkMeter()
    only_round_trips.add(400, 0.05)
    assert only_round_trips.in_flight(1_000) == 1, "no rate measured yet"


def test_auto_in_flight_bounds_what_waits_on_the_link() -> None:
    # whatever the frame size, the frames beyond the first fit in one round trip's bytes, so
    # after a released key the link drains in two round trips plus one frame time
    for rate, rtt in ((2e6, 0.1), (10e6, 0.05), (50e6, 0.02)):
        meter = meter_for(rate, rtt)
        for size in (2_000, 9_000, 26_000, 52_000, 180_000):
            frames = meter.in_flight(size)
            drain = frames * size * 8 / rate
            assert drain <= rtt + size * 8 / rate + 1e-9, (rate, rtt, size, frames)


def test_pipelined_periods_let_auto_keep_full_frames_at_10_mbit() -> None:
    meter = meter_for(10e6, 0.05)
    # one in flight: a 52 kB frame takes a round trip plus its bytes (92 ms, 11 fps)
    assert frame_period(meter, 52_000, 0.0) == pytest.approx(0.05 + 52_000 * 8 / 10e6, rel=0.05)
    # two in flight share the round trip: 46 ms, but never faster than the rate allows
    assert frame_period(meter, 52_000, 0.0, pipelined=True) == pytest.approx(
        (0.05 + 52_000 * 8 / 10e6) / 2, rel=0.05
    )
    assert frame_period(meter, 6_000, 0.0, pipelined=True) >= 6_000 * 8 / 10e6
    # so auto keeps the half-size preview at 15 fps only without pipelining
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, meter) == 1
    assert choose_level("auto", HELD_KEY, LEVELS, SIZES, meter, pipelined=True) == 0
