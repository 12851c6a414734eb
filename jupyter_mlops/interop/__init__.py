"""Moving history between MLflow and this store: ``jupyter mlops import|export mlflow``.

:mod:`.mlflow_sources` reads an MLflow store (an ``mlruns/`` folder, a tracking database, a
tracking server) into plain records; :mod:`.mlflow_import` writes them in bulk into a store,
idempotently and resumably; :mod:`.mlflow_export` writes a store's runs back into MLflow.
"""
