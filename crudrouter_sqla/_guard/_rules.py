"""Facts of a model that hold wherever a request reaches it, whichever router serves it.

Soft delete is one: a row marked deleted is invisible as a parent, a reference, an embed or the
end of a relationship path, not only on its own router. A router built over a model with
``soft_delete=`` declares it for the model, for every router of the process that reaches the
model; a router that names another column for the same model is refused, and so is one whose
soft delete sets other columns beside the mark (``soft_delete_values``), since a restore through
either must clear what a delete through the other wrote. (A router over the model without
``soft_delete=`` serves its rows plainly: an admin's view of every row.)
"""

from __future__ import annotations

import weakref
from typing import Any

from .._model import SoftDelete
from ..errors import ConfigurationError

_SOFT: weakref.WeakKeyDictionary[type[Any], SoftDelete] = weakref.WeakKeyDictionary()


def declare_soft_delete(model: type[Any], soft: SoftDelete) -> None:
    """Record that rows of ``model`` are soft-deleted through ``soft``; `ConfigurationError`
    when another router declared another column, or other columns that a soft delete sets
    beside it."""
    check_soft_delete(model, soft)
    known = _SOFT.get(model)
    if known is not None and known.keys != soft.keys:
        mine, theirs = sorted(soft.keys - {soft.key}), sorted(known.keys - {known.key})
        raise ConfigurationError(
            f"soft_delete_values sets {mine or 'no columns'} for {model.__name__}, but another "
            f"router's soft delete sets {theirs or 'no columns'}; every router over the model "
            f"must set the same columns, so that a restore clears what any delete wrote"
        )
    _SOFT[model] = soft


def check_soft_delete(model: type[Any], soft: SoftDelete) -> None:
    """`ConfigurationError` when another router declared another soft-delete column for
    ``model``."""
    known = _SOFT.get(model)
    if known is not None and known.key != soft.key:
        raise ConfigurationError(
            f"soft_delete={soft.key!r} contradicts soft_delete={known.key!r}, which another "
            f"router declared for {model.__name__}; soft delete is a fact of the model, so "
            f"every router over it must name the same column"
        )


def soft_delete_of(model: type[Any]) -> SoftDelete | None:
    """How rows of ``model`` are marked deleted, if a router declared it."""
    return _SOFT.get(model)
