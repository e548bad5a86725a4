from dataclasses import dataclass

from checks.result import Finding, Observation, Result, State, worst


@dataclass(frozen=True)
class Counted(Observation):
    n: int


def test_worst_orders_critical_over_unknown_over_warning_over_ok() -> None:
    assert worst([State.OK, State.WARNING]) == State.WARNING
    assert worst([State.WARNING, State.UNKNOWN]) == State.UNKNOWN
    assert worst([State.UNKNOWN, State.CRITICAL, State.OK]) == State.CRITICAL
    assert worst([State.OK, State.OK]) == State.OK


def test_worst_of_nothing_is_ok() -> None:
    assert worst([]) == State.OK


def test_state_values_are_plugin_exit_codes() -> None:
    assert [s.value for s in (State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN)] == [
        0,
        1,
        2,
        3,
    ]


def test_result_from_findings_takes_worst_state_and_lists_worst_first() -> None:
    result = Result.from_findings(
        [Finding("x.slow", State.WARNING, "slow"), Finding("x.down", State.CRITICAL, "down")],
        "all fine",
        Counted(1),
    )
    assert result.state == State.CRITICAL
    assert result.summary == "down; slow"
    assert [f.id for f in result.findings] == ["x.slow", "x.down"]
    assert result.metrics == {"n": 1.0}


def test_result_without_findings_is_ok_with_its_summary() -> None:
    result = Result.from_findings([], "all fine")
    assert (result.state, result.summary, result.findings) == (State.OK, "all fine", ())
