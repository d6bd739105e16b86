"""Scores (seqeval, scikit-learn), significance tests, error reports and plots."""
