#!/usr/bin/env python3
"""Helper of scripts/bench (Python standard library only; run by it, not by hand).

  sample   samples CPU ticks and RSS of the stack's processes and its Prometheus metrics once a
           second, one JSON line each, until SIGTERM or --max-seconds
  backlog  prints the current backlog summed over the services' /metrics
  step     turns one `loadtest tips --json` report and its samples into a rate-table row (JSON),
           exit 0 when the step passes, 1 when it fails
  chaos    the same for the chaos run, with its timeline of kills and restarts
  report   (re)writes bench/results.md and bench/latency.svg; each run writes its own section and
           keeps the other (rates / chaos), and the last line is always `ratio: X.XX`
"""

import argparse
import html
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICES = ["organization", "education", "stations", "governance"]
PROCS = SERVICES + ["nats-server", "postgres"]
SHORT = {"organization": "org", "education": "edu", "stations": "sta", "governance": "gov",
         "nats-server": "nats", "postgres": "pg"}


# ---------------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------------

def read_pidfile(path):
    try:
        with open(path) as f:
            pid = int(re.sub(r"\D", "", f.read()) or "0")
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and os.path.exists(f"/proc/{pid}") else None


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is the state (field 3 of stat(5)); utime is field 14.
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def rss_kb(pid, pss=False):
    path = f"/proc/{pid}/smaps_rollup" if pss else f"/proc/{pid}/status"
    key = "Pss:" if pss else "VmRSS:"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return rss_kb(pid) if pss else 0


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[0] == ppid:
                out.append(int(d))
    return out


def scrape(port, timeout=0.8):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            return r.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - a service being restarted simply has no metrics now
        return None


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            try:
                total += float(line.rsplit(None, 1)[1])
            except (IndexError, ValueError):
                pass
    return total


def machine_busy_ticks():
    """Busy CPU ticks of the whole machine since boot (/proc/stat: all but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    # guest and guest_nice (fields 8, 9) are already in user and nice.
    return sum(fields[:8]) - idle


PG_TOTALS = (
    "select coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0), "
    "coalesce(sum(total_plan_time), 0) from pg_stat_statements s join pg_database d "
    "on d.oid = s.dbid where d.datname = current_database(); "
    "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) from pg_stat_user_tables"
)


def pg_totals(url):
    """The bench database's statement totals (calls, exec ms, plan ms) and rows written so far."""
    try:
        out = subprocess.run(["psql", "-X", "-w", "-q", "-At", "-F", " ", url, "-c", PG_TOTALS],
                             capture_output=True, text=True, timeout=5,
                             env={**os.environ, "PGCONNECT_TIMEOUT": "3"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    nums = out.stdout.split()
    if out.returncode != 0 or len(nums) != 4:
        return None
    calls, exec_ms, plan_ms, rows = (float(x) for x in nums)
    return {"calls": calls, "exec_ms": exec_ms, "plan_ms": plan_ms, "rows": rows}


def cmd_sample(a):
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    pidfiles = dict(kv.split("=", 1) for kv in a.proc)
    ports = dict(kv.split("=", 1) for kv in a.metrics)
    t0 = time.monotonic()
    with open(a.out, "a") as out:
        n = 0
        while not stop["now"] and time.monotonic() - t0 < a.max_seconds:
            row = {"t": round(time.monotonic() - t0, 3), "wall": round(time.time(), 3),
                   "procs": {}, "metrics": {}, "machine_ticks": machine_busy_ticks()}
            if a.pg_url:
                row["pg"] = pg_totals(a.pg_url)
            for name, pidfile in pidfiles.items():
                pid = read_pidfile(pidfile)
                st = proc_stat(pid) if pid else None
                if st:
                    row["procs"][name] = {"pid": pid, "ticks": st[1], "rss_kb": rss_kb(pid)}
            if a.pg_pid:
                st = proc_stat(a.pg_pid)
                if st:
                    # The postmaster's own and reaped children's ticks plus the live children's:
                    # backends that come and go within the window still count. PSS, not RSS,
                    # so shared buffers are not counted once per backend.
                    ticks, kb = st[1] + st[2], rss_kb(a.pg_pid, pss=True)
                    for c in children_of(a.pg_pid):
                        cs = proc_stat(c)
                        if cs:
                            ticks += cs[1]
                            kb += rss_kb(c, pss=True)
                    row["procs"]["postgres"] = {"pid": a.pg_pid, "ticks": ticks, "rss_kb": kb}
            for name, port in ports.items():
                text = scrape(port)
                if text is None:
                    row["metrics"][name] = None
                    continue
                row["metrics"][name] = {
                    "outbox_backlog": metric_sum(text, "outbox_backlog"),
                    "consumer_pending": metric_sum(text, "consumer_pending"),
                    "consumer_ack_pending": metric_sum(text, "consumer_ack_pending"),
                    "tips_submitted": metric_sum(text, "tips_submitted_total"),
                }
            out.write(json.dumps(row) + "\n")
            out.flush()
            n += 1
            # Next whole interval since the start (no drift).
            delay = t0 + n * a.interval - time.monotonic()
            while delay > 0 and not stop["now"]:
                time.sleep(min(delay, 0.2))
                delay = t0 + n * a.interval - time.monotonic()


def cmd_backlog(a):
    """Prints the current backlog (outbox rows + undelivered consumer messages) summed over the
    services that answer."""
    total = 0.0
    for kv in a.metrics:
        text = scrape(kv.split("=", 1)[1], timeout=2)
        if text:
            total += metric_sum(text, "outbox_backlog") + metric_sum(text, "consumer_pending")
    print(f"{total:.0f}")


# ---------------------------------------------------------------------------------------------
# step / chaos
# ---------------------------------------------------------------------------------------------

def load_samples(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return rows


def backlog(row):
    total = 0.0
    for m in row["metrics"].values():
        if m:
            total += m["outbox_backlog"] + m["consumer_pending"]
    return total


def submitted(row):
    m = row["metrics"].get("governance")
    return m["tips_submitted"] if m else None


def load_window(samples):
    """Indices (first, last) of the samples bracketing the load phase: from the sample before
    governance's tips_submitted_total first moved to the last one where it moved."""
    if not samples:
        return None
    vals = [submitted(s) for s in samples]
    known = [(i, v) for i, v in enumerate(vals) if v is not None]
    if not known:
        return 0, len(samples) - 1
    moved = [known[k][0] for k in range(1, len(known)) if known[k][1] > known[k - 1][1]]
    if not moved:
        return 0, len(samples) - 1
    first = max(0, moved[0] - 1)
    return first, moved[-1]


def cpu_rss(samples, window):
    """CPU % of one core per process over the window; max RSS (MB) per process over all samples.
    A pid change (a restart) starts a new count for that process."""
    cpu, rss = {}, {}
    if not samples:
        return cpu, rss
    i0, i1 = window
    elapsed = samples[i1]["t"] - samples[i0]["t"]
    for name in PROCS:
        ticks, last = 0, None
        for s in samples[i0:i1 + 1]:
            p = s["procs"].get(name)
            if not p:
                continue
            if last and last["pid"] == p["pid"]:
                ticks += max(0, p["ticks"] - last["ticks"])
            elif last:
                ticks += p["ticks"]  # restarted within the window
            last = p
        if elapsed > 0 and any(name in s["procs"] for s in samples):
            cpu[name] = round(100.0 * ticks / CLK_TCK / elapsed, 1)
        kbs = [s["procs"][name]["rss_kb"] for s in samples if name in s["procs"]]
        if kbs:
            rss[name] = round(max(kbs) / 1024.0, 1)
    return cpu, rss


def load_report(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    # The JSON document is the whole stdout; be lenient about anything printed before it.
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except ValueError:
        return None


def split_duplicated(dups):
    double_awards = [d for d in dups if re.search(r"\(\d+ awards\)", d)]
    not_in_case = [d for d in dups if "does not hold it" in d]
    other = [d for d in dups if d not in double_awards and d not in not_in_case]
    return double_awards, not_in_case, other


def p(rep, key, field):
    v = rep.get(key) if rep else None
    return v.get(field) if isinstance(v, dict) else None


def report_fields(rep):
    lost = rep.get("lost", []) if rep else []
    dups = rep.get("duplicated", []) if rep else []
    double_awards, not_in_case, other = split_duplicated(dups)
    return {
        "achieved": rep.get("achieved_rate") if rep else None,
        "sent": rep.get("sent") if rep else None,
        "accepted": rep.get("accepted") if rep else None,
        "errors": rep.get("errors", {}) if rep else {},
        "error_count": sum((rep or {}).get("errors", {}).values()),
        "intake_p50": p(rep, "intake", "p50_ms"),
        "intake_p99": p(rep, "intake", "p99_ms"),
        "intake_max": p(rep, "intake", "max_ms"),
        "case_p99": p(rep, "to_case", "p99_ms"),
        "points_p99": p(rep, "to_points", "p99_ms"),
        "verified": bool(rep and rep.get("verified")),
        "lost": len(lost),
        "lost_no_case": sum(1 for x in lost if "(no case)" in x),
        "lost_no_award": sum(1 for x in lost if "(no award)" in x),
        "dup": len(dups),
        "double_awards": len(double_awards),
        "not_in_case": len(not_in_case),
        "dup_other": len(other),
        "lost_examples": lost[:10],
        "dup_examples": dups[:10],
    }


def cost_per_tip(samples, window):
    """What one tip cost over the load window: machine CPU ms, PostgreSQL statement ms (execution,
    planning), statements (each one round trip: the services do not pipeline) and rows written,
    each divided by the tips governance took in the window."""
    out = {}
    if not samples:
        return out
    i0, i1 = window
    t0, t1 = submitted(samples[i0]), submitted(samples[i1])
    tips = (t1 - t0) if t0 is not None and t1 is not None else None
    if not tips:
        return out
    m0, m1 = samples[i0].get("machine_ticks"), samples[i1].get("machine_ticks")
    if m0 is not None and m1 is not None:
        out["machine_cpu_ms"] = (m1 - m0) / os.sysconf("SC_CLK_TCK") * 1000 / tips
    # The nearest samples with database totals (a psql may have timed out).
    def pg_at(i, step):
        while 0 <= i < len(samples) and not samples[i].get("pg"):
            i += step
        return samples[i]["pg"] if 0 <= i < len(samples) else None
    p0, p1 = pg_at(i0, -1) or pg_at(i0, 1), pg_at(i1, 1) or pg_at(i1, -1)
    if p0 and p1:
        out["pg_exec_ms"] = (p1["exec_ms"] - p0["exec_ms"]) / tips
        out["pg_plan_ms"] = (p1["plan_ms"] - p0["plan_ms"]) / tips
        out["statements"] = (p1["calls"] - p0["calls"]) / tips
        out["rows_written"] = (p1["rows"] - p0["rows"]) / tips
    return out


def cmd_step(a):
    rep = load_report(a.loadtest)
    samples = load_samples(a.samples)
    window = load_window(samples) or (0, 0)
    cpu, rss = cpu_rss(samples, window)
    row = {"rate": a.rate, "rc": a.rc}
    row.update(report_fields(rep))
    row["cpu"], row["rss_mb"] = cpu, rss
    row["per_tip"] = cost_per_tip(samples, window)
    row["load_seconds"] = round(samples[window[1]]["t"] - samples[window[0]]["t"], 1) if samples else None
    backlogs = [backlog(s) for s in samples]
    row["backlog_max"] = max(backlogs) if backlogs else None
    row["backlog_end"] = backlogs[window[1]] if backlogs else None
    reasons = []
    if rep is None:
        reasons.append(f"no loadtest report (exit {a.rc}; see {os.path.basename(a.stderr)})")
    else:
        if not row["verified"]:
            reasons.append("not verified")
        if row["intake_p99"] is None or row["intake_p99"] > a.p99_max:
            reasons.append(f"intake p99 {fmt_ms(row['intake_p99'])} > {a.p99_max:g} ms")
        if row["error_count"]:
            reasons.append(f"{row['error_count']} errors")
        if row["lost"]:
            reasons.append(f"{row['lost']} lost")
        if row["dup"]:
            reasons.append(f"{row['dup']} duplicated")
        if row["achieved"] is not None and row["achieved"] < 0.95 * a.rate:
            reasons.append(f"achieved only {row['achieved']:.0f}/s")
    limit = a.backlog_seconds * a.rate
    if row["backlog_end"] is None:
        reasons.append("no backlog samples")
    elif row["backlog_end"] > limit:
        reasons.append(f"backlog {row['backlog_end']:.0f} > {limit:.0f} at end of load")
    row["pass"] = not reasons
    row["reasons"] = reasons
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    verdict = "PASS" if row["pass"] else "FAIL: " + "; ".join(reasons)
    print(f"rate {a.rate:g}/s: intake p50 {fmt_ms(row['intake_p50'])} p99 {fmt_ms(row['intake_p99'])}, "
          f"case p99 {fmt_ms(row['case_p99'])}, points p99 {fmt_ms(row['points_p99'])}, "
          f"lost {row['lost']}, dup {row['dup']}, backlog max {fmt_n(row['backlog_max'])} "
          f"end {fmt_n(row['backlog_end'])} -> {verdict}")
    return 0 if row["pass"] else 1


def cmd_chaos(a):
    rep = load_report(a.loadtest)
    samples = load_samples(a.samples)
    window = (0, len(samples) - 1) if samples else (0, 0)
    cpu, rss = cpu_rss(samples, window)
    events = []
    try:
        with open(a.events) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    events.append({"t": float(parts[0]), "what": parts[1], "detail": parts[2]})
    except OSError:
        pass
    sql = {}
    for kv in a.sql:
        k, v = kv.split("=", 1)
        try:
            sql[k] = int(v)
        except ValueError:
            sql[k] = v
    row = {"rate": a.rate, "duration": a.duration, "rc": a.rc, "events": events, "sql": sql,
           "cpu": cpu, "rss_mb": rss}
    row.update(report_fields(rep))
    backlogs = [backlog(s) for s in samples]
    row["backlog_max"] = max(backlogs) if backlogs else None
    checks = []
    if rep is None:
        checks.append(f"no loadtest report (exit {a.rc})")
    else:
        if not row["verified"]:
            checks.append("not verified")
        if row["lost"]:
            checks.append(f"{row['lost']} tips lost")
        if row["dup"]:
            checks.append(f"{row['dup']} duplicated")
    if isinstance(sql.get("double_awards"), int) and sql["double_awards"] > 0:
        checks.append(f"{sql['double_awards']} double awards (ledger)")
    if isinstance(sql.get("duplicated_cases"), int) and sql["duplicated_cases"] > 0:
        checks.append(f"{sql['duplicated_cases']} duplicated cases (ledger)")
    row["pass"] = not checks
    row["reasons"] = checks
    with open(a.out, "w") as f:
        json.dump(row, f, indent=1)
    print(f"chaos: accepted {row['accepted']}, errors {row['error_count']}, lost {row['lost']}, "
          f"duplicated {row['dup']} (double awards {row['double_awards']}), "
          f"ledger double awards {sql.get('double_awards')}, duplicated cases {sql.get('duplicated_cases')} -> "
          + ("PASS" if row["pass"] else "FAIL: " + "; ".join(checks)))
    return 0 if row["pass"] else 1


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "–"
    if v >= 10_000:
        return f"{v / 1000:.1f} s"
    return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def fmt_n(v):
    return "–" if v is None else f"{v:.0f}"


def read_jsonl(path):
    return load_samples(path)


def meta_dict(items):
    return dict(kv.split("=", 1) for kv in items)


def section(text, name):
    m = re.search(rf"<!-- bench:{name}:begin -->.*?<!-- bench:{name}:end -->", text, re.S)
    return m.group(0) if m else None


def ratio_of(rates_section):
    m = re.search(r"<!-- bench:ratio ([0-9.]+) -->", rates_section or "")
    return m.group(1) if m else None


def rates_markdown(rows, meta, svg_name):
    ceiling = float(meta.get("pgbench_tps") or 0)
    passing = [r for r in rows if r["pass"]]
    best = max((r["rate"] for r in passing), default=0)
    ratio = best / ceiling if ceiling > 0 else 0.0
    out = ["<!-- bench:rates:begin -->", "## Sustained verified intake rate", ""]
    out += run_header(meta)
    out += [
        "### One-commit-per-tip ceiling (pgbench)", "",
        f"**{ceiling:,.0f} transactions/s**"
        + (f" (median of three pgbench runs spread over the bench: {', '.join(f'{float(x):,.0f}' for x in meta['pgbench_runs'].split(','))}/s)"
           if meta.get("pgbench_runs") else "")
        + " on the same PostgreSQL "
        f"(`{meta.get('pg_version', '?')}`, synchronous_commit={meta.get('pg_sync_commit', '?')}, "
        f"fsync={meta.get('pg_fsync', '?')}): one transaction inserts a row shaped like "
        "`governance.tips` and one shaped like the kit's `outbox` (same columns and indexes, "
        "~200-byte description, ~300-byte payload) and commits. No `pg_notify`, no rate-limit "
        "lookup: only the two inserts and the commit every accepted tip costs.", "",
        f"    {meta.get('pgbench_cmd', '')}", "",
        "### Rate steps", "",
        f"Each step: `redsupply loadtest tips --rate R --duration {meta.get('duration', '?')} "
        f"--warmup {meta.get('warmup', '?')} --verify --json` (open loop; latency from each tip's "
        "intended send time). A step **passes** when intake p99 ≤ "
        f"{meta.get('p99_max', '50')} ms, no errors, achieved rate ≥ 95 % of target, every "
        "accepted tip has its case and exactly one award (0 lost, 0 duplicated), and the backlog "
        f"at the end of the load is at most {meta.get('backlog_seconds', '2')} s of arrivals "
        f"(≤ {meta.get('backlog_seconds', '2')} × rate events). Stepping stops at the first "
        "failing step.", "",
        "Backlog = Σ `outbox_backlog` (every service's unpublished outbox rows) + Σ "
        "`consumer_pending` (JetStream messages not yet delivered to each durable consumer), "
        "scraped once a second from the services' `/metrics`; the services refresh "
        "`consumer_pending` every 5 s, so it lags by up to that. *End of load* is the last "
        "sample in which governance's `tips_submitted_total` still rose. CPU is % of one core "
        "averaged over the load phase (utime+stime from `/proc/<pid>/stat`); RSS is the maximum "
        "of 1-s samples over the step (`VmRSS`; postgres: Σ PSS of the postmaster and all its "
        "children, so shared buffers count once). End-to-end p99: submit → case created "
        "(routed tips) / submit → award written.", "",
    ]
    head = ["rate/s", "achieved/s", "intake p50", "intake p99", "e2e p99 case", "e2e p99 award",
            "errors", "backlog max / end"]
    head += [f"{n} CPU · RSS" for n in PROCS]
    head += ["lost", "dup", "result"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        cells = [f"{r['rate']:g}", fmt_n(r.get("achieved")), fmt_ms(r.get("intake_p50")),
                 fmt_ms(r.get("intake_p99")), fmt_ms(r.get("case_p99")), fmt_ms(r.get("points_p99")),
                 str(r.get("error_count", 0)),
                 f"{fmt_n(r.get('backlog_max'))} / {fmt_n(r.get('backlog_end'))}"]
        for n in PROCS:
            c, m = r.get("cpu", {}).get(n), r.get("rss_mb", {}).get(n)
            cells.append("–" if c is None and m is None else
                         f"{'–' if c is None else f'{c:.0f} %'} · {'–' if m is None else f'{m:.0f} MB'}")
        cells += [str(r.get("lost")), str(r.get("dup")),
                  "pass" if r["pass"] else "fail: " + "; ".join(r.get("reasons", []))]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    if any(r.get("per_tip") for r in rows):
        out += ["### Cost per tip", "",
                "Over each step's load window, divided by the tips governance took in it: the "
                "whole machine's CPU (`/proc/stat`, every process: load tool, NATS, PostgreSQL, "
                "services), PostgreSQL's statement time in the bench database "
                "(`pg_stat_statements` with `track_planning`: execution and planning), its "
                "statements (each one round trip: the services do not pipeline), and the rows "
                "inserted, updated and deleted (`pg_stat_user_tables`).", "",
                "| rate/s | machine CPU ms | PG exec ms | PG plan ms | statements (round trips) | rows written |",
                "|---|---|---|---|---|---|"]
        def num(v, f):
            return "–" if v is None else format(v, f)
        for r in rows:
            c = r.get("per_tip") or {}
            out.append(f"| {r['rate']:g} | {num(c.get('machine_cpu_ms'), '.2f')} | "
                       f"{num(c.get('pg_exec_ms'), '.2f')} | {num(c.get('pg_plan_ms'), '.2f')} | "
                       f"{num(c.get('statements'), '.1f')} | {num(c.get('rows_written'), '.1f')} |")
        out.append("")
    errs = {}
    for r in rows:
        for k, v in (r.get("errors") or {}).items():
            errs.setdefault(k, []).append(f"{r['rate']:g}/s: {v}")
    if errs:
        out.append("Errors by gRPC code: " + "; ".join(f"`{k}` ({', '.join(v)})" for k, v in errs.items()))
        out.append("")
    idle = meta_dict([kv for kv in meta.get("idle_rss", "").split(",") if "=" in kv])
    if idle:
        out += ["### Idle RSS", "",
                "Each service's RSS (`VmRSS`) with the stack up, seeded and idle, before the first "
                "step (budget: ≤ 64 MB per service).", "",
                "| " + " | ".join(idle.keys()) + " |", "|" + "---|" * len(idle),
                "| " + " | ".join(f"{float(v):.1f} MB" for v in idle.values()) + " |", ""]
    out += [f"![intake and end-to-end latency against rate]({svg_name})", "",
            f"Highest rate held with every condition met: **{best:g} tips/s**; ceiling "
            f"{ceiling:,.0f}/s; ratio {ratio:.2f}.", "",
            f"<!-- bench:ratio {ratio:.2f} -->", "<!-- bench:rates:end -->"]
    return "\n".join(out), ratio


def run_header(meta):
    return [
        f"Run {meta.get('date', '?')} · {meta.get('machine', '?')} · commit `{meta.get('commit', '?')}` · "
        f"build `{meta.get('profile', '?')}` · NATS {meta.get('nats_version', '?')} (private, "
        "JetStream on disk) · events from the "
        + {"wal": "WAL (relay_source = wal)", "table": "outbox table (relay_source = table)"}.get(
            meta.get("relay_source", "table"), "?")
        + " · database `" + meta.get("database", "?") + "`", "",
    ]


def chaos_markdown(c, meta, cluster=False):
    name = "chaos-cluster" if cluster else "chaos"
    out = [f"<!-- bench:{name}:begin -->",
           "## Chaos run on the cluster" if cluster else "## Chaos run", ""]
    out += run_header(meta)
    if cluster:
        out += [
            f"`scripts/bench --chaos --cluster`: {c['duration']:g} s at {c['rate']:g} tips/s with "
            f"`--verify` (verify timeout {meta.get('verify_timeout', '?')} s) on the production "
            "shape: a three-node JetStream cluster (every stream R3) and two replicas of each "
            "service, the load spread over both governance replicas (a tip refused as UNAVAILABLE "
            "goes once more to the other, with the same request_id). A replica of governance is "
            "killed (SIGKILL) and started again, the node leading the tips' stream is killed and "
            "brought back 20 s later, the private PostgreSQL is restarted (`pg_ctl stop -m fast`, "
            "start), and a replica of stations is killed and started again. Times are seconds "
            "since the load generator started.", "",
        ]
    else:
        out += [
            f"`scripts/bench --chaos`: {c['duration']:g} s at {c['rate']:g} tips/s with `--verify` "
            f"(verify timeout {meta.get('verify_timeout', '?')} s) while each service is killed with "
            "SIGKILL once and started again (`scripts/dev start`), and the private `nats-server` is "
            f"restarted twice ({meta.get('nats_signal', 'SIGTERM')}, then started on the same JetStream store), "
            "and PostgreSQL is restarted once (`pg_ctl stop -m fast`, then started: every connection "
            "and every relay's replication session cut). Times are seconds "
            "since the load generator started.", "",
        ]
    out += ["| t (s) | event | detail |", "|---|---|---|"]
    for e in c["events"]:
        out.append(f"| {e['t']:.1f} | {e['what']} | {e['detail']} |")
    sql = c.get("sql", {})
    out += ["", "| metric | value |", "|---|---|"]
    rows = [
        ("result", "**pass**" if c["pass"] else "**fail**: " + "; ".join(c["reasons"])),
        ("sent / accepted", f"{c.get('sent')} / {c.get('accepted')}"),
        ("errors (not accepted; the client saw them)",
         ", ".join(f"{k}: {v}" for k, v in (c.get("errors") or {}).items()) or "0"),
        ("tips lost (accepted, no case or no award)",
         f"{c['lost']} (no case {c['lost_no_case']}, no award {c['lost_no_award']})"),
        ("duplicated (loadtest)", f"{c['dup']} (more than one award {c['double_awards']}, "
                                  f"case does not hold the tip {c['not_in_case']})"),
        ("double awards (ledger: a tip's award written twice)", str(sql.get("double_awards", "–"))),
        ("duplicated cases (cases no tip points to: a tip dispatched twice)",
         str(sql.get("duplicated_cases", "–"))),
        ("tips still `received` after verify", str(sql.get("tips_received", "–"))),
        ("dead letters (all services)", str(sql.get("dead_letters", "–"))),
        ("intake p50 / p99 / max", f"{fmt_ms(c.get('intake_p50'))} / {fmt_ms(c.get('intake_p99'))} / "
                                   f"{fmt_ms(c.get('intake_max'))}"),
        ("e2e p99 case / award", f"{fmt_ms(c.get('case_p99'))} / {fmt_ms(c.get('points_p99'))}"),
        ("backlog max", fmt_n(c.get("backlog_max"))),
    ]
    for k, v in rows:
        out.append(f"| {k} | {v} |")
    if c.get("lost_examples") or c.get("dup_examples"):
        out += ["", "First lost / duplicated tips:", ""]
        out += [f"- lost {x}" for x in c.get("lost_examples", [])]
        out += [f"- duplicated {x}" for x in c.get("dup_examples", [])]
    out += ["", f"<!-- bench:{name}:end -->"]
    return "\n".join(out)


def svg_plot(rows, meta):
    W, H, L, R, T, B = 720, 420, 70, 170, 40, 50
    pw, ph = W - L - R, H - T - B
    series = [("intake p50", "intake_p50", "#1f77b4"), ("intake p99", "intake_p99", "#d62728"),
              ("e2e p99 case", "case_p99", "#2ca02c"), ("e2e p99 award", "points_p99", "#9467bd")]
    rates = [r["rate"] for r in rows] or [1]
    xmax = max(rates) * 1.08
    vals = [r[k] for r in rows for _, k, _ in series if r.get(k)]
    p99_max = float(meta.get("p99_max", 50))
    lo = 10 ** math.floor(math.log10(max(min(vals + [p99_max]), 0.1)))
    hi = 10 ** math.ceil(math.log10(max(vals + [p99_max]) * 1.01))
    if hi <= lo:
        hi = lo * 10

    def x(v):
        return L + pw * v / xmax

    def y(v):
        v = max(v, lo)
        return T + ph * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    e = html.escape
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="14" font-weight="bold">Red Supply tip intake: latency '
         f'against rate · build: {e(meta.get("profile", "?"))}</text>']
    d = hi
    while d >= lo:  # decades and their 2x, 5x
        for m in (1, 2, 5):
            v = d * m / 10 if m != 1 else d
            if lo <= v <= hi:
                s.append(f'<line x1="{L}" x2="{L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                         f'stroke="{"#ccc" if m == 1 else "#eee"}"/>')
                s.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        d /= 10
    step = 10 ** math.floor(math.log10(xmax)) if xmax > 0 else 1
    if xmax / step < 4:
        step /= 2
    v = 0.0
    while v <= xmax:
        s.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{T}" y2="{T + ph}" stroke="#eee"/>')
        s.append(f'<text x="{x(v):.1f}" y="{T + ph + 16}" text-anchor="middle">{v:g}</text>')
        v += step
    s.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    s.append(f'<text x="{L + pw / 2}" y="{H - 10}" text-anchor="middle">target rate (tips/s)</text>')
    s.append(f'<text x="16" y="{T + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {T + ph / 2})">'
             'latency (ms, log scale)</text>')
    s.append(f'<line x1="{L}" x2="{L + pw}" y1="{y(p99_max):.1f}" y2="{y(p99_max):.1f}" '
             'stroke="#d62728" stroke-dasharray="6 4"/>')
    s.append(f'<text x="{L + pw - 4}" y="{y(p99_max) - 4:.1f}" text-anchor="end" fill="#d62728">'
             f'intake p99 limit {p99_max:g} ms</text>')
    passing = [r["rate"] for r in rows if r["pass"]]
    if passing:
        bx = x(max(passing))
        s.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{T}" y2="{T + ph}" stroke="#555" '
                 'stroke-dasharray="2 3"/>')
        s.append(f'<text x="{bx + 4:.1f}" y="{T + 14}" fill="#555">sustained {max(passing):g}/s</text>')
    for i, (label, key, color) in enumerate(series):
        pts = [(r["rate"], r[key], r["pass"]) for r in rows if r.get(key)]
        if len(pts) > 1:
            s.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b, _ in pts) + '"/>')
        for a, b, ok in pts:
            s.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="4" stroke="{color}" stroke-width="2" '
                     f'fill="{color if ok else "white"}"><title>{e(label)} at {a:g}/s: {b:.2f} ms'
                     f'{"" if ok else " (step failed)"}</title></circle>')
        ly = T + 10 + i * 20
        s.append(f'<line x1="{L + pw + 14}" x2="{L + pw + 34}" y1="{ly}" y2="{ly}" stroke="{color}" '
                 'stroke-width="2"/>')
        s.append(f'<text x="{L + pw + 40}" y="{ly + 4}">{e(label)}</text>')
    ly = T + 10 + len(series) * 20
    s.append(f'<circle cx="{L + pw + 24}" cy="{ly}" r="4" stroke="#333" stroke-width="2" fill="white"/>')
    s.append(f'<text x="{L + pw + 40}" y="{ly + 4}">failed step</text>')
    if meta.get("pgbench_tps"):
        s.append(f'<text x="{L + pw + 14}" y="{ly + 28}">pgbench ceiling:</text>')
        s.append(f'<text x="{L + pw + 14}" y="{ly + 44}">{float(meta["pgbench_tps"]):,.0f} commits/s</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def cmd_report(a):
    meta = meta_dict(a.meta)
    try:
        with open(a.results) as f:
            old = f.read()
    except OSError:
        old = ""
    rates_sec, chaos_sec = section(old, "rates"), section(old, "chaos")
    cluster_sec = section(old, "chaos-cluster")
    # Written by hand (comparisons of runs): kept as it is.
    notes_sec = section(old, "notes")
    if a.rates is not None:
        rows = read_jsonl(a.rates)
        rates_sec, _ = rates_markdown(rows, meta, os.path.basename(a.svg))
        with open(a.svg, "w") as f:
            f.write(svg_plot(rows, meta))
    if a.chaos is not None:
        with open(a.chaos) as f:
            if a.cluster:
                cluster_sec = chaos_markdown(json.load(f), meta, cluster=True)
            else:
                chaos_sec = chaos_markdown(json.load(f), meta)
    ratio = ratio_of(rates_sec)
    parts = ["# Red Supply benchmark", "",
             "Written by `scripts/bench` (rates and ceiling) and `scripts/bench --chaos` (chaos run); "
             "each run rewrites its own section and keeps the other. Raw data of the last runs: "
             "`bench/out/` (not committed).", ""]
    if rates_sec:
        parts += [rates_sec, ""]
    if chaos_sec:
        parts += [chaos_sec, ""]
    if cluster_sec:
        parts += [cluster_sec, ""]
    if notes_sec:
        parts += [notes_sec, ""]
    parts.append(f"ratio: {ratio}" if ratio else "ratio: n/a (no rate run yet: run scripts/bench)")
    with open(a.results, "w") as f:
        f.write("\n".join(parts) + "\n")
    print(parts[-1])
    return 0


def feed_markdown(rep, rc, label, meta):
    name = f"feed-{label}"
    out = [f"<!-- bench:{name}:begin -->", f"## {label}", ""]
    out += run_header(meta)
    out.append(f"Binary `{meta.get('binary', '?')}`; `redsupply loadtest feed` exit {rc}.")
    out.append("")
    if not rep:
        out += ["No report (see the run's feed.err).", "", f"<!-- bench:{name}:end -->"]
        return "\n".join(out)
    idle, d = rep["idle"], rep["delivery"]
    out += [
        f"Idle cost, counted as {idle['source']} per second over the whole database:", "",
        "| open streams | per second | per stream |", "|---|---|---|",
        f"| none | {idle['no_stream_per_s']:.1f} | |",
        f"| one | {idle['one_stream_per_s']:.1f} | {idle['per_stream_one']:.2f} |",
        f"| {rep['watchers']} | {idle['all_streams_per_s']:.1f} | {idle['per_stream_all']:.2f} |",
        "",
        f"Load: {rep['watchers']} watchers, one grid each; case changes (UpdateCase note updates) at "
        f"{rep['target_rate']:g}/s; {rep['updates_sent']} sent, {rep['updates_ok']} answered "
        f"({rep['achieved_rate']:.1f}/s), {rep['update_errors']} errors.", "",
        f"Delivered {rep['delivered']} ({rep['delivered_per_s']:.1f}/s): missing {rep['missing']}, "
        f"duplicated {rep['duplicated']}, misrouted {rep['misrouted']}.", "",
        "| update answered → message (ms) | p50 | p90 | p99 | p99.9 | max |", "|---|---|---|---|---|---|",
        f"| | {fmt_ms(d['p50_ms'])} | {fmt_ms(d['p90_ms'])} | {fmt_ms(d['p99_ms'])} | "
        f"{fmt_ms(d['p999_ms'])} | {fmt_ms(d['max_ms'])} |",
        "", f"<!-- bench:{name}:end -->",
    ]
    return "\n".join(out)


def cmd_feed(a):
    meta = meta_dict(a.meta)
    try:
        with open(a.report) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = None
    try:
        with open(a.out) as f:
            old = f.read()
    except OSError:
        old = ""
    new_sec = feed_markdown(rep, a.rc, a.label, meta)
    labels = re.findall(r"<!-- bench:feed-([a-z0-9_-]+):begin -->", old)
    if a.label not in labels:
        labels.append(a.label)
    parts = ["# WatchCases feed benchmark", "",
             "Written by `scripts/bench --feed` (FEED_LABEL names the section; a run rewrites its own "
             "section and keeps the others). Raw data: `bench/out/` (not committed).", ""]
    for label in labels:
        parts += [new_sec if label == a.label else section(old, f"feed-{label}"), ""]
    with open(a.out, "w") as f:
        f.write("\n".join(parts))
    if rep:
        print(f"feed {a.label}: {rep['delivered_per_s']:.1f} messages/s delivered, p99 "
              f"{rep['delivery']['p99_ms']:.1f} ms, missing {rep['missing']}; idle "
              f"{rep['idle']['per_stream_all']:.2f}/s per stream")
    return 0 if rep and a.rc == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--max-seconds", type=float, default=3600)
    s.add_argument("--proc", action="append", default=[], help="NAME=PIDFILE")
    s.add_argument("--pg-pid", type=int, default=0, help="the postmaster's pid")
    s.add_argument("--pg-url", default="", help="the bench database (statement and row totals)")
    s.add_argument("--metrics", action="append", default=[], help="NAME=PORT")
    s = sub.add_parser("backlog")
    s.add_argument("--metrics", action="append", default=[], help="NAME=PORT")
    s = sub.add_parser("step")
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--loadtest", required=True)
    s.add_argument("--stderr", default="")
    s.add_argument("--rc", type=int, default=0)
    s.add_argument("--samples", required=True)
    s.add_argument("--p99-max", type=float, default=50.0)
    s.add_argument("--backlog-seconds", type=float, default=2.0)
    s.add_argument("--out", required=True)
    s = sub.add_parser("chaos")
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--loadtest", required=True)
    s.add_argument("--rc", type=int, default=0)
    s.add_argument("--samples", required=True)
    s.add_argument("--events", required=True)
    s.add_argument("--sql", action="append", default=[], help="KEY=VALUE")
    s.add_argument("--out", required=True)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--svg", required=True)
    s.add_argument("--rates")
    s.add_argument("--chaos")
    s.add_argument("--cluster", action="store_true", help="the chaos run was on the cluster")
    s.add_argument("--meta", action="append", default=[], help="KEY=VALUE")
    s = sub.add_parser("feed")
    s.add_argument("--report", required=True)
    s.add_argument("--rc", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--label", default="current")
    s.add_argument("--meta", action="append", default=[], help="KEY=VALUE")
    a = ap.parse_args()
    return {"sample": cmd_sample, "backlog": cmd_backlog, "step": cmd_step, "chaos": cmd_chaos,
            "report": cmd_report, "feed": cmd_feed}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
