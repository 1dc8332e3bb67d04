import sys

from slychat.cli.main import main

sys.exit(main())
