"""MLflow's error shape, ``{"error_code": …, "message": …}``, and how ours map onto it.

The MLflow client reads ``error_code`` to decide what happened (``RESOURCE_ALREADY_EXISTS``
when ``register_model`` finds the model, ``RESOURCE_DOES_NOT_EXIST`` for a lookup), so the
codes follow MLflow's ``databricks.proto`` and the statuses its server sends for them.
"""

from __future__ import annotations

from jupyter_mlops.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    MlopsError,
    NotFoundError,
    PermissionDeniedError,
    http_status_for,
)

#: MLflow error code -> the HTTP status MLflow's server answers it with.
STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_STATE": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class MlflowApiError(Exception):
    """A refusal in MLflow's terms: raised by the route functions, rendered by the door."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def body(self) -> dict:
        return {"error_code": self.code, "message": self.message}


def not_found(message: str) -> MlflowApiError:
    return MlflowApiError("RESOURCE_DOES_NOT_EXIST", message)


def invalid(message: str) -> MlflowApiError:
    return MlflowApiError("INVALID_PARAMETER_VALUE", message)


def not_implemented(what: str) -> MlflowApiError:
    return MlflowApiError(
        "NOT_IMPLEMENTED",
        f"{what} is not supported by jupyter-mlops' MLflow API (see docs/mlflow.md).")


def from_library(exc: MlopsError) -> MlflowApiError:
    """Our exception tree -> MLflow's codes (the status table is still errors.ERROR_TABLE's)."""
    if isinstance(exc, NotFoundError):
        code = "RESOURCE_DOES_NOT_EXIST"
    elif isinstance(exc, AlreadyExistsError):
        code = "RESOURCE_ALREADY_EXISTS"
    elif isinstance(exc, InvalidInputError):
        code = "INVALID_PARAMETER_VALUE"
    elif isinstance(exc, PermissionDeniedError):
        code = "PERMISSION_DENIED"
    elif isinstance(exc, ConflictError):
        code = "INVALID_STATE"
    else:
        status = http_status_for(exc)
        code = {503: "TEMPORARILY_UNAVAILABLE", 501: "NOT_IMPLEMENTED"}.get(
            status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return MlflowApiError(code, str(exc))
