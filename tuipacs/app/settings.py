"""What the screens read from the app, typed: the configuration and the display settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuipacs.config import Config
from tuipacs.view.graphics.probe import GraphicsConfig, current_config


@dataclass(frozen=True)
class Settings:
    """Handed to each screen when it is made (no screen looks them up on the app)."""

    config: Config = field(default_factory=Config)
    graphics: GraphicsConfig = field(default_factory=current_config)
