"""The analysts' report: PNG charts and one offline HTML page built from the marts.

``make report`` (``python -m spark_analytics.report``) opens the project's metastore through
``spark_analytics.session.build_session``, reads the published marts with Spark SQL and writes
``reports/index.html`` plus ``reports/charts/*.png``. Every number printed on the page is a value
of a mart or a Spark SQL aggregate over one; Python only formats and draws.

Modules: ``data`` (the Spark SQL queries, one per section), ``charts`` (matplotlib, Agg backend),
``page`` (the Jinja2 page; images referenced relatively, nothing fetched at view time),
``cli`` (the command).
"""
