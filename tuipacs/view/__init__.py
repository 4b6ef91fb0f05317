"""The viewer's model, without Textual: what the viewer shows and how, as pure data and maths.

* :mod:`~tuipacs.view.frames`: decoded frames of a series (cached, decoded ahead) and the
  facts the overlays show (:mod:`~tuipacs.view.info`);
* :mod:`~tuipacs.view.state`: the viewer's state and the rules that change it;
* :mod:`~tuipacs.view.viewport`: orientation, zoom and pan (the one viewport model);
  :mod:`~tuipacs.view.labels`: patient direction labels of the image edges;
* :mod:`~tuipacs.view.render`: from a frame and a state to the array on screen (DCMTK's
  grey levels);
* :mod:`~tuipacs.view.layout`: where that array goes on a terminal's cell grid;
* :mod:`~tuipacs.view.overlay_text`, :mod:`~tuipacs.view.format`: the overlay texts;
  :mod:`~tuipacs.view.probe`: the pixel under the probe cursor and its value;
* :mod:`~tuipacs.view.export`: ``tuipacs render``, the same path written to a PNG;
* :mod:`~tuipacs.view.graphics`: terminal detection and the Kitty and Sixel encoders.

The Textual app (:mod:`tuipacs.app`) shows what these compute; a test checks that nothing
here imports Textual.
"""
