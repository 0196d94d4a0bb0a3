"""`python -m spark_analytics.datagen ...`: see `spark_analytics.datagen.cli`."""

import sys

from spark_analytics.datagen.cli import main

sys.exit(main())
