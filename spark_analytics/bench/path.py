"""The marts path every arm of `make bench` builds: its dbt selection and its output tables.

Staging -> intermediate -> quarantine -> marts (not the ML models): dbt selects it with
``DBT_SELECTION``; the PySpark job, DuckDB and the agreement check all produce or compare the
``OUTPUT_TABLES``, each with its key (its grain; none for the quarantine tables).
"""

from __future__ import annotations

DBT_SELECTION = (
    "+rpt_sales_by_segment",
    "+dim_customers",
    "+dim_merchants.v2",  # the latest version; v1 is a view over it, outside the path
    "+quarantine_transactions",
    "+quarantine_customers",
    "+quarantine_merchants",
)
OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "fct_purchases": ("transaction_id",),
    "rpt_sales_by_segment": ("purchase_segment",),
    "dim_customers": ("customer_id",),
    "dim_merchants": ("merchant_id",),
    "quarantine_transactions": (),
    "quarantine_customers": (),
    "quarantine_merchants": (),
}
OUTPUT_TABLES = tuple(OUTPUT_KEYS)
