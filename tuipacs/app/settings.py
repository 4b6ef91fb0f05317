"""What the screens read from the app, typed: the configuration and the display settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuipacs.app.session import Session
from tuipacs.config import Config
from tuipacs.view.graphics.probe import GraphicsConfig, current_config


@dataclass(frozen=True)
class Settings:
    """Handed to each screen when it is made (no screen looks them up on the app)."""

    config: Config = field(default_factory=Config)
    graphics: GraphicsConfig = field(default_factory=current_config)
    session: Session = field(default_factory=Session)
    """The reader's session (mask, where each series was left): one per app, shared."""
