"""The policy side: start each policy pack as the CLI does and ask it for verdicts over the
Analyzer gRPC protocol."""
