import sys

from crossdomain.cli import main

sys.exit(main())
