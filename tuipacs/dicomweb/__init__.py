"""DICOMweb: QIDO-RS search, WADO-RS retrieve and STOW-RS store over HTTP(S).

Modules: ``http`` (one session per node: TLS always verified, auth, timeouts, bounded
answers, every failure as one line), ``qido`` (queries and DICOM JSON -> rows), ``multipart``
(a streaming multipart/related reader), ``wado`` (a retrieve into the archive), ``stow``
(a send), ``diagnose`` (what a failure means, for ``node check``).

Why urllib3 and not dicomweb-client: dicomweb-client's retrieve returns pydicom datasets,
the whole study in memory (``retrieve_study``) or parsed one by one (``iter_study``); either
way each instance is decoded and would be written back re-encoded, not byte for byte as the
archive sent it, and nothing bounds what a server sends. Its store takes datasets too, so
``send`` could not send files as stored without parsing them whole. What tuipacs needs of
DICOMweb is a small part of it (a few GETs, one POST, one multipart format), so it speaks
it over urllib3 (the HTTP library under requests), where an answer is read a chunk at a
time into a staging file, every size is checked before it is taken, and each error of the
network or the server can be told apart for ``node check``.

pydicom loads only when a query's keywords are checked or a send reads its files.
"""
