#!/usr/bin/env python3
"""Summarises the runs of bench/run.sh: medians and spread per scenario, the pgbench ceilings,
the calibrations (nginx's fixed 200, a one-row INSERT), the ratios the targets are stated in,
and a pass/miss line per target.

Writes OUT/summary.json (meta, every run, the summary) and OUT/summary.md, and prints the
Markdown. Only the standard library is used.
"""

import argparse
import json
import os
import statistics
import sys


def spread(values):
    """(max - min) / median, in percent."""
    med = statistics.median(values)
    return 100 * (max(values) - min(values)) / med if med else 0.0


def rate_stats(unit, values):
    """The runs of one rate (`rps` or `tps`), its median, min, max and spread."""
    return {
        f"runs_{unit}": [round(x) for x in values],
        f"{unit}_median": round(statistics.median(values)),
        f"{unit}_min": round(min(values)),
        f"{unit}_max": round(max(values)),
        f"{unit}_spread_pct": round(spread(values), 1),
    }


def calibration_failures(run):
    """A calibration run's failures: non-2xx answers and socket errors (nginx), failed
    transactions (insert)."""
    if "failed" in run:
        return run["failed"]
    return run["non2xx"] + sum(run["socket_errors"].values())


def summarise(runs):
    http, ceilings, calibration = {}, {}, {}
    for run in runs:
        kind = {"http": http, "pgbench": ceilings, "calibration": calibration}[run["kind"]]
        kind.setdefault(run["scenario"], []).append(run)
    out = {"http": {}, "pgbench": {}, "calibration": {}}
    for name, rs in calibration.items():
        out["calibration"][name] = {
            **rate_stats("rps", [r["rps"] for r in rs]),
            "failed": sum(calibration_failures(r) for r in rs),
        }
    for name, rs in http.items():
        requests = sum(r["requests"] for r in rs)
        s = {
            **rate_stats("rps", [r["rps"] for r in rs]),
            "non2xx": sum(r["non2xx"] for r in rs),
            "socket_errors": sum(sum(r["socket_errors"].values()) for r in rs),
            "idle_rss_mib": statistics.median(r["idle_rss_mib"] for r in rs),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
            "api_cpu_us_per_request": round(1e6 * sum(r["api_cpu_s"] for r in rs) / max(requests, 1), 1),
            "postgres_cpu_us_per_request": round(
                1e6 * sum(r["postgres_cpu_s"] for r in rs) / max(requests, 1), 1),
            "machine_busy_median": statistics.median(r["machine_busy"] for r in rs),
            "loads": [r["load"] for r in rs],
        }
        for p in ("p50", "p90", "p99"):
            s[f"{p}_ms_median"] = round(statistics.median(r["latency_ms"][p] for r in rs), 2)
        probes = [r["probe"] for r in rs if r.get("probe")]
        if probes:
            s["health_probe_p99_ms_median"] = round(
                statistics.median(p["latency_ms"]["p99"] for p in probes), 2)
            s["health_probe_p99_ms_max"] = round(max(p["latency_ms"]["p99"] for p in probes), 2)
            s["health_probe_non2xx"] = sum(p["non2xx"] for p in probes)
        out["http"][name] = s
    for name, rs in ceilings.items():
        out["pgbench"][name] = {
            **rate_stats("tps", [r["tps"] for r in rs]),
            "latency_avg_ms_median": round(statistics.median(r["latency_avg_ms"] for r in rs), 2),
            "failed": sum(r["failed"] for r in rs),
            "loads": [r["load"] for r in rs],
        }
    return out


def targets(summary, argon2, cores):
    """(target, measured, met) for every target the runs can judge."""
    h, pg = summary["http"], summary["pgbench"]
    rows = []

    def rps(name):
        return h[name]["rps_median"] if name in h else None

    if rps("health") is not None:
        rows.append(("health >= 40,000 req/s", f"{rps('health'):,} req/s", rps("health") >= 40000))
        rows.append(("health >= 100,000 req/s", f"{rps('health'):,} req/s", rps("health") >= 100000))
        nginx = summary.get("calibration", {}).get("nginx")
        if nginx:
            # The 100,000 goal was set where nginx answering a fixed 200 under the same wrk did
            # ~196,000: on another machine, /health is judged as the same share of nginx there.
            share = rps("health") / nginx["rps_median"]
            rows.append(("health >= 51 % of nginx's fixed 200 here (100,000 / ~196,000)",
                         f"{rps('health'):,} / {nginx['rps_median']:,} = {100 * share:.0f} %",
                         share >= 100000 / 196000))
    insert = summary.get("calibration", {}).get("insert")
    for name in ("list", "get"):
        if rps(name) is not None and name in pg:
            ratio = rps(name) / pg[name]["tps_median"]
            rows.append((f"{name} >= 70 % of its pgbench ceiling",
                         f"{rps(name):,} / {pg[name]['tps_median']:,} = {100 * ratio:.0f} %",
                         ratio >= 0.70))
    if rps("list") is not None:
        rows.append(("list >= 1,500 req/s", f"{rps('list'):,} req/s", rps("list") >= 1500))
    for name in ("create", "vote"):
        if rps(name) is not None:
            bad = h[name]["non2xx"] + h[name]["socket_errors"]
            ceiling = ""
            if name in pg:
                ceiling = (f" ({100 * rps(name) / pg[name]['tps_median']:.0f} % of its "
                           f"{pg[name]['tps_median']:,}/s ceiling)")
            rows.append((f"{name} >= 2,000 req/s with 0 non-2xx",
                         f"{rps(name):,} req/s{ceiling}, {bad} non-2xx",
                         rps(name) >= 2000 and bad == 0))
            goal = {"create": 4000, "vote": 3000}[name]
            rows.append((f"{name} >= {goal:,} req/s", f"{rps(name):,} req/s", rps(name) >= goal))
            if insert:
                # The goals were set where pgbench committed a one-row INSERT ~19,310 times a
                # second (32 clients): on another machine, the same share of that rate there.
                share = rps(name) / insert["rps_median"]
                rows.append((f"{name} >= {100 * goal / 19310:.1f} % of a one-row INSERT here "
                             f"({goal:,} / ~19,310)",
                             f"{rps(name):,} / {insert['rps_median']:,} = {100 * share:.1f} %",
                             share >= goal / 19310))
    if rps("login") is not None and argon2:
        bound = cores / argon2["cpu_seconds_per_hash"]
        rows.append(("login >= 90 % of cores / CPU time of one Argon2id hash",
                     f"{rps('login'):,} / {bound:.1f} = {100 * rps('login') / bound:.0f} %",
                     rps("login") >= 0.9 * bound))
    if "login" in h and "health_probe_p99_ms_median" in h["login"]:
        p99 = h["login"]["health_probe_p99_ms_max"]
        rows.append(("/health p99 < 10 ms under the login load",
                     f"median {h['login']['health_probe_p99_ms_median']} ms, worst {p99} ms",
                     p99 < 10))
    if rps("list") is not None and rps("list-redis") is not None:
        cost = 1 - rps("list-redis") / rps("list")
        rows.append(("Redis limiter costs <= 10 % of list throughput",
                     f"{rps('list-redis'):,} vs {rps('list'):,}: {100 * cost:.1f} %", cost <= 0.10))
    if h:
        idle = max(s["idle_rss_mib"] for s in h.values())
        peak = max(s["peak_rss_mib"] for s in h.values())
        rows.append(("<= 25 MB RSS idle", f"{idle} MiB (worst median)", idle * 1.048576 <= 25))
        rows.append(("<= 80 MB peak RSS", f"{peak} MiB", peak * 1.048576 <= 80))
    return rows


def markdown(meta, summary, argon2, rows):
    lines = [
        f"# keel benchmark, {meta['date']} (commit {meta['commit']})",
        "",
        f"{meta['cores']} cores ({meta['cpu']}), {meta['memory']}, kernel {meta['kernel']}, "
        f"PostgreSQL {meta['postgres']}, {meta['wrk']}. api: `{meta['api_binary']}`. "
        f"wrk -t{meta['wrk_threads']} -c{meta['connections']}, {meta['duration']} per run after "
        f"a {meta['warmup']} warm-up, {meta['rounds']} round(s); data: {meta['users']:,} users, "
        f"{meta['posts']:,} posts, {meta['votes']:,} votes (seeded in {meta['seed_seconds']} s)."
        + (" SMOKE RUN: not a measurement." if meta["smoke"] else ""),
        "",
        "| scenario | req/s median | min–max (spread) | p50 / p90 / p99 ms | non-2xx | RSS idle / peak MiB | api / postgres CPU µs per req | load (1-min) |",
        "|---|---:|---|---|---:|---|---|---|",
    ]
    for name, s in summary["http"].items():
        loads = ", ".join(l.split()[0] for l in s["loads"])
        lines.append(
            f"| {name} | {s['rps_median']:,} | {s['rps_min']:,}–{s['rps_max']:,} ({s['rps_spread_pct']} %) "
            f"| {s['p50_ms_median']} / {s['p90_ms_median']} / {s['p99_ms_median']} "
            f"| {s['non2xx'] + s['socket_errors']} | {s['idle_rss_mib']} / {s['peak_rss_mib']} "
            f"| {s['api_cpu_us_per_request']} / {s['postgres_cpu_us_per_request']} | {loads} |")
    if summary["pgbench"]:
        lines += ["", "| pgbench ceiling (requests/s; vote: 2 per script run) | median | min–max (spread) | avg latency ms | failed |",
                  "|---|---:|---|---:|---:|"]
        for name, s in summary["pgbench"].items():
            lines.append(f"| {name} | {s['tps_median']:,} | {s['tps_min']:,}–{s['tps_max']:,} "
                         f"({s['tps_spread_pct']} %) | {s['latency_avg_ms_median']} | {s['failed']} |")
    for name, s in summary.get("calibration", {}).items():
        what = {"nginx": "nginx answering a fixed 200 on /health under the same wrk",
                "insert": "pgbench committing a one-row INSERT, same clients"}.get(name, name)
        unit = "tps" if name == "insert" else "req/s"
        lines += ["", f"Calibration: {what}: {s['rps_median']:,} {unit} median "
                      f"({s['rps_min']:,}–{s['rps_max']:,}, spread {s['rps_spread_pct']} %), "
                      f"{s['failed']} failed."]
    if "login" in summary["http"] and "health_probe_p99_ms_median" in summary["http"]["login"]:
        s = summary["http"]["login"]
        lines += ["", f"/health probe beside the login load (2 connections, 10 ms pauses): p99 median "
                      f"{s['health_probe_p99_ms_median']} ms, worst {s['health_probe_p99_ms_max']} ms, "
                      f"{s['health_probe_non2xx']} non-2xx."]
    if argon2:
        lines += ["", f"Argon2id (19 MiB, t=2, p=1): {1000 * argon2['cpu_seconds_per_hash']:.1f} ms CPU "
                      f"per hash ({argon2['hashes']} hashes on one thread): login bound = cores / CPU "
                      f"= {meta['cores'] / argon2['cpu_seconds_per_hash']:.1f} logins/s."]
    if rows:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in rows]
    return "\n".join(lines) + "\n"


def console_line(run):
    """One run for the console, and how many of its responses failed."""
    if run["kind"] == "pgbench":
        text = (f"round {run['round']}  pgbench {run['scenario']:<6} {run['tps']:>10.0f} tps  "
                f"avg {run['latency_avg_ms']:.2f} ms  failed {run['failed']}  load {run['load']}")
        return text, run["failed"]
    if run["kind"] == "calibration" and run["scenario"] == "insert":
        text = (f"round {run['round']}  insert     {run['rps']:>10.0f} tps  "
                f"avg {run['latency_avg_ms']:.2f} ms  failed {run['failed']}  (calibration)  "
                f"load {run['load']}")
        return text, run["failed"]
    lat = run["latency_ms"]
    failed = run["non2xx"] + sum(run["socket_errors"].values())
    if run["kind"] == "calibration":
        text = (f"round {run['round']}  {run['scenario']:<10} {run['rps']:>10.0f} req/s  "
                f"p50 {lat['p50']:.2f} p90 {lat['p90']:.2f} p99 {lat['p99']:.2f} ms  "
                f"non-2xx {run['non2xx']}  (calibration)  load {run['load']}")
        return text, failed
    text = (f"round {run['round']}  {run['scenario']:<10} {run['rps']:>10.0f} req/s  "
            f"p50 {lat['p50']:.2f} p90 {lat['p90']:.2f} p99 {lat['p99']:.2f} ms  "
            f"non-2xx {run['non2xx']}  rss idle/peak {run['idle_rss_mib']}/{run['peak_rss_mib']} MiB  "
            f"load {run['load']}")
    probe = run.get("probe")
    if probe:
        text += f"  /health probe p99 {probe['latency_ms']['p99']:.2f} ms"
        failed += probe["non2xx"] + sum(probe["socket_errors"].values())
    return text, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--line", help="print one run (JSON) to stderr, its failures to stdout")
    parser.add_argument("--runs", help="JSON lines written by bench/run.sh")
    parser.add_argument("--out", help="directory for summary.json and summary.md")
    parser.add_argument("--meta", help="JSON: machine and load conditions")
    parser.add_argument("--argon2", default="null", help="JSON printed by argon2-cpu, or null")
    args = parser.parse_args()
    if args.line:
        text, failed = console_line(json.loads(args.line))
        print(text, file=sys.stderr)
        print(failed)
        return
    if not (args.runs and args.out and args.meta):
        parser.error("--runs, --out and --meta are required")
    with open(args.runs) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    meta = json.loads(args.meta)
    argon2 = json.loads(args.argon2)
    summary = summarise(runs)
    rows = targets(summary, argon2, meta["cores"])
    doc = {
        "meta": meta, "argon2": argon2, "summary": summary,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in rows], "runs": runs,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    md = markdown(meta, summary, argon2, rows)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
