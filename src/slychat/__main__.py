import sys

from slychat.cli import main

sys.exit(main())
