"""A program that swallows a failed provider function and carries on with a fallback.

The on-call address is read from SSM, but the parameter's name is left unset in this stack, so
the provider refuses the call (its required `name` is missing). The program catches the error
and subscribes nobody, so what it registers is not what it would register with the parameter:
the offline preview must not pass it silently.
"""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

try:
    on_call = aws.ssm.get_parameter(name=config.get("alertEmailParameter")).value
except Exception as error:  # the pattern under test: a fallback that hides the failure
    print(f"no on-call address ({error}); alarms go nowhere")
    on_call = None

alerts = aws.sns.Topic("alerts")
if on_call:
    aws.sns.TopicSubscription("on-call", topic=alerts.arn, protocol="email", endpoint=on_call)

dead_letters = aws.sqs.Queue("work-dlq", message_retention_seconds=1209600)
aws.cloudwatch.MetricAlarm(
    "work-dlq-depth",
    namespace="AWS/SQS",
    metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={"QueueName": dead_letters.name},
    statistic="Maximum",
    period=60,
    evaluation_periods=1,
    threshold=0,
    comparison_operator="GreaterThanThreshold",
    alarm_actions=[alerts.arn],
)

pulumi.export("alertTopic", alerts.arn)
