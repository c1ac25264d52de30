"""``rewards``: the Prefect-free core of reward fulfilment.

Plain, typed functions over pandas DataFrames and pydantic models: read a recipient
spreadsheet, validate it, derive idempotent identifiers, plan async orders, keep the ledger,
reconcile and export the report. ``tasks/`` and ``flows/`` wrap these for Prefect.
"""
