"""The image's HEALTHCHECK: exit 0 when this container's slychat answers GET /healthz."""

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('SLYCHAT_PORT', '8000')}/healthz"

try:
    with urllib.request.urlopen(URL, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"{URL}: {exc}", file=sys.stderr)
    sys.exit(1)
