"""A lookup of a resource the program itself creates: `sns.get_topic(name=...)` of its own
topic. On a new stack the lookup runs before the topic exists, so a real preview fails to find
it; the offline report says so."""

import pulumi
import pulumi_aws as aws

alerts = aws.sns.Topic("alerts", name="ops-alerts")
found = aws.sns.get_topic(name="ops-alerts")
existing = aws.sns.get_topic(name="billing-alerts")

pulumi.export("lookedUp", found.arn)
pulumi.export("existing", existing.arn)
