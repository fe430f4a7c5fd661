"""The alarm evaluator the tests use where moto evaluates nothing (tests/localcloud/alarm_evaluation.py)."""
from __future__ import annotations

import pytest

from tests.localcloud.alarm_evaluation import alarm_values, breaching, state

SINGLE = {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Dimensions": [], "Statistic": "Average",
          "Period": 300, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 80.0,
          "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "missing"}


def _stat(metric_id: str, name: str) -> dict:
    return {"Id": metric_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": "N", "MetricName": name, "Dimensions": []}, "Period": 300, "Stat": "Sum"}}


def _math(expression: str, **kw) -> dict:
    return {"Metrics": [{"Id": "e", "Expression": expression, "ReturnData": True}, _stat("a", "A"), _stat("b", "B")],
            "EvaluationPeriods": 1, "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold", **kw}


def _fetch(series: dict[str, dict[int, float]]):
    def fetch(metric: dict, stat: str, period: int) -> dict[int, float]:
        assert period == 300
        return series[metric["MetricName"]]
    return fetch


def test_a_single_metric_alarm_reads_its_series_oldest_first():
    assert alarm_values(SINGLE, _fetch({"CPUUtilization": {3: 95.0, 1: 10.0, 2: 85.0}})) == [10.0, 85.0, 95.0]
    # moto's DescribeAlarms lists an empty Metrics on a single-metric alarm
    assert alarm_values({**SINGLE, "Metrics": []}, _fetch({"CPUUtilization": {1: 5.0}})) == [5.0]


@pytest.mark.parametrize(("expression", "a", "b", "want"), [
    ("b - a", 2.0, 5.0, 3.0),
    ("100 * FILL(a, 0) / b", None, 4.0, 0.0),
    ("IF(b > 0, 100 * a / b, 0)", 1.0, 0.0, 0.0),
    ("IF(b > 0, 100 * a / b, 0)", 1.0, 4.0, 25.0),
    ("a / b", 1.0, 0.0, None),
    ("a - b", None, 1.0, None),
    ("-a", 2.0, 0.0, -2.0),
])
def test_metric_math_per_period(expression, a, b, want):
    series = {"A": {} if a is None else {1: a}, "B": {1: b}}
    assert alarm_values(_math(expression), _fetch(series)) == [want]


def test_an_expression_may_name_another_expression_and_unknown_math_is_refused():
    alarm = _math("twice - 1")
    alarm["Metrics"].append({"Id": "twice", "Expression": "2 * a", "ReturnData": False})
    assert alarm_values(alarm, _fetch({"A": {1: 3.0}, "B": {1: 0.0}})) == [5.0]
    with pytest.raises(ValueError, match="not metric math"):
        alarm_values(_math("METRICS()"), _fetch({"A": {1: 1.0}, "B": {1: 1.0}}))
    with pytest.raises(ValueError, match="no metric or expression with id 'c'"):
        alarm_values(_math("c + 1"), _fetch({"A": {1: 1.0}, "B": {1: 1.0}}))


def test_m_out_of_n_and_the_threshold_direction():
    assert breaching(SINGLE, 80.0) is False and breaching(SINGLE, 80.5) is True and breaching(SINGLE, None) is None
    assert state(SINGLE, [90.0, 10.0, 10.0, 90.0]) == "OK"  # only the last three count: one breaches
    assert state(SINGLE, [90.0, 10.0, 90.0, 90.0]) == "ALARM"
    assert state({**SINGLE, "DatapointsToAlarm": None}, [90.0, 90.0, 10.0]) == "OK"  # M defaults to N
    assert state({**SINGLE, "ComparisonOperator": "LessThanOrEqualToThreshold"}, [80.0, 80.0, 99.0]) == "ALARM"


@pytest.mark.parametrize(("treat", "values", "want"), [
    ("missing", [None, None, None], "INSUFFICIENT_DATA"),
    ("missing", [None, 90.0, 90.0], "ALARM"),
    ("missing", [None, None, 90.0], "OK"),
    ("breaching", [None, None, 10.0], "ALARM"),
    ("notBreaching", [None, 90.0, None], "OK"),
    ("ignore", [None, None, None], None),
])
def test_missing_data_as_the_alarm_treats_it(treat, values, want):
    assert state({**SINGLE, "TreatMissingData": treat}, values) == want
