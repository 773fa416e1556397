"""State schema versions: known migrations run, newer or unreachable versions are refused."""

from __future__ import annotations

import pytest

from ml4t_live_core.state import (
    STATE_SCHEMA_VERSION,
    RiskState,
    StateSchemaError,
    migrate_state_dict,
)


def test_a_migration_table_upgrades_older_states_step_by_step() -> None:
    def v1_to_v2(data: dict) -> dict:
        data = dict(data)
        data["orders_total"] = data.pop("order_count")
        return {**data, "schema_version": 2}

    def v2_to_v3(data: dict) -> dict:
        return {**data, "schema_version": 3, "extra": {"migrated": True}}

    old = {"schema_version": 1, "order_count": 7}
    assert migrate_state_dict(old, {1: v1_to_v2, 2: v2_to_v3}, current=3) == {
        "schema_version": 3,
        "orders_total": 7,
        "extra": {"migrated": True},
    }


def test_a_version_with_no_migration_path_is_refused() -> None:
    with pytest.raises(StateSchemaError, match="schema_version 1 has no migration to 2"):
        migrate_state_dict({"schema_version": 1}, {}, current=2)


@pytest.mark.parametrize("version", [STATE_SCHEMA_VERSION + 1, 999])
def test_a_newer_version_is_refused_not_guessed(version: int) -> None:
    data = {**RiskState().to_dict(), "schema_version": version}
    with pytest.raises(StateSchemaError, match="newer than this runtime reads"):
        RiskState.from_dict(data)


@pytest.mark.parametrize("version", [None, "1", True, 1.0])
def test_a_missing_or_non_integer_version_is_refused(version: object) -> None:
    with pytest.raises(StateSchemaError, match="is not an integer"):
        migrate_state_dict({"schema_version": version})


def test_a_migration_that_forgets_to_bump_the_version_is_refused() -> None:
    with pytest.raises(StateSchemaError, match="did not produce 2"):
        migrate_state_dict({"schema_version": 1}, {1: lambda d: d}, current=2)
