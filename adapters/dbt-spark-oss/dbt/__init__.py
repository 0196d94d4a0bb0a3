# Namespace package shared with dbt-core and the other adapters (same content as theirs).
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
