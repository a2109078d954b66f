"""GuardDuty's REST API, served (``keibi serve``): boto3 and the AWS CLI work unchanged.

``protocol`` reads routes and shapes from botocore's model, ``auth`` verifies Signature V4
against the keys ``keibi accounts create`` issues, ``ops/`` answers each operation (one module
per area: detectors, findings, filters, lists, members, destinations, usage, tags) and ``app``
puts them behind an ASGI app with health, metrics and keibi's own endpoints.
"""
