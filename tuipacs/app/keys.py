"""The keys of each screen, as shown on the help screen (one source for help and docs)."""

from __future__ import annotations

Section = tuple[str, tuple[tuple[str, str], ...]]

BROWSER_KEYS: tuple[Section, ...] = (
    (
        "Find",
        (
            ("/", "filter studies by name, ID, accession or description"),
            ("Enter / Down", "from the filter: back to the studies"),
            ("Escape", "from the filter: clear it"),
            ("s / S", "sort by the next column / reverse the order"),
            ("F5, Ctrl+R", "list the archive again"),
        ),
    ),
    (
        "Open",
        (
            ("Up / Down", "move in the table"),
            ("Home / End", "first / last row"),
            ("PgUp / PgDn", "a page up / down"),
            ("Tab", "switch between studies and series"),
            ("Enter", "open the study (first series) or the selected series"),
            ("*", "pin or unpin the study (never evicted)"),
            ("t", "show or hide the series thumbnails (a click on one opens it)"),
        ),
    ),
    (
        "App",
        (
            ("?", "this help"),
            ("Ctrl+P", "command palette (themes, quit...)"),
            ("q, Ctrl+Q", "quit"),
        ),
    ),
)

VIEWER_KEYS: tuple[Section, ...] = (
    (
        "Images",
        (
            ("j / k, wheel", "next / previous image (or frame)"),
            ("PgDn / PgUp", "10 images forward / back"),
            ("Home / End", "first / last image"),
            ("n / p", "next / previous series"),
            ("Space", "cine play / pause"),
            ("[ / ]", "cine slower / faster"),
        ),
    ),
    (
        "Window",
        (
            ("Left / Right", "window width narrower / wider (Shift: fine)"),
            ("Up / Down", "window level up / down (Shift: fine)"),
            ("1 .. 9", "window presets for the modality (listed below)"),
            ("a", "automatic window from the image"),
            ("i", "invert grey levels"),
        ),
    ),
    (
        "View",
        (
            ("+ / -", "zoom in / out"),
            ("f", "fit to the viewport"),
            ("0 / =", "one image pixel per screen pixel (1:1)"),
            ("Shift+H J K L, Ctrl+arrows", "pan"),
            ("r / R", "rotate 90° clockwise / anticlockwise"),
            ("h / v", "flip horizontally / vertically"),
            ("x", "reset window, zoom, pan, rotation, flips"),
        ),
    ),
    (
        "Information",
        (
            ("c", "probe cursor: pixel value (HU for CT); arrows move it, c/Esc ends"),
            ("o", "hide / show the overlays"),
            ("m", "mask / unmask patient identity"),
            ("t", "tag browser (searchable, sequences included)"),
            ("?", "this help"),
            ("Escape, Backspace", "back to the browser"),
        ),
    ),
)

TAG_KEYS: tuple[Section, ...] = (
    (
        "Tags",
        (
            ("type", "search tag numbers, keywords, VRs and values (all words must match)"),
            ("Enter", "from the search: to the tree"),
            ("/", "back to the search"),
            ("e", "expand every sequence"),
            ("Escape", "back to the viewer"),
        ),
    ),
)

SCREEN_KEYS = {"browser": BROWSER_KEYS, "viewer": VIEWER_KEYS, "tags": TAG_KEYS}
