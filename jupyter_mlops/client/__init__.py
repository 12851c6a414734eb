"""The explicit client: the one API every front door (fluent functions, magics, REST, CLI) calls.

One module per facet: tracking is :mod:`.runs` (assembled from :mod:`.metrics`,
:mod:`.artifacts`, :mod:`.datasets`, :mod:`.snapshots`, :mod:`.reads`), the Client itself and
its other facets are in :mod:`.core`, garbage collection in :mod:`.maintenance`.
"""

from jupyter_mlops.client.core import Client
from jupyter_mlops.client.maintenance import GcReport
from jupyter_mlops.client.runs import RunsClient

__all__ = ["Client", "GcReport", "RunsClient"]
