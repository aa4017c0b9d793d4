"""Pure KPI logic: event model and validation, contact and agent state, windows, formulas.

No I/O here and no clock reads: every function that needs the time is given it.
"""
