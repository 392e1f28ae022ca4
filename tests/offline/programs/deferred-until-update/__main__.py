"""Two defects no preview can see: both are built inside `<output>.apply(...)`, so their JSON is
unknown until the resources it names exist.

- a two-step saga whose definition names the table by its ARN (`table.arn.apply(...)`), whose
  second step catches nothing;
- a work queue whose redrive policy names its DLQ by ARN (`dlq.arn.apply(...)`) with
  maxReceiveCount 50.

At preview the pack says both checks are decided at `pulumi up`; in the update shape (known
outputs) both are mandatory violations."""

import json
import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples
import saga

service = baseline.build()
for region in service.regions:
    parts = saga.parts(region)
    dlq = aws.sqs.Queue(
        f"jobs-{region}-dlq",
        region=region,
        message_retention_seconds=1_209_600,
        sqs_managed_sse_enabled=True,
    )
    aws.sqs.Queue(
        f"jobs-{region}-queue",
        region=region,
        message_retention_seconds=1_209_600,
        sqs_managed_sse_enabled=True,
        # The defect: 50 receives keep a poison message cycling for hours.
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 50})
        ),
    )
    # The definition names the table by its ARN: unknown until the table exists.
    saga.state_machine(region, parts, parts.table.arn.apply(saga.without_catch))
