"""One module per policy. Each module defines `POLICY` (the SDK policy object) and `CONFIG`
(its settings); `resilience_policies.pack` lists them in order."""
