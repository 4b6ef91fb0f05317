"""The DICOMweb face of ``tuipacs serve --http``: QIDO-RS, WADO-RS and STOW-RS over the archive.

Modules: ``settings`` (auth and limits from [serve] http_*), ``httpd`` (the HTTP layer on
http.server: worker pool, TLS, bounded reads, one-line errors, request log and audit),
``app`` (routes), ``qido`` (search through the DIMSE server's C-FIND matching), ``wado``
(instances as stored, metadata, bulk data), ``frames`` (frames and rendered images),
``stow`` (store through the DIMSE server's durable path), ``run`` (beside the DIMSE SCP).
No Textual here.
"""
