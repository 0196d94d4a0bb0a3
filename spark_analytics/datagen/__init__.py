"""Deterministic synthetic e-commerce data: transactions, customers, merchants.

Usage::

    python -m spark_analytics.datagen --rows 1000000 --seed 42 --out data/generated \\
        [--customers N] [--merchants M] [--months 6] [--start-date 2026-01-01] \\
        [--bad-rows K|auto] [--formats csv,json,parquet] [--chunk-rows 500000] [--entity-version 1]

Pure numpy / pyarrow, streamed: rows are generated and written one part file
(``--chunk-rows`` valid rows) at a time, so memory stays bounded whatever ``--rows`` is. The same
seed and arguments give byte-identical files; the valid rows do not depend on ``--chunk-rows``,
``--formats`` or ``--bad-rows``.

Output layout under ``--out`` (a contract other code relies on)::

    transactions/csv/part-00000.csv         header transaction_id,customer_id,merchant_id,
                                            purchase_amount,event_time; amount with 2 decimals,
                                            event_time 'yyyy-MM-dd HH:mm:ss' (UTC)
    transactions/json/part-00000.jsonl      same fields; purchase_amount a number
    transactions/parquet/part-00000.parquet strings, purchase_amount double,
                                            event_time timestamp[us, UTC]
    customers/customers.jsonl               customer_id, customer_name, email, country (ISO2),
                                            signup_date (yyyy-MM-dd)
    merchants/merchants.parquet             merchant_id, merchant_name (messy on purpose),
                                            category_code (from seeds/merchant_categories.csv),
                                            country
    manifest.json                           seed, resolved arguments, row counts per file,
                                            bad rows per (format, reason) and one entry per
                                            injected bad row; written last

``--entity-version N`` (default 1) writes version N of the customers and merchants files: version 1
after N - 1 deterministic change steps (attributes changed, some deleted, some restored, new ones
added; ``spark_analytics.datagen.versions``), listed in the manifest's ``entity_changes``; the
transactions are the same for every N, and version 1 is byte-identical to the output without the
flag. The snapshots (``snapshots/``) track these changes.

Ids: ``t000000000001`` (12 digits, in file order), ``c0000001``, ``m00001``; injected bad rows
use ``tbad00000001``... (see ``spark_analytics.datagen.badrows`` for the reasons; parquet gets
only the type-compatible ones: null_amount, negative_amount, duplicate_transaction_id,
unknown_merchant_id).

The latent model (hidden, but what makes the data learnable):

* Customer segment (budget 45% / regular 40% / premium 15%) sets a persistent spend level: the
  customer's mean log amount (segment mean + N(0, 0.3)). Each purchase's log amount is that level
  + the merchant category's offset (travel, jewelry, electronics high; restaurants, fuel low)
  + N(0, 0.55), plus 1.1 on 4% "splurges". Overall about 78% of amounts are <= 500, 14% in
  (500, 1000] and 7% > 1000; amounts are clipped to [1.00, 50000.00].
* Activity rate: lognormal x (1 + Pareto(1.6)), so a few customers are very active (the top 1% make
  about a fifth of all purchases). A customer buys only while active.
* Signup: 70% signed up in the two years before the window, 30% during it (active from then on).
* Churn: churn probability = logistic(-0.7 - 0.9 * standardised log activity + noise), so less
  active customers churn more. A churning customer gets a churn date 1 to (window days + 90) days
  after becoming active (uniform; so some churn only after the window) and never buys from then on.
* Purchases: the number of rows per day follows the total activity of the customers active that
  day x weekday factor (weekend peak) x slow growth x pay-day bumps; within a day times follow an
  hour-of-day profile (lunch and evening peaks). Each purchase's customer is drawn among the active
  customers proportionally to activity, its merchant by Zipf-like merchant popularity.
* So "no purchase in the 30 days after a cut-off" is predictable from recency / frequency (churned
  and low-activity customers), and "a purchase > 1000 in the 30 days after" from frequency and past
  amounts (spend level); both are noisy (logistic regression on RFM features: AUC about 0.85 and
  0.82 at 1M rows). ``customer_traits(config)`` returns the hidden traits for checks.

Rows are in time order up to a N(0, 10 min) jitter of each event time (roughly sorted).

Modules: ``config`` (arguments, limits, seeded streams), ``world`` (latent traits, the valid
row stream), ``entities``
(categories, names, countries), ``badrows`` (injected defects: plan and rendering),
``versions`` (later versions of the entities), ``writer`` (files and manifest), ``disk`` (the
free-space check before writing), ``cli`` (the command line).

Python API: ``DatagenConfig``, ``iter_transaction_chunks(config)`` (valid rows as pandas
DataFrames, exactly as written), ``write_dataset(config)`` (writes everything, returns the
manifest), ``customer_traits(config)``.
"""

from spark_analytics.datagen.cli import main, parse_args
from spark_analytics.datagen.config import DatagenConfig
from spark_analytics.datagen.world import customer_traits, iter_transaction_chunks
from spark_analytics.datagen.writer import write_dataset

__all__ = [
    "DatagenConfig",
    "customer_traits",
    "iter_transaction_chunks",
    "main",
    "parse_args",
    "write_dataset",
]
