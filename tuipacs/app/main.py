"""Entry point of the TUI: probe the terminal, then build and run the app."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tuipacs.config import Config
from tuipacs.store.archive import Archive

if TYPE_CHECKING:
    from tuipacs.remote import ClientFactory


def run_app(
    archive: Archive,
    cfg: Config,
    graphics: str | None = None,
    theme: str | None = None,
    serve: bool = False,
    clients: ClientFactory | None = None,
    quality: str | None = None,
) -> int:
    """Run the TUI on ``archive``; ``graphics``/``theme``/``quality`` None mean "from the
    config".

    ``serve`` also runs the archive server (as ``tuipacs serve``) so arrivals show up live.
    ``clients`` gives the clients of remote archives (None: the nodes of ``cfg``).

    The terminal probe (graphics ``auto``) runs here, before Textual starts: Textual's input
    thread would swallow the terminal's replies otherwise. Returns the exit status.
    """
    from tuipacs.view.graphics.probe import GraphicsError, configure, detect_graphics

    try:
        config, _probe = detect_graphics(graphics or cfg.graphics)
    except GraphicsError as exc:
        print(f"tuipacs: error: {exc}", file=sys.stderr)
        return 2
    configure(config)
    from tuipacs.app.app import build_app

    extra: dict[str, Any] = {}
    if serve:
        extra["serve"] = True
    if clients is not None:
        extra["clients"] = clients
    if quality is not None:
        extra["quality"] = quality
    app = build_app(archive, cfg, graphics=config, theme=theme, **extra)
    result = app.run()
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code or 1)
