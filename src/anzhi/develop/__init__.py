"""The development side (开发侧): checks on what a model is made of, before it ships.

Checks here never import ``store``, ``api`` or ``cli``: they return results and findings as plain objects.
"""
