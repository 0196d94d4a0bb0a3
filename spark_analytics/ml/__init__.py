"""Customer purchase-propensity model on Spark MLlib, as pure DataFrame functions.

The dbt models under ``models/ml`` are thin wrappers around these functions; everything here
runs on a classic SparkSession and over Spark Connect (no RDD API, no ``sparkContext``).

* ``features``: per-customer RFM / category-mix / tenure features as of a snapshot date, from
  purchases strictly before it (the Python twin of ``models/ml/ml_customer_features.sql``).
* ``labels``: what the customer did in the horizon after the snapshot date.
* ``training``: time-based split, ``Pipeline([VectorAssembler, StandardScaler,
  LogisticRegression])``, metrics, deterministic model version, versioned save.
* ``scoring``: load the latest saved model and score customers.
* ``synthetic``: test/benchmark data (from ``spark_analytics.datagen`` or random features);
  the benchmark itself is ``spark_analytics.bench.ml``.
"""
