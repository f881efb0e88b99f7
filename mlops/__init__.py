"""Operating the models: registry and provenance, refits, experiments, drift, fairness,
and data-quality checks on imports."""
