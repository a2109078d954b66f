"""Behaviour baselines: GuardDuty's anomaly findings, learned per entity and explained.

Each detector here keeps a profile (``keibi.detect.behavior.profile``) of what every entity it
watches has done — a principal's APIs, networks and user agents; an instance's remote ports
and resolvers; a bucket's callers and volumes — and raises a finding when an established entity
departs from it, saying what was new or unusual and against which baseline.
"""
