"""``merchant bench``: each hot path beside its baseline, in one run, interleaved.

Modules: ``stats`` (medians, ratios, spread), ``report`` (the Markdown section),
``plots`` (PNG figures), ``rounds`` (closed-loop driving and interleaving), ``memory``
(RSS sampling), ``environment`` (namespace, processes, clean-up), and one module per
group of hot paths: ``cache``, ``l2``, ``miss``, ``commands``, ``projectors``.
"""
