from reelgate.cli import main

raise SystemExit(main())
