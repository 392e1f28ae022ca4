"""The `resilient-serverless` policy pack, as the Pulumi CLI runs it:
`python -m pulumi.policy <engine address> <this folder>`.

Only assembly happens here; the policies live in `resilience_policies` (one module each).
"""

from pulumi_policy import PolicyPack

from resilience_policies import server
from resilience_policies.pack import PACK_NAME, all_policies, config_specs

# Configure-time config validation and a single-decode AnalyzeStack (see server.py).
server.install(config_specs())

PolicyPack(name=PACK_NAME, policies=all_policies())
