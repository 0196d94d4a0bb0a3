"""`python -m spark_analytics.cluster ...`: see `spark_analytics.cluster.cli`."""

import sys

from spark_analytics.cluster.cli import main

sys.exit(main())
