"""The `resilient-serverless` policy pack's code, and the resilience numbers it shares with the
components (`resilience_policies.thresholds`).

Importing this package is cheap: it imports no policy SDK until `pack` or a rule is imported,
so the components can read `thresholds` without the policy SDK installed.
"""
