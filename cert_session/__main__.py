from cert_session._cli import main

raise SystemExit(main())
