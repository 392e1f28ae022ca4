"""One defect: a second inline policy on each worker's role grants `dynamodb:*` on every
resource, so a bug in the worker can touch every table in the account. (The document is a
literal, so the pack can read it at preview; the skeleton's own documents embed ARNs and are
unknown until they exist.)"""

import json
import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    aws.iam.RolePolicy(
        f"svc-{region}-worker-convenience",
        role=deployment.worker.role.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
            }
        ),
    )
