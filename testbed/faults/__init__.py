"""Faults: break the live testbed on purpose, show the symptom, always put things back.

base.py       the envelope (FaultSpec: type, target, schedule, params) and the Fault interface
registry.py   faults by name (`register`, `get`, `catalogue`); one module per fault
ledger.py     <home>/faults/ledger/<id>.json, written before inject, removed after revert
journal.py    <home>/journal.jsonl, one JSON line per event (the scorer's input)
injector.py   inject / check / revert / revert_all / hold; doctor.py repairs leftovers
schedule.py   occurrences of a schedule and the exactly-once Timeline
"""
