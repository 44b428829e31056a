#!/usr/bin/env python3
"""cursor_pages.py URL TOKEN [RUNS [GROUP_ID]]: a deep page of each list, by offset and
by cursor, against a seeded server (BENCHMARKS.md, cursor pagination).

For each case it reads, through the server, the first page, the page at
DEPTH by offset, and the same page by after (the end cursor of the page
before it, read once by offset), RUNS times each after two warm-ups, and
prints p50, min and max in milliseconds, and whether both ways answered
the same rows. ONLY=last_name runs the cases of that order alone. Standard
library only."""

import json
import os
import statistics
import sys
import time
import urllib.request

URL, TOKEN = sys.argv[1], open(sys.argv[2]).read().strip()
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 15
LIMIT = 25


def post(query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(URL, body, {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as resp:
        out = json.load(resp)
    took = (time.perf_counter() - start) * 1000
    if out.get("errors"):
        raise SystemExit(f"{variables}: {out['errors']}")
    return out["data"], took


def find(data):
    """The field aliased list, at the root or one object down."""
    if "list" in data:
        return data["list"]
    return find(next(iter(data.values())))


def timed(query, variables):
    for _ in range(2):
        post(query, variables)
    times = []
    for _ in range(RUNS):
        data, took = post(query, variables)
        times.append(took)
    return find(data), times


def case(name, field, order, page, group=None):
    """field is the list's field with its arguments' variables; page is
    the 1-based page to reach."""
    if os.environ.get("ONLY", order) not in order:
        return
    head = "query ($limit: Int, $order: String, $after: String, $offset: Int"
    sel = "{ items { id email } page_info { end_cursor has_next_page } }"
    if group:
        query = f'{head}) {{ customer_group(id: "{group}") {{ list: {field} {sel} }} }}'
    else:
        query = f"{head}) {{ list: {field} {sel} }}"
    depth = (page - 1) * LIMIT
    base = {"limit": LIMIT, "order": order}
    before, _ = post(query, dict(base, offset=depth - LIMIT))
    cursor = find(before)["page_info"]["end_cursor"]
    rows = []
    for how, variables in (("first page", dict(base, offset=0)),
                           (f"page {page:,} by offset {depth:,}", dict(base, offset=depth)),
                           (f"page {page:,} by after", dict(base, after=cursor))):
        got, times = timed(query, variables)
        rows.append((how, got, times))
    same = [i["id"] for i in rows[1][1]["items"]] == [i["id"] for i in rows[2][1]["items"]]
    print(f"\n{name} (order {order}): same rows by offset and by cursor: {same}, "
          f"has_next_page {rows[2][1]['page_info']['has_next_page']}")
    for how, got, times in rows:
        print(f"| {how} | {statistics.median(times):.1f} ms | {min(times):.1f} - {max(times):.1f} ms |")


if __name__ == "__main__":
    customers = "customers(limit: $limit, order: $order, after: $after, offset: $offset)"
    case("customers", customers, "-created_at", 40_000)
    # Nullable orders: 10% of last names and 20% of last orders are null;
    # page 40,000 is among the nulls, page 20,000 among the values.
    for order in ("last_name", "-last_order_at"):
        case("customers", customers, order, 20_000)
        case("customers", customers, order, 40_000)
    case("orders", "orders(limit: $limit, order: $order, after: $after, offset: $offset)", "-created_at", 40_000)
    if len(sys.argv) > 4:
        case("a group's members", "customers(limit: $limit, order: $order, after: $after, offset: $offset)",
             "-created_at", 2_000, group=sys.argv[4])
