"""The feature store (C4): versioned feature views, point-in-time training sets, online values.

A component: it receives the store (``client.store``) and never picks one. Front doors reach
it through ``client.features`` (:mod:`jupyter_mlops.client.features`) or the fluent
``jupyter_mlops.features``. (The package is ``feature_store``, not ``features``: importing a
submodule ``jupyter_mlops.features`` would replace the fluent ``mlops.features`` attribute
on the package root with this module.) The modules, one concern each:

* :mod:`.frames` — a view's rows from its source, checked, in canonical order, hashed;
* :mod:`.timestamps` — event times (naive or UTC) and the errors that name the column;
* :mod:`.views` — registering a version; :mod:`.stats` — per-feature statistics;
* :mod:`.offline` — the rows as a content-addressed Parquet blob;
* :mod:`.join` — the point-in-time rules and the join; :mod:`.training` — training sets;
* :mod:`.online` — materialization into the online table and lookups by key.
"""
