"""Commands' library side that is neither training nor prediction: convert, data check, diagnose, info."""
