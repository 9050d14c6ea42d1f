"""`python -m bot` runs the bot."""

import sys

from bot.cli import main

sys.exit(main())
