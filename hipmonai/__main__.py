import sys

from hipmonai.cli import main

sys.exit(main())
