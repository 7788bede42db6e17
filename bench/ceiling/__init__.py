"""The ceiling for bench/compare.py: the least a Django application can do per SNS alarm.

One view parses the SNS body (the envelope and the CloudWatch message inside it) and
stores it with one INSERT on a persistent connection: no signature check, no dedup, no
incident. Klaxon's cost per request above this is the cost of what it does with an alarm.
"""
