from insolegen.cli.main import main

raise SystemExit(main())
