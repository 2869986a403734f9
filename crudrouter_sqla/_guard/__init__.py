"""Who may see which rows: the one place that decides it.

Entry points: `Tenancy` (a tenant column declared once, applied to every model that has it),
`Visibility` (what one request may see, for any model it reaches: `Visibility.where`), and the
model facts every router shares (`declare_soft_delete`, `soft_delete_of`).
"""

from ._rules import check_soft_delete, declare_soft_delete, soft_delete_of
from ._tenancy import Tenancy
from ._visibility import Visibility

__all__ = [
    "Tenancy",
    "Visibility",
    "check_soft_delete",
    "declare_soft_delete",
    "soft_delete_of",
]
