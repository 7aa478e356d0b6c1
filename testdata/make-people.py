#!/usr/bin/env python3
"""Regenerate testdata/people.jsonl and people-updates.jsonl (seeded)."""
import json
import os
import random

random.seed(7)
here = os.path.dirname(os.path.abspath(__file__))
cities = ["Oslo", "Lima", "Pune", "Kyiv", "Quito", "Accra", "Hanoi"]
with open(os.path.join(here, "people.jsonl"), "w") as f:
    for i in range(2000):
        d = {"_id": i, "name": f"person {i}", "age": random.randint(18, 90),
             "address": {"city": random.choice(cities),
                         "zip": f"{random.randint(1000, 9999)}"},
             "tags": random.sample(["a", "b", "c", "d", "e"],
                                   random.randint(0, 3)),
             "joined": {"$date": f"20{random.randint(10, 25)}-0"
                                 f"{random.randint(1, 9)}-1"
                                 f"{random.randint(0, 9)}T00:00:00Z"},
             "score": round(random.random() * 100, 3)}
        f.write(json.dumps(d) + "\n")
with open(os.path.join(here, "people-updates.jsonl"), "w") as f:
    for i in random.sample(range(2000), 300):
        f.write(json.dumps({"_id": i, "name": f"person {i} (moved)",
                            "age": 50,
                            "address": {"city": random.choice(cities)}}) + "\n")
    for i in random.sample(range(2000), 200):
        f.write(json.dumps({"_id": i, "$deleted": True}) + "\n")
