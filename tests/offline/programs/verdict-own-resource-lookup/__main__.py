"""A lookup of a resource the program itself creates: `sns.get_topic(name=...)` of its own
topic, and `sns.get_topic(name=jobs.name)` of its own auto-named topic (the provider's Check
gives the auto-name, so the name is known at preview). On a new stack each lookup runs before
the resource exists, so a real preview fails to find it; the offline report says so."""

import pulumi
import pulumi_aws as aws

alerts = aws.sns.Topic("alerts", name="ops-alerts")
found = aws.sns.get_topic(name="ops-alerts")
existing = aws.sns.get_topic(name="billing-alerts")
jobs = aws.sns.Topic("jobs")
jobs_arn = jobs.name.apply(lambda name: aws.sns.get_topic(name=name).arn)

pulumi.export("lookedUp", found.arn)
pulumi.export("existing", existing.arn)
pulumi.export("jobsArn", jobs_arn)
