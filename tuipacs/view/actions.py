"""The viewer's actions by name, for ``[keys]`` in config.toml (pure: no Textual).

Every key of the viewer does a named action; ``[keys]`` gives an action other keys, e.g. to
scroll images with Up/Down as Horos and RadiAnt do::

    [keys]
    next_image = "down,j"
    previous_image = "up,k"
    level_up = "shift+up"        # a key taken by another action leaves that action
    level_down = "shift+down"

Keys are Textual's key names (``j``, ``down``, ``pagedown``, ``ctrl+up``, ``shift+left``,
``question_mark``), several separated by commas.
"""

from __future__ import annotations

import re

VIEWER_ACTIONS: dict[str, str] = {
    "next_image": "step(1)",
    "previous_image": "step(-1)",
    "forward_10": "step(10)",
    "back_10": "step(-10)",
    "first_image": "first",
    "last_image": "last",
    "go_to_image": "goto",
    "window_narrower": "arrow(-1, 0)",
    "window_wider": "arrow(1, 0)",
    "level_up": "arrow(0, -1)",
    "level_down": "arrow(0, 1)",
    "window_narrower_fine": "arrow(-1, 0, True)",
    "window_wider_fine": "arrow(1, 0, True)",
    "level_up_fine": "arrow(0, -1, True)",
    "level_down_fine": "arrow(0, 1, True)",
    **{f"preset_{n}": f"preset({n})" for n in range(1, 11)},
    "preset_list": "preset_list",
    "auto_window": "auto_window",
    "invert": "invert",
    "zoom_in": "zoom(1)",
    "zoom_out": "zoom(-1)",
    "fit": "fit",
    "one_to_one": "one_to_one",
    "pan_left": "pan(0, -1)",
    "pan_right": "pan(0, 1)",
    "pan_up": "pan(-1, 0)",
    "pan_down": "pan(1, 0)",
    "cine": "cine",
    "cine_slower": "cine_rate(-1)",
    "cine_faster": "cine_rate(1)",
    "next_series": "series(1)",
    "previous_series": "series(-1)",
    "rotate_right": "rotate(1)",
    "rotate_left": "rotate(-1)",
    "flip_horizontal": "flip_h",
    "flip_vertical": "flip_v",
    "reset": "reset",
    "probe": "probe",
    "measure_tool": "measure_tool",
    "measure_point": "measure_point",
    "measure_delete": "measure_delete",
    "measure_copy": "measure_copy",
    "measure_panel": "measure_panel",
    "reformat_plane": "plane",
    "slab_thinner": "slab(-1)",
    "slab_thicker": "slab(1)",
    "slab_mode": "slab_mode",
    "key_image": "key_image",
    "write_back": "write_back",
    "overlays": "overlays",
    "annotations": "annotations",
    "gsps_window": "gsps_window",
    "segments": "segments",
    "mask": "mask",
    "tags": "tags",
    "priors": "priors",
    "layout": "layout",
    "next_viewport": "viewport(1)",
    "previous_viewport": "viewport(-1)",
    "sync_position": "sync('position')",
    "sync_window": "sync('window')",
    "sync_zoom": "sync('zoom')",
    "crossref": "crossref",
    "probe_jump": "probe_jump",
    "help": "help",
    "back": "back",
}
"""Action name -> the viewer's Textual action."""

BINDING_PREFIX = "viewer."
"""Binding ids are ``viewer.<name>``."""

_KEY = re.compile(r"^[a-z0-9_]+(\+[a-z0-9_]+)*$|^[A-Z]$")


def action_name(action: str) -> str | None:
    """The name of a viewer action (``step(1)``: ``next_image``), None when unnamed."""
    for name, value in VIEWER_ACTIONS.items():
        if value == action:
            return name
    return None


def viewer_keymap(keys: dict[str, str]) -> dict[str, str]:
    """A Textual keymap (binding id -> keys) from [keys] (action name -> keys)."""
    return {BINDING_PREFIX + name: value for name, value in keys.items()}


def parse_keys(text: str) -> list[str]:
    """The keys of a ``[keys]`` value (``"down,j"``); ValueError naming a bad key."""
    keys = [key.strip() for key in text.split(",")]
    if not keys or len(keys) > 8:
        raise ValueError("give one to eight keys separated by commas")
    for key in keys:
        if not _KEY.match(key) or len(key) > 40:
            raise ValueError(f"{key!r} is not a key name (like j, down, ctrl+up, pagedown)")
    return keys
