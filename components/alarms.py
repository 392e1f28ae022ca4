"""The CloudWatch alarm every component raises the same way: the maximum over one-minute periods
above a threshold, missing data not breaching, and the same action for ALARM and OK so that
on-call sees the recovery too."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def maximum_above(
    resource_name: str,
    *,
    region: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    threshold: float,
    evaluation_periods: int,
    description: str,
    alarm_action_arn: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    actions = [alarm_action_arn] if alarm_action_arn is not None else []
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        region=region,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dict(dimensions),
        statistic="Maximum",
        period=60,
        evaluation_periods=evaluation_periods,
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        opts=opts,
    )
