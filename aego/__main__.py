from aego.cli import main

raise SystemExit(main())
