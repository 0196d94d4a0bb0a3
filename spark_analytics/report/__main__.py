from spark_analytics.report.cli import main

raise SystemExit(main())
