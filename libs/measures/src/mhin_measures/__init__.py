"""Measurement rules shared by the evaluation service and the stream processors.

- :mod:`mhin_measures.periods`: reporting periods and their canonical ids.
- :mod:`mhin_measures.strata`: strata text, the shipped stratifiers and groups.
- :mod:`mhin_measures.rates`: measure types, values from numerator and denominator,
  observation checks.
- :mod:`mhin_measures.disclosure`: small-number suppression, who sees data in full.
- :mod:`mhin_measures.spc`: XmR charts with Making Data Count rules.
- :mod:`mhin_measures.its`: impact estimation: interrupted time series, controlled,
  pooled across sites and by stratum (statsmodels; the ``its`` extra).
- :mod:`mhin_measures.proto`: conversion to and from the protobuf contracts (the
  only module that imports protobuf).

Pure functions and immutable values, no I/O.
"""
