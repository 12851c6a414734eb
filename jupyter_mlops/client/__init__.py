"""The explicit client: the one API every front door (fluent functions, magics, REST, CLI) calls.

One module per facet: tracking is :mod:`.runs` (assembled from :mod:`.metrics`,
:mod:`.artifacts`, :mod:`.datasets`, :mod:`.snapshots`, :mod:`.reads`), the Client itself and
its other facets are in :mod:`.core`, garbage collection in :mod:`.maintenance`.
"""

from jupyter_mlops.client.core import Client
from jupyter_mlops.client.maintenance import GcReport
from jupyter_mlops.client.runs import RunsClient
# The one validation layer lives in jupyter_mlops.validation; these names stay importable
# from here for existing callers.
from jupyter_mlops.validation import (  # noqa: F401
    INT64_MAX,
    INT64_MIN,
    MAX_KEY,
    MAX_PARAM_VALUE,
    check_key,
    check_run_id,
    check_step,
    check_timestamp,
    to_metric_value,
    to_param_value,
)

__all__ = ["Client", "GcReport", "RunsClient"]
