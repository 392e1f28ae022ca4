"""Reports of a run: the text report, JSON, the engine's event stream, the CI job summary, the
region diagram, the resilience numbers and the comparison with an earlier report."""
