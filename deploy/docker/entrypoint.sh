#!/bin/sh
# The image's entrypoint: upgrade the schema, then become the server. `exec` makes
# `slychat serve` the container's main process, so the SIGTERM of `docker stop` reaches it
# and it drains before exiting. Arguments are passed on (`docker run slychat --workers 4`).
set -eu
slychat migrate
exec slychat serve "$@"
