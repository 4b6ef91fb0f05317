"""Progressive viewing: the viewer's stack grows while images of the series land."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apphelpers import open_study, settle, until

from tuipacs import demo
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths


async def test_stack_grows_as_images_arrive(tmp_path: Path, make_app: Any) -> None:
    files = demo.generate(tmp_path / "demo", ct_slices=12)
    ct = sorted(p for p in files if p.parent.parent.name.startswith("ct-"))
    assert len(ct) == 12
    archive = Archive.open(tmp_path / "archive")
    import_paths(archive, ct[:3])
    app = make_app(archive)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_study(pilot, 0)
        assert screen.state.count == 3
        await pilot.press("j")
        assert screen.state.index == 1
        import_paths(archive, ct[3:])  # the rest of the retrieve lands
        await until(pilot, lambda: screen.state.count == 12, "the viewer's poll to see them")
        await settle(pilot)
        assert screen.state.index == 1  # still on the image being read
        assert "1/12" not in screen.overlay_text() and "2/12" in screen.overlay_text()
        await pilot.press("end")
        assert screen.state.index == 11
