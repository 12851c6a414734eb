"""The model registry API (C6): every front door (fluent, magics, CLI, REST) calls this.

:class:`RegistryClient` wraps a :class:`jupyter_mlops.client.Client`: model files go to its
content-addressed blob store, rows to :class:`~jupyter_mlops.store.registry.RegistryStore`, the
version's origin to the lineage graph (``run:<id> → model:<name>/<version>``). Identity: an
explicit ``user=`` (the Jupyter server passes its authenticated user), else ``MLOPS_USER`` or
the OS user. The reproducibility check of the promotion gates is handed in by whoever builds
the registry (``Client.registry`` binds it to the Client's store); this module imports no
other component.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import current_user
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import gates, run_artifacts
from jupyter_mlops.registry.flavors import (
    AUTO_TRUST_PREFIXES,
    flavor_for_file,
    get_flavor,
    save_model,
)
from jupyter_mlops.registry.loaded import LoadedModel
from jupyter_mlops.registry.metadata import RegistryMetadata
from jupyter_mlops.registry.signature import example_to_json, infer_signature, to_signature
from jupyter_mlops.store.registry import check_alias, check_model_name
from jupyter_mlops.store.registry_records import (
    AliasRecord,
    AuditRecord,
    ModelVersionRecord,
    PromotionRecord,
    RegisteredModelRecord,
    RoleRecord,
)
from jupyter_mlops.validation import ascii_digits, check_int64, parse_int

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RegistryBacking

_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[^/@]+))?")
_RUNS_URI = re.compile(r"runs:/(?P<run>[0-9a-f]{32})/(?P<artifact>.+)")


def parse_model_ref(ref: str) -> tuple[str, str | None, int | None]:
    """``models:/m@champion``, ``models:/m/3``, ``models:/m`` (latest), or ``m@a`` / ``m/3``.

    Returns ``(name, alias, version)``; both None means the latest version.
    """
    if not isinstance(ref, str):
        raise InvalidInputError(f"A model reference is a string like 'models:/NAME@ALIAS'; "
                                f"got {type(ref).__name__}.")
    text = ref if ref.startswith("models:/") else f"models:/{ref}"
    m = _MODELS_URI.fullmatch(text)
    if not m:
        raise InvalidInputError(
            f"{ref!r} is not a model URI: use 'models:/NAME@ALIAS', 'models:/NAME/VERSION' or "
            "'models:/NAME/latest'.")
    name, alias, version = m["name"], m["alias"], m["version"]
    check_model_name(name)
    if version is None or version == "latest":
        return name, alias and check_alias(alias), None
    return name, None, parse_int(version, f"version in {ref!r} (1, 2, …)", 1)


def _run_id(run: Any) -> str | None:
    if run is None:
        return None
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise InvalidInputError(f"run must be a run id, a run record or an active run; got "
                                f"{type(run).__name__}.")
    return run_id


class RegistryClient(RegistryMetadata):
    """Register, alias, load, promote and govern models in one store.

    Parameters
    ----------
    client : jupyter_mlops.client.Client
        The store to use (its blob store holds the model files).
    reproduce_check : ReproduceCheck, optional
        What the ``require_reproduced`` gate asks: ``check(run_id) -> ok | (ok, detail)``,
        about a run in ``client``'s store. Without one that gate fails, saying so.
        ``Client.registry`` passes the pipelines component's check bound to the Client.
    """

    def __init__(self, client: RegistryBacking, *,
                 reproduce_check: gates.ReproduceCheck | None = None, notify: Any = None):
        self.client = client
        self.store = client.stores.registry  # the Client's own, built once
        self.reproduce_check = reproduce_check
        # (event, data) -> None, handed in by the Client (its webhooks); never raises.
        self.notify = notify or (lambda event, data: None)

    # ================================================================== registering
    def register_model(
        self, model: Any, name: str, *, run: Any = None, signature: Any = None,
        input_example: Any = None, description: str | None = None, trusted: bool = False,
        trusted_types: list[str] | None = None, flavor: str | None = None,
        user: str | None = None,
    ) -> ModelVersionRecord:
        """Store ``model`` as the next version of ``name``.

        Parameters
        ----------
        model : object or str
            A fitted scikit-learn estimator/pipeline (saved with skops; decision trees,
            random forests and extra-trees in the faster ``sklearn-trees`` format), any
            object with ``predict`` when ``trusted=True`` (pickled), or
            ``"runs:/<run_id>/<artifact>"`` naming a model file a run logged (registered as
            is; not loaded), or the folder autologging wrote (``runs:/<run_id>/model``: the
            file its ``model.json``/``lightning.json`` names). A LightGBM/XGBoost model
            autologging or ``log_model`` wrote (``model/lightgbm.txt``,
            ``model/xgboost.json``; also an XGBoost ``.ubj``) is registered with the wrapper
            class, labels and constructor params from the ``model.json`` beside it, so it
            loads back as that scikit-learn wrapper (a bare booster file loads as the
            library's ``Booster``). Lightning autolog's weights
            (``model/model.safetensors``, ``model/state_dict.pt``) are registered with the
            hparams from the ``lightning.json`` beside them (flavor ``lightning``).
        name : str
            Model name; created on first registration.
        run : run id, run record or active run, optional
            The run that produced the model: its metrics are copied onto the version and the
            lineage links ``run → model``. A ``runs:/`` URI implies its run.
        signature : Signature, dict, DataFrame or array, optional
            The expected input, or training data to infer it from. Default: inferred from
            ``input_example``.
        input_example : DataFrame, dict or array, optional
            A few input rows, stored with the version (first 5 rows).
        description : str, optional
        trusted : bool
            Allow a pickle/joblib file (runs code when loaded). Default False.
        trusted_types : list of str, optional
            Types outside skops' default trusted set that you vouch for (recorded on the
            version, so loading it trusts them). Types from scikit-learn, NumPy and SciPy
            found in a file written here from your in-memory model are recorded without
            asking; a ``runs:/`` file's types must all be named here.
        flavor : str, optional
            Override the format chosen from the model / file: ``skops``, ``sklearn-trees``,
            ``lightgbm``, ``xgboost``, ``lightning`` (a torch module's weights and hparams),
            ``pickle`` or ``joblib``. Left unset, a tree model that ``sklearn-trees`` cannot
            store exactly is saved with skops.
        user : str, optional
            Who registers (default ``MLOPS_USER`` or the OS user).

        Returns
        -------
        ModelVersionRecord

        Raises
        ------
        InvalidInputError
            Bad name, an unsupported model without ``trusted=True``, untrusted types not
            vouched for, or a signature/example that cannot be read.
        NotFoundError
            The run or the ``runs:/`` artifact does not exist.
        CorruptArtifactError
            The ``runs:/`` artifact's blob no longer matches its hash.
        """
        check_model_name(name)
        user = user or current_user()
        vouched = set(trusted_types or [])
        sig = to_signature(signature)
        example = example_to_json(input_example) if input_example is not None else None
        if sig is None and input_example is not None:
            sig = infer_signature(input_example)
        if isinstance(model, str):
            m = _RUNS_URI.fullmatch(model)
            if not m:
                raise InvalidInputError(
                    f"{model!r} is not a model: pass a fitted model object or "
                    "'runs:/<32-hex run id>/<artifact name>'.")
            if run is not None and _run_id(run) != m["run"]:
                raise InvalidInputError(f"run= disagrees with the run in {model!r}.")
            run_id = m["run"]
            metrics = self._run_metrics(run_id)
            name_in_run, artifact = run_artifacts.model_file(self.client, run_id,
                                                             m["artifact"])
            data = self.client.store.blobs.get_bytes(artifact.digest)  # verified
            chosen = flavor_for_file(data, name_in_run, flavor, trusted)
            saved = chosen.inspect(data)
            self._check_vouched(saved.untrusted_types, vouched, auto=False)
            digest, size = artifact.digest, artifact.size
            if chosen.reads_description:
                saved = chosen.with_description(saved, run_artifacts.description_beside(
                    self.client, run_id, name_in_run, chosen.description_file))
                if saved.data is not data:  # the file plus what the run says it is
                    info = self.client.store.blobs.put_bytes(saved.data)
                    digest, size = info.digest, info.size
        else:
            run_id = _run_id(run)
            metrics = self._run_metrics(run_id) if run_id else {}
            chosen, saved = save_model(model, flavor, trusted)
            self._check_vouched(saved.untrusted_types, vouched, auto=True)
            info = self.client.store.blobs.put_bytes(saved.data)
            digest, size = info.digest, info.size
        return self._create_version(
            name, digest, size, chosen, saved, signature=sig.to_dict() if sig else None,
            input_example=example, metrics=metrics, description=description, run_id=run_id,
            user=user, trusted=trusted)

    def register_file(self, data: bytes, name: str, *, flavor: str, run: Any = None,
                      description: str | None = None, user: str | None = None
                      ) -> ModelVersionRecord:
        """Store ``data``, a model file already in one of this registry's safe flavors, as
        the next version of ``name`` — what the MLflow door makes of an MLflow lightgbm or
        xgboost model folder. The file goes through the flavor's own checks (its header;
        the library's parser when it is installed: a data format, never code); a flavor
        that runs code when loaded is refused.

        Raises
        ------
        InvalidInputError
            A bad name, an unknown or unsafe flavor, or a file that is not of that flavor.
        NotFoundError
            ``run`` does not exist.
        """
        check_model_name(name)
        chosen = get_flavor(flavor)
        if not chosen.safe:
            raise InvalidInputError(f"register_file takes files of safe flavors, not "
                                    f"{flavor!r}: register a {flavor} file with "
                                    "register_model(..., trusted=True).")
        saved = chosen.inspect(data)
        self._check_vouched(saved.untrusted_types, set(), auto=False)
        run_id = _run_id(run)
        metrics = self._run_metrics(run_id) if run_id else {}
        info = self.client.store.blobs.put_bytes(data)
        return self._create_version(name, info.digest, info.size, chosen, saved,
                                    metrics=metrics, description=description, run_id=run_id,
                                    user=user or current_user(), trusted=False)

    def _create_version(self, name: str, digest: str, size: int, chosen: Any, saved: Any, *,
                        metrics: dict[str, float], description: str | None,
                        run_id: str | None, user: str, trusted: bool,
                        signature: dict | None = None, input_example: Any = None
                        ) -> ModelVersionRecord:
        """The version row for a stored file, its lineage edge and its notification."""
        version = self.store.create_version(
            name, digest=digest, size=size, flavor=chosen.name, model_class=saved.model_class,
            trusted_types=list(saved.untrusted_types), signature=signature,
            input_example=input_example, metrics=metrics, description=description,
            run_id=run_id, user=user,
            details={"trusted": bool(trusted)} if not chosen.safe else None)
        if run_id:
            self.client.store.lineage.add_edge("run", run_id, "model",
                                               f"{name}/{version.version}", "produced")
            self.notify("model.registered", {"model": name, "version": version.version,
                                             "run_id": run_id})
        return version

    def _run_metrics(self, run_id: str) -> dict[str, float]:
        self.client.flush()  # metrics logged just before registering are buffered
        return dict(self.client.store.runs.get_run(run_id).metrics)

    @staticmethod
    def _check_vouched(untrusted: tuple[str, ...], vouched: set[str], *, auto: bool) -> None:
        missing = [t for t in untrusted if t not in vouched
                   and not (auto and t.startswith(AUTO_TRUST_PREFIXES))]
        if missing:
            raise InvalidInputError(
                f"The model file references types outside the trusted set: "
                f"{', '.join(missing)}. Loading them could run code. If you trust them, "
                f"register with trusted_types={missing!r}; every later load will trust them.")

    # ================================================================== reading
    def get_model(self, name: str) -> RegisteredModelRecord:
        return self.store.get_model(name)

    def list_models(self) -> list[RegisteredModelRecord]:
        return self.store.list_models()

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        return self.store.list_versions(name)

    def get_version(self, name: str, version: int | str | None = None) -> ModelVersionRecord:
        """Version ``version`` of ``name`` (an int, an alias, or None for the latest)."""
        if version is None or version == "latest":
            return self.store.get_latest_version(name)
        if isinstance(version, str):
            if not ascii_digits(version):
                return self.store.get_version_by_alias(name, version)
            return self.store.get_version(name, parse_int(version, "model version", 1))
        return self.store.get_version(name, check_int64(version, "model version"))

    def resolve(self, uri: str) -> ModelVersionRecord:
        """The version a ``models:/`` URI names."""
        name, alias, version = parse_model_ref(uri)
        if alias is not None:
            return self.store.get_version_by_alias(name, alias)
        return self.get_version(name, version)

    def load_model(self, uri: str, *, trusted: bool = False,
                   trusted_types: list[str] | None = None, module: Any = None) -> LoadedModel:
        """Load ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``, verified against its hash.

        Parameters
        ----------
        uri : str
        trusted : bool
            Needed to load a pickle/joblib version.
        trusted_types : list of str, optional
            Extra skops types to trust (beyond skops' defaults and those recorded on the
            version at registration).
        module : torch.nn.Module subclass or instance, optional
            For a ``lightning`` version: your LightningModule class, built as
            ``module(**hparams)`` with the hparams recorded with the weights, or a module
            you built; the weights are loaded into it strictly (``load_state_dict(...,
            strict=True)``) and ``.model`` is that module. Without it ``.model`` is the state
            dict (a dict of tensors): the file names its module's class, but importing a
            class an artifact names would run code chosen by whoever wrote the artifact, so
            the class only ever comes from you. Refused for other flavors.

        Returns
        -------
        LoadedModel
            ``.predict`` checks the signature; ``.model`` is the raw object.

        Raises
        ------
        NotFoundError
            Unknown model, version or alias, or the blob is gone.
        CorruptArtifactError
            The file no longer matches its hash (nothing is loaded).
        InvalidInputError
            Loading needs more trust than given (names the refused types); ``module=`` for a
            version that is not ``lightning``, or weights or hparams that do not fit it.
        """
        version = self.resolve(uri)
        data = self.client.store.blobs.get_bytes(version.digest)  # verified before loading
        chosen = get_flavor(version.flavor)
        if module is not None:
            return LoadedModel(chosen.load_into(data, module), version)
        model = chosen.load(
            data, trusted=trusted, trusted_types=[*version.trusted_types, *(trusted_types or [])])
        return LoadedModel(model, version)

    # ================================================================== aliases
    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None,
                  user: str | None = None) -> AliasRecord:
        """Point ``alias`` at ``version`` (atomic; the previous target is kept in the audit log).

        Raises
        ------
        NotFoundError
            Unknown model or version.
        PermissionDeniedError
            The alias is protected by the model's policy and ``user`` lacks ``set_alias``.
        ConflictError
            A promotion gate refused (the verdict is in the audit log).
        """
        check_alias(alias)
        user = user or current_user()
        policy = self.store.get_model(name).gate_policy
        gate = self._gate(name, alias, version, policy)
        moved = self.store.set_alias(
            name, alias, version, user=user, reason=reason, gate=gate,
            require="set_alias" if gates.is_protected(policy, alias) else None)
        self.notify("model.promoted", {"model": name, "version": version, "alias": alias,
                                       "by": user})
        return moved

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None,
                     user: str | None = None) -> int:
        """Remove ``alias``; returns the version it pointed at."""
        check_alias(alias)
        policy = self.store.get_model(name).gate_policy
        return self.store.delete_alias(
            name, alias, user=user or current_user(), reason=reason,
            require="set_alias" if gates.is_protected(policy, alias) else None)

    def delete_version(self, name: str, version: int, *, reason: str | None = None,
                       user: str | None = None) -> None:
        """Delete one version (needs ``manage``; refused while an alias points at it)."""
        self.store.delete_version(name, version, user=user or current_user(), reason=reason)

    def delete_model(self, name: str, *, reason: str | None = None,
                     user: str | None = None) -> int:
        """Delete a model and its versions (needs ``manage``; refused while it has aliases)."""
        return self.store.delete_model(name, user=user or current_user(), reason=reason)

    def alias_history(self, name: str, alias: str | None = None) -> list[AuditRecord]:
        """Every move of ``name``'s aliases (or just ``alias``), oldest first."""
        return self.store.alias_history(name, alias)

    def _gate(self, name: str, alias: str, version: int, policy: dict | None):
        reproduced = None
        if gates.is_gated(policy, alias) and policy.get("require_reproduced"):
            # Before the transaction: the hook may take long, and must not hold a write lock.
            reproduced = gates.check_reproduced(self.store.get_version(name, version),
                                                self.reproduce_check)
        return functools.partial(gates.evaluate, alias=alias, reproduced=reproduced)

    # ================================================================== promotion
    def propose(self, name: str, version: int, alias: str = "champion", *,
                reason: str | None = None, user: str | None = None) -> PromotionRecord:
        """Ask for ``alias`` to point at ``version`` (needs the ``propose`` action)."""
        request = self.store.create_promotion(name, version, alias,
                                              user=user or current_user(), reason=reason)
        self.notify("model.proposed", {"model": name, "version": version, "alias": alias,
                                       "request": request.id, "by": request.proposed_by})
        return request

    def approve(self, request_id: int, *, reason: str | None = None,
                user: str | None = None) -> PromotionRecord:
        """Approve a pending request: the alias moves if the model's gates pass.

        Raises
        ------
        PermissionDeniedError
            ``user`` lacks the ``approve`` action (nothing changes).
        ConflictError
            The request is not pending, or a gate refused (the request stays pending and the
            verdict is in the audit log and on the request).
        """
        req = self.store.get_promotion(request_id)
        policy = self.store.get_model(req.name).gate_policy
        gate = self._gate(req.name, req.alias, req.version, policy)
        decided = self.store.decide_promotion(request_id, approve=True, gate=gate,
                                              user=user or current_user(), reason=reason)
        self.notify("model.promoted", {"model": decided.name, "version": decided.version,
                                       "alias": decided.alias, "request": decided.id,
                                       "by": decided.decided_by})
        return decided

    def reject(self, request_id: int, *, reason: str | None = None,
               user: str | None = None) -> PromotionRecord:
        """Reject a pending request (needs the ``approve`` action)."""
        return self.store.decide_promotion(request_id, approve=False,
                                           user=user or current_user(), reason=reason)

    def list_promotions(self, name: str | None = None,
                        status: str | None = None) -> list[PromotionRecord]:
        return self.store.list_promotions(name, status)

    def set_gate_policy(self, name: str, policy: dict | None, *, reason: str | None = None,
                        user: str | None = None) -> RegisteredModelRecord:
        """Set the model's promotion gates (see :mod:`jupyter_mlops.registry.gates`)."""
        return self.store.set_gate_policy(name, gates.validate_policy(policy),
                                          user=user or current_user(), reason=reason)

    # ================================================================== roles and audit
    def grant_role(self, user: str, role: str, *, by: str | None = None) -> RoleRecord:
        """Give ``user`` a role (needs ``manage``).

        Until the first grant a store is single-user: whoever uses it holds every role, so
        ``propose``, ``approve`` and moving a protected alias need no grant. The first grant
        makes roles matter from then on (see :meth:`roles_apply`); grant yourself a role
        first (e.g. ``admin``) before granting others one.
        """
        return self.store.grant_role(user, role, by=by or current_user())

    def revoke_role(self, user: str, role: str, *, by: str | None = None) -> None:
        self.store.revoke_role(user, role, by=by or current_user())

    def roles_apply(self) -> bool:
        """Whether roles are checked: False until the first role is granted in this store."""
        return self.store.roles_apply()

    def list_roles(self, user: str | None = None) -> list[RoleRecord]:
        return self.store.list_roles(user)

    def permissions(self) -> dict[str, list[str]]:
        return self.store.permissions()

    def allowed_actions(self, user: str | None = None) -> list[str]:
        """The registry actions ``user``'s roles grant (``propose``, ``approve``, …).

        What a front door needs to offer only the buttons that will work; the checks that
        count are still made inside each change's transaction.
        """
        from jupyter_mlops.store.registry import ACTIONS

        user = user or current_user()
        return [a for a in ACTIONS if self.store.may(user, a)]

    def set_permission(self, role: str, action: str, allowed: bool = True, *,
                       by: str | None = None) -> dict[str, list[str]]:
        return self.store.set_permission(role, action, allowed, by=by or current_user())

    def audit_log(self, name: str | None = None, limit: int | None = 200) -> list[AuditRecord]:
        """Registry audit events (of model ``name`` if given), newest first."""
        if name is not None:
            return self.store.audit_log("model", check_model_name(name), limit=limit)
        return self.store.audit_log(limit=limit)

    # ================================================================== reports
    def model_card(self, name: str, version: int | str | None = None):
        """A :class:`~jupyter_mlops.registry.cards.ModelCard` (Markdown and HTML)."""
        from jupyter_mlops.registry.cards import build_card

        return build_card(self, name, version)

    def compare_models(self, name: str, versions: list[int] | None = None,
                       metrics: list[str] | None = None):
        """``(table, figure)`` of the metrics per version; see :mod:`.compare`."""
        from jupyter_mlops.registry.compare import compare_models

        return compare_models(self, name, versions, metrics)

    def referenced_digests(self) -> set[str]:
        return self.store.referenced_digests()
