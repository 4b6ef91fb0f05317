"""The Textual application: thin. It holds the archive and settings and starts the browser."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual.app import App

from tuipacs.app import themes
from tuipacs.app.graphics.flow import FlowApp
from tuipacs.app.keymap import Key
from tuipacs.app.messages import StudyArrived
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.settings import Settings
from tuipacs.config import Config
from tuipacs.remote import config_clients
from tuipacs.store.archive import Archive
from tuipacs.view.actions import viewer_keymap
from tuipacs.view.graphics.probe import GraphicsConfig, current_config, normalise_setting

if TYPE_CHECKING:
    from tuipacs.remote import ClientFactory
    from tuipacs.server import ArchiveServer


@dataclass(frozen=True)
class ServeSettings:
    """Run the archive server inside the TUI: AE title, port and bind address overrides
    (None: from the config, as ``tuipacs serve`` does)."""

    aet: str | None = None
    port: int | None = None
    bind: str | None = None


class TuipacsApp(FlowApp, App[int]):
    """tuipacs: a study browser and an image viewer over one local archive."""

    CSS_PATH = "app.tcss"
    TITLE = "tuipacs"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Key("ctrl+q", "quit", "Quit", show=False, priority=True, section="App", tooltip="quit"),
        # Textual's own command palette binding, with a section for the help screen
        Key(
            App.COMMAND_PALETTE_BINDING,
            "command_palette",
            "palette",
            show=False,
            key_display=App.COMMAND_PALETTE_DISPLAY,
            priority=True,
            section="App",
            tooltip="command palette (themes, quit...)",
        ),
    ]

    def __init__(
        self,
        archive: Archive,
        cfg: Config,
        *,
        graphics: GraphicsConfig | None = None,
        theme: str | None = None,
        theme_set: themes.ThemeSet | None = None,
        serve: ServeSettings | None = None,
        clients: ClientFactory | None = None,
    ) -> None:
        """The app over ``archive``; ``clients`` gives a client (tuipacs.remote) for a node
        name or AE@host:port (None: the nodes of ``cfg``, retrieving into ``archive``)."""
        super().__init__()
        self.archive = archive
        self.cfg = cfg
        self.serve = serve
        self.clients: ClientFactory = (
            clients if clients is not None else config_clients(cfg, archive)
        )
        """How the screens reach remote archives (the seam of tuipacs.remote)."""
        self.server: ArchiveServer | None = None
        self.browser: BrowserScreen | None = None
        self.settings = Settings(cfg, graphics or current_config())
        """What the screens read: the configuration and the display settings."""
        self._requested_theme = theme or cfg.theme
        self._theme_set = theme_set if theme_set is not None else themes.load_themes()

    @property
    def graphics_config(self) -> GraphicsConfig:
        """The display settings every ImageView starts from."""
        return self.settings.graphics

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Defaults for our own CSS variables, so Textual's built-in themes work too."""
        return {
            **super().get_theme_variable_defaults(),
            "viewer-background": "#000000",
            "overlay-foreground": "#d8d8d8",
        }

    def on_mount(self) -> None:
        """Register the themes, pick one, open the browser."""
        for theme in self._theme_set.themes.values():
            self.register_theme(theme)
        if self.settings.config.keys:  # [keys]: the viewer's actions on other keys
            self.set_keymap(viewer_keymap(self.settings.config.keys))
        chosen = themes.pick_theme(self._requested_theme, self.available_themes)
        self.theme = chosen
        for warning in self._theme_set.warnings:
            self.notify(warning, severity="warning", timeout=8)
        for warning in self.settings.config.warnings:  # skipped [presets]: "[" is no markup
            self.notify(warning, severity="warning", timeout=8, markup=False)
        if self._requested_theme and chosen != self._requested_theme:
            known = ", ".join(sorted(self._theme_set.themes)) or "none"
            self.notify(
                f"unknown theme {self._requested_theme!r}; using {chosen} (known: {known})",
                severity="warning",
                timeout=8,
            )
        self.browser = BrowserScreen(self.archive, self.settings, self.clients)
        self.push_screen(self.browser)
        if self.serve is not None:
            self.start_server(self.serve)

    def start_server(self, serve: ServeSettings) -> None:
        """Start the archive server in the background; new studies refresh the browser."""
        from tuipacs.server import ArchiveServer, ServerError

        server = ArchiveServer(
            self.archive,
            self.cfg,
            aet=serve.aet,
            port=serve.port,
            bind=serve.bind,
            on_stored=self._stored,
        )
        try:
            self.server = server.start()
        except ServerError as exc:
            self.notify(f"cannot receive images: {exc}", severity="error", timeout=10)
            return
        settings = server.settings
        self.notify(f"receiving as {settings.ae_title} on {settings.bind}:{server.port}")

    def _stored(self, study_uid: str, _series_uid: str, _sop_uid: str) -> None:
        """on_stored, on the server's inbox thread: tell the browser (post is thread-safe)."""
        if self.browser is not None:
            self.browser.post_message(StudyArrived(study_uid))

    def on_unmount(self) -> None:
        """Stop the archive server (it indexes what it has received first)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()


def graphics_config(
    setting: str | GraphicsConfig | None, cfg: Config, quality: str | None = None
) -> GraphicsConfig:
    """The display settings for ``setting`` without probing the terminal.

    A GraphicsConfig keeps its backend and cell size (``run_app`` probes and builds one); a
    backend name is used as is; ``auto`` (or None with ``graphics = "auto"`` in the config)
    takes the settings configured by a probe, else half-cell blocks (or
    ``$TUIPACS_GRAPHICS``). The quality (``quality``, else the config's) and the frames in
    flight come from the config.
    """
    if isinstance(setting, GraphicsConfig):
        chosen = setting
    else:
        value = normalise_setting(setting or cfg.graphics)
        base = current_config()
        chosen = base if value == "auto" else replace(base, backend=value)
    return replace(chosen, quality=quality or cfg.quality, frames_in_flight=cfg.frames_in_flight)


def build_app(
    archive: Archive,
    cfg: Config,
    *,
    graphics: str | GraphicsConfig | None = None,
    theme: str | None = None,
    theme_set: themes.ThemeSet | None = None,
    serve: bool | ServeSettings = False,
    clients: ClientFactory | None = None,
    quality: str | None = None,
) -> TuipacsApp:
    """The app for ``archive``; ``graphics``/``theme``/``quality`` None mean "from the
    config".

    ``serve`` True (or a ServeSettings with overrides) also runs the archive server (AE title,
    port and bind from the config, like ``tuipacs serve``); arrivals refresh the browser.
    ``clients`` is the client factory of remote archives (tuipacs.remote; None: the nodes of
    ``cfg``), as Harlequin's App receives its adapter: tests give their own.
    """
    settings = serve if isinstance(serve, ServeSettings) else (ServeSettings() if serve else None)
    return TuipacsApp(
        archive,
        cfg,
        graphics=graphics_config(graphics, cfg, quality),
        theme=theme or cfg.theme,
        theme_set=theme_set,
        serve=settings,
        clients=clients,
    )
