#!/usr/bin/env bash
# The project's test command: lint, type-check, the whole test suite on the default (fast)
# transport, then the retrieve, server and send tests again on pynetdicom's own (stock)
# transport (TUIPACS_TRANSPORT=stock, see tuipacs/dicom/transport).
# Run it from anywhere after `pip install -e '.[test]'`; extra arguments go to pytest (both
# passes; test paths given replace the directories of the second pass).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
mypy
TUIPACS_TRANSPORT=fast python -m pytest "$@"
paths=(tests/net tests/serve tests/send tests/unit/test_dicom_transport.py)
# the hostile-file import and render of tests/serve use no network: once is enough
offline=(--deselect tests/serve/test_hostile_files.py::test_import_of_hostile_files
         --deselect tests/serve/test_hostile_files.py::test_render_of_hostile_files)
for arg in "$@"; do
    if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
        paths=()
        break
    fi
done
echo "--- again on the stock transport (TUIPACS_TRANSPORT=stock)"
if ((${#paths[@]})); then
    TUIPACS_TRANSPORT=stock python -m pytest "${paths[@]}" "${offline[@]}" "$@"
else
    TUIPACS_TRANSPORT=stock python -m pytest "$@"
fi
