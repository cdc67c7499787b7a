"""Privacy-safe exports: profiles (``conf/exports.yaml``), k-anonymity, DP counts, risk.

Nothing here imports Spark: exports read silver through the engine (delta-rs).
"""
