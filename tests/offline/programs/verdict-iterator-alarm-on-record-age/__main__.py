"""Compliant: each region's Kinesis consumer skips records older than an hour (its mapping's
maximum_record_age_in_seconds) and its iterator-age alarm fires at ten minutes: 50 minutes
before any record is skipped, and far from the stream's 24-hour retention."""

import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    _, consumer = baseline.guarded_stream_consumer(
        f"events-{region}", region, deployment.alarm_topic
    )
    aws.cloudwatch.MetricAlarm(
        f"events-{region}-iterator-age",
        region=region,
        namespace="AWS/Lambda",
        metric_name="IteratorAge",
        dimensions={"FunctionName": consumer.function.name},
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        threshold=600_000,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[deployment.alarm_topic.arn],
        ok_actions=[deployment.alarm_topic.arn],
    )
