"""Cross-session analytics over facts and session traits (DESIGN.md decision 4).

One module per analysis, each written once as pure functions over the narrow query interface
of :mod:`sentiero.analytics.query` that every store implements (SQL stores push grouping and
counting into SQL; the others use the generic implementation over iterators).
"""
