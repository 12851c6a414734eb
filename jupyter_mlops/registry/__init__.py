"""Model registry (C6): versions, aliases, safe model files, promotion by role, model cards.

Import what you need from the submodules (``api``, ``fluent``, ``cards``…); this package
imports nothing heavy so ``%load_ext jupyter_mlops`` stays fast.
"""
