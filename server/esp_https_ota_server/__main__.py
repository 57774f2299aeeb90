"""`python -m esp_https_ota_server FILE_OR_DIR [options]`: see cli.py."""

from .cli import main

raise SystemExit(main())
