"""What CloudWatch would decide about a metric alarm, from the alarm as DescribeAlarms returns it and
the datapoints of its metrics. moto stores alarms but never evaluates them (an alarm changes state
only by SetAlarmState), so without this a wrong threshold or expression passes every test.

`alarm_values(alarm, fetch)`: the value the alarm compares with its threshold, per period, oldest
first; `fetch(metric, stat, period)` returns {timestamp: value} for one metric (`metric`: Namespace,
MetricName, Dimensions as in DescribeAlarms). Metric math covers what the roles' alarms use:
numbers, ids, + - * /, comparisons (1 or 0), IF(condition, a, b) and FILL(series, value).
`breaching(alarm, value)`: does one value cross the threshold (None: a missing datapoint).
`state(alarm, values)`: ALARM, OK or INSUFFICIENT_DATA over the last EvaluationPeriods values, as
the CloudWatch User Guide's "Evaluating an alarm" describes M out of N and TreatMissingData
(`ignore` keeps the current state, returned as None).
"""
from __future__ import annotations

import ast
import datetime
import operator
from typing import Any, Callable, Optional

Fetch = Callable[[dict, str, int], dict[Any, float]]
Value = Optional[float]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_THRESHOLD = {"GreaterThanThreshold": operator.gt, "GreaterThanOrEqualToThreshold": operator.ge,
              "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le}


def _metric_of(alarm: dict) -> dict:
    return {"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm.get("Dimensions", [])}


def alarm_values(alarm: dict, fetch: Fetch) -> list[Value]:
    """The alarm's value per period, oldest first (None where the expression has no value)."""
    if not alarm.get("Metrics"):  # moto lists an empty Metrics on a single-metric alarm
        series = fetch(_metric_of(alarm), alarm.get("Statistic") or alarm["ExtendedStatistic"], int(alarm["Period"]))
        return [series[t] for t in sorted(series)]
    series_by_id: dict[str, dict[Any, float]] = {}
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            series_by_id[query["Id"]] = fetch(stat["Metric"], stat["Stat"], int(stat["Period"]))
    stamps = sorted({t for series in series_by_id.values() for t in series})
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
    if "MetricStat" in returned:
        return [series_by_id[returned["Id"]].get(t) for t in stamps]
    expressions = {q["Id"]: q["Expression"] for q in alarm["Metrics"] if "Expression" in q}
    return [_evaluate(returned["Expression"], expressions, series_by_id, t) for t in stamps]


def _evaluate(expression: str, expressions: dict[str, str], series: dict[str, dict], stamp: Any) -> Value:
    def walk(node: ast.AST) -> Value:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in series:
                return series[node.id].get(stamp)
            if node.id in expressions:
                return walk(ast.parse(expressions[node.id], mode="eval"))
            raise ValueError(f"{expression!r}: no metric or expression with id {node.id!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = walk(node.operand)
            return None if value is None else -value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
                return None
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            left, right = walk(node.left), walk(node.comparators[0])
            if left is None or right is None:
                return None
            return 1.0 if _COMPARE[type(node.ops[0])](left, right) else 0.0
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("IF", "FILL"):
            args = [walk(a) for a in node.args]
            if node.func.id == "FILL" and len(args) == 2:
                return args[1] if args[0] is None else args[0]
            if node.func.id == "IF" and len(args) == 3:
                return None if args[0] is None else (args[1] if args[0] else args[2])
        raise ValueError(f"{expression!r}: {ast.dump(node)} is not metric math this evaluator knows")

    return walk(ast.parse(expression, mode="eval"))


def breaching(alarm: dict, value: Value) -> Optional[bool]:
    if value is None:
        return None
    return _THRESHOLD[alarm["ComparisonOperator"]](value, float(alarm["Threshold"]))


def state(alarm: dict, values: list[Value]) -> Optional[str]:
    """The state the last EvaluationPeriods values put the alarm in (None: `ignore` keeps the current one)."""
    window = list(values[-int(alarm["EvaluationPeriods"]):])
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    treat = alarm.get("TreatMissingData", "missing")
    verdicts = [breaching(alarm, v) for v in window]
    if treat == "breaching":
        verdicts = [True if v is None else v for v in verdicts]
    elif treat == "notBreaching":
        verdicts = [False if v is None else v for v in verdicts]
    present = [v for v in verdicts if v is not None]
    if sum(present) >= needed:
        return "ALARM"
    if not present:
        return None if treat == "ignore" else "INSUFFICIENT_DATA"
    return "OK"


def emulator_fetch(cloudwatch: Any, history: datetime.timedelta = datetime.timedelta(hours=1)) -> Fetch:
    """A `fetch` reading the emulator's datapoints (GetMetricStatistics) of the last `history`, up to
    the period being filled now (the window is taken at each call)."""
    def fetch(metric: dict, stat: str, period: int) -> dict[Any, float]:
        now = datetime.datetime.now(datetime.timezone.utc)
        points = cloudwatch.get_metric_statistics(
            Namespace=metric["Namespace"], MetricName=metric["MetricName"], Dimensions=metric.get("Dimensions", []),
            StartTime=now - history, EndTime=now + datetime.timedelta(seconds=period), Period=period,
            Statistics=[stat])["Datapoints"]
        return {p["Timestamp"]: p[stat] for p in points}

    return fetch
