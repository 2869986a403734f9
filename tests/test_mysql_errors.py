"""MySQL and MariaDB errors are translated from the driver's error numbers, as PostgreSQL's are
from SQLSTATEs: the same kinds, columns and wording."""

import pymysql
import pytest
from sqlalchemy import exc as sa_exc

from crudrouter_sqla.core import (
    ConstraintViolation,
    DatabaseUnavailable,
    InvalidValue,
    translate_error,
)


def wrapped(errno: int, message: str, statement: str = "INSERT INTO heroes (name) VALUES (%s)"):
    cls = pymysql.err.IntegrityError if errno < 2000 else pymysql.err.OperationalError
    orig = cls(errno, message)
    wrapper = (
        sa_exc.IntegrityError if cls is pymysql.err.IntegrityError else sa_exc.OperationalError
    )
    return wrapper(statement, ("x",), orig)


@pytest.mark.parametrize(
    ("errno", "message", "detail"),
    [
        (
            1062,
            "Duplicate entry 'Batman' for key 'name'",
            "Unique constraint violated: another row already has this name",
        ),
        (
            1062,
            "Duplicate entry 'Batman' for key 'heroes.name'",  # MySQL 8 names the table too
            "Unique constraint violated: another row already has this name",
        ),
        (
            1452,
            "Cannot add or update a child row: a foreign key constraint fails (`db`.`heroes`, "
            "CONSTRAINT `heroes_ibfk_1` FOREIGN KEY (`team_id`) REFERENCES `teams` (`id`))",
            "Foreign key constraint violated: team_id does not refer to an existing row",
        ),
        (
            1451,
            "Cannot delete or update a parent row: a foreign key constraint fails (...)",
            "Foreign key constraint violated: the row is still referenced by other rows",
        ),
        (
            1048,
            "Column 'secret_name' cannot be null",
            "Not null constraint violated: secret_name must not be null",
        ),
        (
            4025,
            "CONSTRAINT `ck_heroes_age_nonnegative` failed for `db`.`heroes`",
            "Check constraint violated: ck_heroes_age_nonnegative",
        ),
        (
            3819,
            "Check constraint 'ck_heroes_age_nonnegative' is violated.",
            "Check constraint violated: ck_heroes_age_nonnegative",
        ),
    ],
    ids=["unique", "unique-mysql8", "fk", "referenced", "not-null", "check-mariadb", "check-mysql"],
)
def test_constraint_violations(errno, message, detail):
    error = translate_error(wrapped(errno, message))
    assert isinstance(error, ConstraintViolation)
    assert error.detail == detail
    assert "Batman" not in error.detail


def test_named_unique_keys_are_resolved_from_the_table():
    from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint

    table = Table(
        "members",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("team_id", Integer),
        Column("name", String(10)),
        UniqueConstraint("team_id", "name", name="uq_member"),
    )
    error = translate_error(wrapped(1062, "Duplicate entry '1-x' for key 'uq_member'"))
    assert isinstance(error, ConstraintViolation)
    assert error.detail == "Unique constraint violated: uq_member"
    error.resolve(table)
    assert error.detail == "Unique constraint violated: another row already has this team_id, name"


@pytest.mark.parametrize(
    ("errno", "expected"),
    [
        (1406, InvalidValue),
        (1264, InvalidValue),
        (1205, DatabaseUnavailable),
        (1969, DatabaseUnavailable),
        (1213, DatabaseUnavailable),
        (2013, DatabaseUnavailable),
    ],
)
def test_other_errors(errno, expected):
    cls = pymysql.err.DataError if expected is InvalidValue else pymysql.err.OperationalError
    wrapper = sa_exc.DataError if expected is InvalidValue else sa_exc.OperationalError
    error = translate_error(wrapper("UPDATE heroes SET age=%s", (1,), cls(errno, "...")))
    assert isinstance(error, expected), error
