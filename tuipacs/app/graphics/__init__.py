"""The Textual side of terminal graphics: half-cell strips and the backends of the ImageView.

The Textual-free parts (terminal detection, Kitty and Sixel encoders) are
:mod:`tuipacs.view.graphics`.
"""
